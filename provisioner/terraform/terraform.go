// Package terraform implements the terraform provisioner: it runs the
// Terraform (or OpenTofu) CLI in a job's directory to import templates and
// build workspaces that use the coder provider, as Coder does.
//
// Providers are installed from a local filesystem mirror when one is
// configured (offline use), otherwise from their registries. Every command
// runs with -no-color -input=false, TF_IN_AUTOMATION=1 and
// CHECKPOINT_DISABLE=1; the worker's own CODER_*, BERTH_*, TEMPORAL_* and
// DATABASE_URL variables never reach Terraform.
package terraform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berth-dev/berth/provisioner"
)

// Name is the provisioner type this package implements.
const Name = "terraform"

// DefaultGrace is how long a canceled command gets between SIGINT and
// SIGKILL.
const DefaultGrace = 60 * time.Second

// Files the provisioner writes into a job directory.
const (
	stateFile    = "terraform.tfstate"
	planFile     = "berth.tfplan"
	planJSONFile = "berth.tfplan.json"
)

// Options configures a Provisioner.
type Options struct {
	// Binary is the terraform (or tofu) executable. Empty: FindBinary.
	Binary string
	// Mirror is a filesystem mirror of providers (its layout is
	// <host>/<namespace>/<type>/<version>/<os>_<arch>/…). When set, the
	// providers found in it are installed only from it; others come from
	// their registries.
	Mirror string
	// PluginCacheDir is shared by every job (TF_PLUGIN_CACHE_DIR); empty
	// disables the cache.
	PluginCacheDir string
	// ConfigDir is where the CLI configuration for the mirror is written.
	ConfigDir string
	// Grace is the time between SIGINT and SIGKILL when a job is canceled
	// (default DefaultGrace).
	Grace time.Duration
	// EnvAllow names worker environment variables templates may see beyond
	// the defaults (DefaultEnvAllow): exact names, or prefixes ending in *
	// (e.g. AWS_*). Nothing else of the worker's environment reaches
	// Terraform.
	EnvAllow []string
	// User, when set, runs Terraform (and what templates start) as this
	// user and group, which cannot read the worker's memory, environment
	// or files. The worker must run as root to switch; job directories are
	// handed to the user before each command.
	User *Credential
	// CheckpointPoll is how often a running apply's state file is checked
	// for a new version to report as a checkpoint (default
	// DefaultCheckpointPoll).
	CheckpointPoll time.Duration
}

// Credential is the user and group Terraform runs as.
type Credential struct {
	UID, GID uint32
}

// DefaultEnvAllow is the worker environment every template sees: the
// system basics, proxies and Terraform's own TF_ settings (but for those
// the provisioner sets).
var DefaultEnvAllow = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR", "TERM",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"TF_*",
}

// envAllowed reports whether name matches one of the patterns.
func envAllowed(name string, patterns ...[]string) bool {
	for _, ps := range patterns {
		for _, p := range ps {
			if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, prefix) || p == name {
				return true
			}
		}
	}
	return false
}

// Provisioner is the terraform provisioner. It is safe for concurrent use
// by many jobs, each in its own directory.
type Provisioner struct {
	binary  string
	mirror  string
	rcFile  string // the CLI configuration New wrote, if any
	grace   time.Duration
	poll    time.Duration
	baseEnv []string
	// cacheLock, when a plugin cache is used, is a file in it that init
	// holds locked: Terraform does not support concurrent writers to the
	// cache, and jobs of this and other worker processes share it.
	cacheLock string
	user      *Credential
}

var _ provisioner.Provisioner = (*Provisioner)(nil)

