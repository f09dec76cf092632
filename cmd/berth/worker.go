package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/metrics"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/echo"
	"github.com/berth-dev/berth/provisioner/terraform"
	"github.com/berth-dev/berth/worker"
	"github.com/berth-dev/berth/workflows"
)

type workerCmd struct {
	dbFlags
	temporalFlags
	Organization      string            `help:"Organization (name or ID) whose jobs this worker runs." default:"default" env:"BERTH_ORGANIZATION"`
	Tag               map[string]string `help:"Provisioner tag key=value (repeatable)." env:"BERTH_TAGS"`
	Provisioner       []string          `help:"Provisioner types to run (terraform is left out, with a warning, when no Terraform binary is found)." default:"echo,terraform" enum:"echo,terraform" env:"BERTH_PROVISIONERS"`
	Name              string            `help:"Daemon name shown in the API (default: hostname)." env:"BERTH_WORKER_NAME"`
	MaxConcurrentJobs int               `help:"Provisioner jobs run at once." default:"16" env:"BERTH_MAX_CONCURRENT_JOBS"`
	WorkDir           string            `help:"Directory for job working directories (default: the system temp dir)." env:"BERTH_WORK_DIR"`
	AccessURL         string            `help:"URL workspace agents reach the API at (CODER_AGENT_URL for templates)." env:"BERTH_ACCESS_URL"`
	BuildResumptions  int               `help:"How often a build whose worker was lost resumes on another worker from its last checkpoint before it fails (0: never). Give servers the same value." default:"2" env:"BERTH_BUILD_RESUMPTIONS"`
	terraformFlags
	pprofFlags
	prometheusFlags
}

type terraformFlags struct {
	TerraformPath        string        `help:"Terraform or OpenTofu binary (default: terraform, then tofu, on PATH)." env:"BERTH_TERRAFORM_PATH"`
	TerraformMirror      string        `help:"Provider filesystem mirror (make terraform builds one with the coder provider in bin/terraform-providers); providers in it are never downloaded." env:"BERTH_TERRAFORM_MIRROR"`
	TerraformPluginCache string        `help:"Shared Terraform plugin cache (default: <user cache dir>/berth/terraform-plugins; \"off\" disables it)." env:"BERTH_TERRAFORM_PLUGIN_CACHE"`
	TerraformGrace       time.Duration `help:"Time a canceled Terraform command gets between SIGINT and SIGKILL." default:"60s" env:"BERTH_TERRAFORM_GRACE"`
	TerraformUser        string        `help:"Run Terraform as this user (name or uid[:gid]); the worker must run as root. Templates then cannot read the worker's memory, environment or files." env:"BERTH_TERRAFORM_USER"`
	TerraformEnvAllow    []string      `help:"Worker environment variables templates may see beyond the defaults (PATH, HOME, LANG, LC_*, TZ, proxies, TF_*…): names, or prefixes ending in * (e.g. AWS_*)." env:"BERTH_TERRAFORM_ENV_ALLOW"`
}

// provisioner sets up the terraform provisioner.
func (f terraformFlags) provisioner(workDir string) (*terraform.Provisioner, error) {
	cache := f.TerraformPluginCache
	switch cache {
	case "off":
		cache = ""
	case "":
		if dir, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(dir, "berth", "terraform-plugins")
		}
	}
	cred, err := lookupCredential(f.TerraformUser)
	if err != nil {
		return nil, err
	}
	return terraform.New(terraform.Options{
		Binary: f.TerraformPath, Mirror: f.TerraformMirror, PluginCacheDir: cache, ConfigDir: workDir, Grace: f.TerraformGrace,
		EnvAllow: f.TerraformEnvAllow, User: cred,
	})
}

