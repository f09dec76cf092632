package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
	terraformFlags
	pprofFlags
	prometheusFlags
}

type terraformFlags struct {
	TerraformPath        string        `help:"Terraform or OpenTofu binary (default: terraform, then tofu, on PATH)." env:"BERTH_TERRAFORM_PATH"`
	TerraformMirror      string        `help:"Provider filesystem mirror (make terraform builds one with the coder provider in bin/terraform-providers); providers in it are never downloaded." env:"BERTH_TERRAFORM_MIRROR"`
	TerraformPluginCache string        `help:"Shared Terraform plugin cache (default: <user cache dir>/berth/terraform-plugins; \"off\" disables it)." env:"BERTH_TERRAFORM_PLUGIN_CACHE"`
	TerraformGrace       time.Duration `help:"Time a canceled Terraform command gets between SIGINT and SIGKILL." default:"60s" env:"BERTH_TERRAFORM_GRACE"`
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
	return terraform.New(terraform.Options{
		Binary: f.TerraformPath, Mirror: f.TerraformMirror, PluginCacheDir: cache, ConfigDir: workDir, Grace: f.TerraformGrace,
	})
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
			Metrics: jobMetrics, Listening: &listening,
		})
	})
	return grp.Wait()
}