// New checks the options, writes the CLI configuration for the mirror and
// returns a provisioner.
func New(opts Options) (*Provisioner, error) {
	p := &Provisioner{binary: opts.Binary, mirror: opts.Mirror, grace: opts.Grace, user: opts.User}
	if p.grace <= 0 {
		p.grace = DefaultGrace
	}
	p.poll = opts.CheckpointPoll
	if p.poll <= 0 {
		p.poll = DefaultCheckpointPoll
	}
	if p.binary == "" {
		b, err := FindBinary()
		if err != nil {
			return nil, err
		}
		p.binary = b
	}
	if _, err := exec.LookPath(p.binary); err != nil {
		return nil, fmt.Errorf("terraform binary: %w", err)
	}
	env := []string{"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"}
	if opts.PluginCacheDir != "" {
		if err := os.MkdirAll(opts.PluginCacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("terraform plugin cache: %w", err)
		}
		env = append(env, "TF_PLUGIN_CACHE_DIR="+opts.PluginCacheDir)
		p.cacheLock = filepath.Join(opts.PluginCacheDir, ".berth-init.lock")
	}
	if opts.Mirror != "" {
		rc, err := writeCLIConfig(opts.Mirror, opts.ConfigDir)
		if err != nil {
			return nil, err
		}
		env = append(env, "TF_CLI_CONFIG_FILE="+rc)
		p.rcFile = rc
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		// Only what is allowed: the worker's own settings (database and
		// Temporal credentials among them) are not the template's business.
		if !envAllowed(name, DefaultEnvAllow, opts.EnvAllow) ||
			name == "TF_IN_AUTOMATION" || name == "CHECKPOINT_DISABLE" ||
			(opts.PluginCacheDir != "" && name == "TF_PLUGIN_CACHE_DIR") ||
			(opts.Mirror != "" && name == "TF_CLI_CONFIG_FILE") ||
			(p.user != nil && name == "HOME") {
			continue
		}
		env = append(env, kv)
	}
	if p.user != nil {
		// The user's own files: the CLI configuration and the plugin cache.
		for _, path := range []string{p.rcFile, opts.PluginCacheDir} {
			if err := p.own(path); err != nil {
				return nil, err
			}
		}
	}
	p.baseEnv = env
	return p, nil
}

// FindBinary returns $BERTH_TERRAFORM_PATH, else terraform or tofu on PATH.
func FindBinary() (string, error) {
	if b := os.Getenv("BERTH_TERRAFORM_PATH"); b != "" {
		return exec.LookPath(b)
	}
	for _, name := range []string{"terraform", "tofu"} {
		if b, err := exec.LookPath(name); err == nil {
			return b, nil
		}
	}
	return "", errors.New("no terraform or tofu binary on PATH; install one or set BERTH_TERRAFORM_PATH (make terraform builds Terraform 1.5.7 into bin/)")
}