// lookupCredential resolves --terraform-user: a user name, or uid[:gid].
func lookupCredential(ref string) (*terraform.Credential, error) {
	if ref == "" {
		return nil, nil
	}
	var uidS, gidS string
	if u, err := user.Lookup(ref); err == nil {
		uidS, gidS = u.Uid, u.Gid
	} else {
		var ok bool
		if uidS, gidS, ok = strings.Cut(ref, ":"); !ok {
			gidS = uidS
		}
	}
	uid, err := strconv.ParseUint(uidS, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("--terraform-user %q: not a user nor a uid", ref)
	}
	gid, err := strconv.ParseUint(gidS, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("--terraform-user %q: bad gid", ref)
	}
	return &terraform.Credential{UID: uint32(uid), GID: uint32(gid)}, nil
}

// secretEnv are the worker's settings that hold credentials.
var secretEnv = []string{"BERTH_POSTGRES_URL", "DATABASE_URL", "TEMPORAL_API_KEY", "TEMPORAL_TLS_CLIENT_KEY_DATA",
	"TEMPORAL_TLS_CLIENT_CERT_DATA", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"}

// protectSecrets keeps the worker's credentials from the templates it
// runs: they leave its environment once read (no child inherits them) and
// the process becomes non-dumpable, so a same-user Terraform cannot read
// /proc/<worker>/environ or its memory.
func protectSecrets(log *slog.Logger, runsAsOther bool) {
	for _, name := range secretEnv {
		_ = os.Unsetenv(name)
	}
	if err := provisioner.ProtectProcess(); err != nil {
		log.Warn("could not make the worker non-dumpable; templates may read its environment", "err", err)
	}
	if os.Geteuid() == 0 && !runsAsOther {
		log.Warn("the worker runs as root and Terraform with it: templates can read the worker's secrets; set --terraform-user")
	}
}

func (w *workerCmd) Run(ctx context.Context, g *globals) error {
	log := g.log.With("component", "worker")
	bdb, err := w.open(ctx)
	if err != nil {
		return err
	}
	defer bdb.Close()
	obs, err := newObservability(ctx, "berth-worker")
	if err != nil {
		return err
	}
	defer obs.close()
	tc, err := w.dial(ctx, log, obs)
	if err != nil {
		return err
	}
	defer tc.Close()
	protectSecrets(log, w.TerraformUser != "")
	metrics.DBStats(obs.reg, bdb.DB)
	jobMetrics := metrics.NewJobs(obs.reg)
	var listening atomic.Bool
	ready := readiness(bdb, tc, listening.Load)
	provs := map[string]provisioner.Provisioner{}
	for _, p := range w.Provisioner {
		switch p {
		case "echo":
			provs[p] = echo.New()
		case terraform.Name:
			tf, err := w.provisioner(w.WorkDir)
			if err != nil {
				log.Warn("terraform provisioner disabled", "err", err)
				continue
			}
			defer tf.Close()
			log.Info("terraform provisioner ready", "binary", tf.Binary(), "mirror", w.TerraformMirror)
			provs[p] = tf
		}
	}
	if len(provs) == 0 {
		return errors.New("no provisioner available to run")
	}
	grp, gctx := errgroup.WithContext(ctx)
	grp.Go(func() error { return w.servePprof(gctx, log) })
	grp.Go(func() error { return w.prometheusFlags.serve(gctx, log, obs, ready) })
	grp.Go(func() error {
		return worker.Run(gctx, worker.Options{
			Temporal: tc, Store: db.NewStore(bdb), Queues: workflows.Queues{Prefix: w.QueuePrefix},
			Organization: w.Organization, Tags: w.Tag, Provisioners: provs, Name: w.Name, Version: version,
			Log: log, WorkDir: w.WorkDir, MaxConcurrentJobs: w.MaxConcurrentJobs, AccessURL: w.AccessURL,
			BuildResumptions: resumptions(w.BuildResumptions),
			Metrics:          jobMetrics, Listening: &listening,
		})
	})
	return grp.Wait()
}

// resumptions turns --build-resumptions into worker.Options' convention,
// where 0 is the default and a negative value means never.
func resumptions(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