// Close removes the files New wrote.
func (p *Provisioner) Close() error {
	if p.rcFile == "" {
		return nil
	}
	if err := os.Remove(p.rcFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Binary is the executable the provisioner runs.
func (p *Provisioner) Binary() string { return p.binary }

// writeCLIConfig writes a CLI configuration that installs the providers
// found in mirror from it only, and everything else directly.
func writeCLIConfig(mirror, dir string) (string, error) {
	mirror, err := filepath.Abs(mirror)
	if err != nil {
		return "", err
	}
	var provs []string
	hosts, err := os.ReadDir(mirror)
	if err != nil {
		return "", fmt.Errorf("terraform provider mirror: %w", err)
	}
	for _, h := range hosts {
		namespaces, _ := os.ReadDir(filepath.Join(mirror, h.Name()))
		for _, ns := range namespaces {
			types, _ := os.ReadDir(filepath.Join(mirror, h.Name(), ns.Name()))
			for _, t := range types {
				provs = append(provs, fmt.Sprintf("%q", h.Name()+"/"+ns.Name()+"/"+t.Name()))
			}
		}
	}
	if len(provs) == 0 {
		return "", fmt.Errorf("terraform provider mirror %s holds no providers", mirror)
	}
	sort.Strings(provs)
	list := strings.Join(provs, ", ")
	conf := fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = [%s]
  }
  direct {
    exclude = [%s]
  }
}
`, mirror, list, list)
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "berth-terraform-*.rc")
	if err != nil {
		return "", fmt.Errorf("write terraform CLI config: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(conf); err != nil {
		return "", fmt.Errorf("write terraform CLI config: %w", err)
	}
	return f.Name(), f.Close()
}

// InitStage is the log stage of Init, as Coder names it.
func (*Provisioner) InitStage() string { return "Initializing Terraform Directory" }

// depLockFile is the dependency lock file templates often carry.
const depLockFile = ".terraform.lock.hcl"

// Init runs terraform init. With a mirror, the template's lock file is
// set aside: it records the registry's checksums, which a locally built
// provider never matches.
func (p *Provisioner) Init(ctx context.Context, dir string, sink provisioner.Sink) error {
	if p.mirror != "" {
		switch err := os.Remove(filepath.Join(dir, depLockFile)); {
		case err == nil:
			sink.Log(provisioner.Log{Level: provisioner.LevelWarn, Output: fmt.Sprintf(
				"Ignoring %s: providers come from this worker's local mirror, whose checksums differ from the registry's.", depLockFile)})
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("remove %s: %w", depLockFile, err)
		}
	}
	if p.cacheLock != "" {
		unlock, err := lockFile(ctx, p.cacheLock)
		if err != nil {
			return fmt.Errorf("lock terraform plugin cache: %w", err)
		}
		defer unlock()
	}
	return p.run(ctx, dir, p.baseEnv, sink, false, "init", "-no-color", "-input=false")
}

// Parse reads the root module's variables and README.
func (p *Provisioner) Parse(ctx context.Context, dir string, _ provisioner.Sink) (*provisioner.ParseResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return parse(dir)
}

// Plan runs terraform plan for in.Transition (with -destroy for delete)
// after writing in.State as the current state (or, resuming, the state the
// interrupted apply had persisted), and reports what it would create and
// the template's parameters.
func (p *Provisioner) Plan(ctx context.Context, dir string, in provisioner.PlanInput, sink provisioner.Sink) (*provisioner.PlanResult, error) {
	state := in.State
	if in.Resume != nil && len(in.Resume.State) > 0 {
		state = in.Resume.State
	}
	if len(state) > 0 {
		if err := os.WriteFile(filepath.Join(dir, stateFile), state, 0o600); err != nil {
			return nil, fmt.Errorf("write terraform state: %w", err)
		}
	}
	env := p.env(in)
	args := []string{"plan", "-json", "-no-color", "-input=false", "-refresh=true", "-out=" + planFile}
	if in.Transition == provisioner.TransitionDelete {
		args = append(args, "-destroy")
	}
	varFile, err := writeVarFile(dir, in.Variables)
	if err != nil {
		return nil, err
	}
	if varFile != "" {
		args = append(args, "-var-file="+varFile)
	}
	runErr := p.run(ctx, dir, env, sink, true, args...)
	if varFile != "" {
		// The plan file holds the values apply needs.
		_ = os.Remove(filepath.Join(dir, varFile))
	}
	if runErr != nil {
		return nil, runErr
	}
	raw, err := p.output(ctx, dir, env, sink, "show", "-json", "-no-color", planFile)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, planJSONFile), raw, 0o600); err != nil {
		return nil, fmt.Errorf("keep terraform plan: %w", err)
	}
	plan, err := decodeShow(raw)
	if err != nil {
		return nil, err
	}
	params, err := plan.parameters()
	if err != nil {
		return nil, err
	}
	presets, err := plan.presets()
	if err != nil {
		return nil, err
	}
	return &provisioner.PlanResult{
		Resources:    plan.resources(plan.PlannedValues, nil),
		Parameters:   params,
		ExternalAuth: plan.externalAuth(),
		Presets:      presets,
	}, nil
}

// Apply applies the plan Plan saved and reports the new state and
// resources. While it runs, each version of the state Terraform persists
// is reported to the sink as a checkpoint. When the apply fails or is interrupted, the state it left is
// returned with the error.
func (p *Provisioner) Apply(ctx context.Context, dir string, in provisioner.PlanInput, sink provisioner.Sink) (*provisioner.ApplyResult, error) {
	env := p.env(in)
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchState(wctx, dir, p.poll, sink)
	}()
	runErr := p.run(ctx, dir, env, sink, true, "apply", "-json", "-no-color", "-input=false", "-auto-approve", planFile)
	stopWatch()
	<-watched
	state, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, errors.Join(runErr, fmt.Errorf("read terraform state: %w", err))
	}
	if runErr != nil {
		return &provisioner.ApplyResult{State: state}, runErr
	}
	raw, err := p.output(ctx, dir, env, sink, "show", "-json", "-no-color")
	if err != nil {
		return &provisioner.ApplyResult{State: state}, err
	}
	applied, err := decodeShow(raw)
	if err != nil {
		return &provisioner.ApplyResult{State: state}, err
	}
	// The state has values but no configuration: take the references
	// between resources from the plan.
	var config *module
	if planRaw, err := os.ReadFile(filepath.Join(dir, planJSONFile)); err == nil {
		if plan, err := decodeShow(planRaw); err == nil {
			config = plan.Configuration.RootModule
		}
	}
	return &provisioner.ApplyResult{State: state, Resources: applied.resources(applied.Values, config)}, nil
}

// env is the environment of a plan or apply: what the coder provider
// reads about the workspace and its parameters.
func (p *Provisioner) env(in provisioner.PlanInput) []string {
	w := in.Workspace
	env := append([]string(nil), p.baseEnv...)
	set := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	set("CODER_AGENT_URL", w.AgentURL)
	set("CODER_WORKSPACE_TRANSITION", in.Transition)
	set("CODER_WORKSPACE_NAME", w.WorkspaceName)
	set("CODER_WORKSPACE_ID", w.WorkspaceID)
	set("CODER_WORKSPACE_BUILD_ID", w.WorkspaceBuildID)
	set("CODER_WORKSPACE_OWNER", w.OwnerName)
	set("CODER_WORKSPACE_OWNER_ID", w.OwnerID)
	set("CODER_WORKSPACE_OWNER_NAME", w.OwnerFullName)
	set("CODER_WORKSPACE_OWNER_EMAIL", w.OwnerEmail)
	// The provider requires the template's facts; an import of a version
	// not yet attached to a template has none.
	set("CODER_WORKSPACE_TEMPLATE_ID", or(w.TemplateID, "00000000-0000-0000-0000-000000000000"))
	set("CODER_WORKSPACE_TEMPLATE_NAME", or(w.TemplateName, "template"))
	set("CODER_WORKSPACE_TEMPLATE_VERSION", or(w.TemplateVersionName, "version"))
	env = append(env, agentScripts...)
	for name, v := range in.Parameters {
		env = append(env, parameterEnv("CODER_PARAMETER_", name)+"="+v)
	}
	for name, v := range in.PreviousParameters {
		env = append(env, parameterEnv("CODER_PARAMETER_PREVIOUS_", name)+"="+v)
	}
	return env
}

// agentScripts are the coder_agent init scripts (CODER_AGENT_SCRIPT_<os>_<arch>,
// with ${ACCESS_URL} filled in by the provider). Coder's download and run
// its agent; berth serves no agent binaries, so these say so and keep the
// workspace's main process alive, as an agent would.
var agentScripts = func() []string {
	const (
		unix = `#!/usr/bin/env sh
echo "berth (${ACCESS_URL}) does not run workspace agents; keeping this workspace up."
exec tail -f /dev/null
`
		windows = `Write-Output "berth (${ACCESS_URL}) does not run workspace agents; keeping this workspace up."
while ($true) { Start-Sleep -Seconds 3600 }
`
	)
	var out []string
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, arch := range []string{"amd64", "arm64", "armv7"} {
			script := unix
			if goos == "windows" {
				script = windows
			}
			out = append(out, "CODER_AGENT_SCRIPT_"+goos+"_"+arch+"="+script)
		}
	}
	return out
}()

// parameterEnv is the variable the coder provider reads a parameter's
// value from: the prefix and the hex SHA-256 of its name.
func parameterEnv(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + hex.EncodeToString(sum[:])
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
