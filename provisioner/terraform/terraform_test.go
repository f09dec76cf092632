package terraform_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/terraform"
)

type sink struct {
	mu   sync.Mutex
	logs []provisioner.Log
}

func (s *sink) Log(l provisioner.Log) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = append(s.logs, l)
}

func (*sink) Stall() {}

func (s *sink) has(level, substr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.logs {
		if l.Level == level && strings.Contains(l.Output, substr) {
			return true
		}
	}
	return false
}

func newProvisioner(t *testing.T, grace time.Duration) *terraform.Provisioner {
	t.Helper()
	bin, mirror := testinfra.Terraform(t)
	p, err := terraform.New(terraform.Options{
		Binary: bin, Mirror: mirror, PluginCacheDir: filepath.Join(t.TempDir(), "cache"), ConfigDir: t.TempDir(), Grace: grace,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

// jobDir copies a template from testdata into a fresh job directory.
func jobDir(t *testing.T, template string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", template))))
	return dir
}

func meta() provisioner.WorkspaceMeta {
	return provisioner.WorkspaceMeta{
		WorkspaceID: "5f0b4a54-46a0-4d53-8a14-9b1f8b1a9d10", WorkspaceName: "ws1", OwnerName: "alice",
		OwnerID: "0d7f7c1e-3c7f-4b55-9c67-8f3f3c1f2a11", OwnerEmail: "alice@example.com", TemplateName: "tpl",
		TemplateVersionName: "v1", AgentURL: "http://berth.example:3000",
	}
}

func TestImport(t *testing.T) {
	t.Parallel()
	p := newProvisioner(t, 0)
	ctx := context.Background()
	dir := jobDir(t, "workspace")
	// A lock file made against the registry: its checksums cannot match
	// the locally built provider, so the mirror-using worker sets it aside.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".terraform.lock.hcl"), []byte(`provider "registry.terraform.io/coder/coder" {
  version = "2.20.0"
  hashes  = ["h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]
}
`), 0o600))
	s := &sink{}
	require.NoError(t, p.Init(ctx, dir, s))
	require.True(t, s.has(provisioner.LevelWarn, "Ignoring .terraform.lock.hcl"))
	require.True(t, s.has(provisioner.LevelInfo, "Terraform has been successfully initialized!"), "init output is logged")

	parsed, err := p.Parse(ctx, dir, s)
	require.NoError(t, err)
	assert.Contains(t, parsed.Readme, "A test template with two parameters")
	require.Len(t, parsed.Variables, 3)
	assert.Equal(t, provisioner.Variable{Name: "region", Description: "Where workspaces run.", Type: "string", DefaultValue: "eu-west"}, parsed.Variables[0])
	assert.Equal(t, provisioner.Variable{Name: "replicas", Type: "number", DefaultValue: "1"}, parsed.Variables[1])
	assert.Equal(t, provisioner.Variable{Name: "api_key", Type: "string", Required: true, Sensitive: true}, parsed.Variables[2])

	vars := map[string]string{"region": "eu-west", "replicas": "1", "api_key": "secret"}
	start, err := p.Plan(ctx, dir, provisioner.PlanInput{Transition: "start", Workspace: meta(), Variables: vars}, s)
	require.NoError(t, err)
	require.Len(t, start.Parameters, 2)
	cpu, image := start.Parameters[0], start.Parameters[1]
	one, eight := int32(1), int32(8)
	assert.Equal(t, provisioner.RichParameter{
		Name: "cpu", DisplayName: "CPU cores", Description: "Cores of the workspace.", Type: "number", FormType: "input",
		Mutable: true, DefaultValue: "2", Options: []provisioner.ParameterOption{}, ValidationMin: &one, ValidationMax: &eight, Order: 1,
	}, cpu)
	assert.Equal(t, "image", image.Name)
	assert.False(t, image.Mutable)
	assert.False(t, image.Required)
	assert.Equal(t, []provisioner.ParameterOption{{Name: "Ubuntu", Value: "ubuntu"}, {Name: "Debian", Value: "debian"}}, image.Options)
	two := int32(2)
	assert.Equal(t, []provisioner.Preset{{
		Name: "Big", Description: "Eight cores on Debian", Icon: "/icon/big.svg", PrebuildInstances: &two,
		Parameters: []provisioner.PresetParameter{{Name: "cpu", Value: "8"}, {Name: "image", Value: "debian"}},
	}, {
		Name: "Small", Default: true, Parameters: []provisioner.PresetParameter{{Name: "cpu", Value: "1"}},
	}}, start.Presets, "coder_workspace_preset, by name")

	// Start: the machine with its agent and app, and the home volume with
	// its metadata (the sensitive item's value hidden).
	require.Len(t, start.Resources, 2)
	dev, home := start.Resources[0], start.Resources[1]
	assert.Equal(t, "terraform_data", dev.Type)
	assert.Equal(t, "dev", dev.Name)
	require.Len(t, dev.Agents, 1)
	agent := dev.Agents[0]
	assert.Equal(t, "main", agent.Name)
	assert.Equal(t, "linux", agent.OperatingSystem)
	assert.Equal(t, "amd64", agent.Architecture)
	assert.Equal(t, "/home/coder", agent.Directory)
	assert.Equal(t, map[string]string{"REGION": "eu-west"}, agent.Env)
	require.Len(t, agent.Apps, 2)
	assert.Equal(t, "code-server", agent.Apps[0].Slug)
	assert.Equal(t, &provisioner.Healthcheck{URL: "http://localhost:8080/healthz", Interval: 5, Threshold: 6}, agent.Apps[0].Healthcheck)
	assert.Equal(t, "docs", agent.Apps[1].Slug, "an app in a module given the agent's ID belongs to the agent")
	assert.Equal(t, "authenticated", agent.Apps[1].SharingLevel)
	assert.Equal(t, []provisioner.Script{
		{DisplayName: "Startup Script", Icon: "/emojis/25b6.png", Script: "echo starting", LogPath: "coder-startup-script.log", RunOnStart: true},
		{DisplayName: "Hello", Icon: "/emojis/1f44b.png", Script: "echo hello", RunOnStart: true},
	}, agent.Scripts)
	assert.Equal(t, "home", home.Name)
	assert.Empty(t, home.Agents)
	assert.Equal(t, "/icon/folder.svg", home.Icon)
	assert.Equal(t, []provisioner.Metadata{
		{Key: "cpu", Value: "2"}, {Key: "owner", Value: "alice"}, {Key: "api_key", Sensitive: true},
	}, home.Metadata)

	// Stop: start_count is 0, so only the volume remains.
	stop, err := p.Plan(ctx, dir, provisioner.PlanInput{Transition: "stop", Workspace: meta(), Variables: vars}, s)
	require.NoError(t, err)
	require.Len(t, stop.Resources, 1)
	assert.Equal(t, "home", stop.Resources[0].Name)
	assert.True(t, s.has(provisioner.LevelInfo, "data.coder_parameter.cpu: Refreshing..."), "plan output is logged")
}

func TestImportErrors(t *testing.T) {
	t.Parallel()
	p := newProvisioner(t, 0)
	ctx := context.Background()

	t.Run("syntax", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte("variable \"x\" {\n  type = \n"), 0o600))
		_, err := p.Parse(ctx, dir, &sink{})
		je, ok := provisioner.AsJobError(err)
		require.True(t, ok, "%v", err)
		assert.Contains(t, je.Message, "main.tf:")
	})
	t.Run("plan", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`resource "terraform_data" "x" {
  input = var.missing
}
`), 0o600))
		s := &sink{}
		require.NoError(t, p.Init(ctx, dir, s))
		_, err := p.Plan(ctx, dir, provisioner.PlanInput{Transition: "start", Workspace: meta()}, s)
		je, ok := provisioner.AsJobError(err)
		require.True(t, ok, "%v", err)
		assert.Contains(t, je.Message, "Reference to undeclared input variable")
		assert.True(t, s.has(provisioner.LevelError, "Error: Reference to undeclared input variable"))
	})
}

// build runs one transition the way a worker does: init, plan, apply in a
// fresh directory with the previous state.
func build(t *testing.T, p *terraform.Provisioner, template string, in provisioner.PlanInput) (*provisioner.ApplyResult, *sink, error) {
	t.Helper()
	ctx := context.Background()
	dir := jobDir(t, template)
	s := &sink{}
	require.NoError(t, p.Init(ctx, dir, s))
	if _, err := p.Plan(ctx, dir, in, s); err != nil {
		return nil, s, err
	}
	res, err := p.Apply(ctx, dir, in, s)
	return res, s, err
}

func stateAddresses(t *testing.T, state []byte) []string {
	t.Helper()
	var st struct {
		Resources []struct {
			Mode, Type, Name string
			Instances        []any
		}
	}
	require.NoError(t, json.Unmarshal(state, &st))
	var out []string
	for _, r := range st.Resources {
		if r.Mode == "managed" && len(r.Instances) > 0 {
			out = append(out, r.Type+"."+r.Name)
		}
	}
	return out
}

func TestBuildLifecycle(t *testing.T) {
	t.Parallel()
	p := newProvisioner(t, 0)
	vars := map[string]string{"region": "us-east", "replicas": "1", "api_key": "secret"}
	in := provisioner.PlanInput{
		Transition: "start", Workspace: meta(), Variables: vars,
		Parameters: map[string]string{"cpu": "4", "image": "debian"},
	}
	started, s, err := build(t, p, "workspace", in)
	require.NoError(t, err)
	assert.True(t, s.has(provisioner.LevelInfo, "Apply complete!"))
	assert.ElementsMatch(t, []string{"coder_agent.main", "coder_app.code", "coder_metadata.home", "terraform_data.dev", "terraform_data.home",
		"coder_app.docs", "coder_script.hello"},
		stateAddresses(t, started.State))
	require.Len(t, started.Resources, 2)
	agent := started.Resources[0].Agents[0]
	assert.NotEmpty(t, agent.ID)
	assert.NotEmpty(t, agent.Token, "the provider's token is reported for the worker to hash")
	assert.Len(t, agent.Apps, 2)
	assert.Len(t, agent.Scripts, 2)
	assert.Equal(t, []string{"vscode", "web_terminal", "ssh_helper", "port_forwarding_helper"}, agent.DisplayApps)
	assert.Equal(t, []provisioner.Metadata{
		{Key: "cpu", Value: "4"}, {Key: "owner", Value: "alice"}, {Key: "api_key", Sensitive: true},
	}, started.Resources[1].Metadata, "parameter values reach the provider")
	assert.Contains(t, string(started.State), `"image": "debian"`)
	assert.Contains(t, string(started.State), "berth (http://berth.example:3000/) does not run workspace agents",
		"the agent's init script names the access URL")

	// Stop with the state: the machine goes, the volume and agent stay.
	in.Transition, in.State = "stop", started.State
	in.PreviousParameters = in.Parameters
	stopped, _, err := build(t, p, "workspace", in)
	require.NoError(t, err)
	assert.NotContains(t, stateAddresses(t, stopped.State), "terraform_data.dev")
	assert.Contains(t, stateAddresses(t, stopped.State), "terraform_data.home")
	require.Len(t, stopped.Resources, 1)
	assert.Empty(t, stopped.Resources[0].Agents)

	// Start again with a new mutable value: same agent, new machine.
	in.Transition, in.State = "start", stopped.State
	in.Parameters = map[string]string{"cpu": "6", "image": "debian"}
	restarted, _, err := build(t, p, "workspace", in)
	require.NoError(t, err)
	assert.Equal(t, agent.ID, restarted.Resources[0].Agents[0].ID)
	assert.Equal(t, "6", restarted.Resources[1].Metadata[0].Value)

	// Delete destroys everything.
	in.Transition, in.State = "delete", restarted.State
	deleted, s, err := build(t, p, "workspace", in)
	require.NoError(t, err)
	assert.Empty(t, stateAddresses(t, deleted.State))
	assert.Empty(t, deleted.Resources)
	assert.True(t, s.has(provisioner.LevelInfo, "Destruction complete"), "destroy output is logged")
}

func TestBuildFailureKeepsState(t *testing.T) {
	t.Parallel()
	p := newProvisioner(t, 0)
	in := provisioner.PlanInput{Transition: "start", Workspace: meta()}
	res, s, err := build(t, p, "failing", in)
	je, ok := provisioner.AsJobError(err)
	require.True(t, ok, "%v", err)
	assert.Contains(t, je.Message, "local-exec provisioner error")
	assert.Contains(t, je.Message, "exit status 3")
	assert.True(t, s.has(provisioner.LevelInfo, "about to fail"))
	assert.True(t, s.has(provisioner.LevelError, "Error: local-exec provisioner error"))
	require.NotNil(t, res)
	assert.Contains(t, stateAddresses(t, res.State), "terraform_data.volume", "the partial apply's state is returned")

	in.Transition, in.State = "delete", res.State
	deleted, _, err := build(t, p, "failing", in)
	require.NoError(t, err)
	assert.Empty(t, stateAddresses(t, deleted.State))
}

func TestCancelInterruptsApply(t *testing.T) {
	t.Parallel()
	p := newProvisioner(t, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := jobDir(t, "slow")
	s := &sink{}
	in := provisioner.PlanInput{Transition: "start", Workspace: meta(), Variables: map[string]string{"sleep": "600"}}
	require.NoError(t, p.Init(ctx, dir, s))
	_, err := p.Plan(ctx, dir, in, s)
	require.NoError(t, err)

	type result struct {
		res *provisioner.ApplyResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := p.Apply(ctx, dir, in, s)
		done <- result{res, err}
	}()
	require.Eventually(t, func() bool { return s.has(provisioner.LevelInfo, "(local-exec): slow step started") }, time.Minute, 20*time.Millisecond)
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("apply did not end after cancel")
	}
	require.ErrorIs(t, r.err, context.Canceled)
	assert.True(t, s.has(provisioner.LevelInfo, "Interrupt received"), "terraform got SIGINT and said so")
	assert.False(t, s.has(provisioner.LevelInfo, "(local-exec): slow step done"))
	require.NotNil(t, r.res)
	assert.Contains(t, stateAddresses(t, r.res.State), "terraform_data.first", "the state of the partial apply is kept")
}

// Not parallel: it sets the worker's environment.
func TestWorkerEnvironmentStaysOut(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://secret@db/berth")
	t.Setenv("BERTH_POSTGRES_URL", "postgres://secret@db/berth")
	t.Setenv("CODER_WORKSPACE_NAME", "from-the-worker")
	p := newProvisioner(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`resource "terraform_data" "env" {
  provisioner "local-exec" {
    command = "echo \"db=[$DATABASE_URL$BERTH_POSTGRES_URL] ws=[$CODER_WORKSPACE_NAME] auto=[$TF_IN_AUTOMATION]\""
  }
}
`), 0o600))
	s := &sink{}
	require.NoError(t, p.Init(ctx, dir, s))
	in := provisioner.PlanInput{Transition: "start", Workspace: meta()}
	_, err := p.Plan(ctx, dir, in, s)
	require.NoError(t, err)
	_, err = p.Apply(ctx, dir, in, s)
	require.NoError(t, err)
	require.True(t, s.has(provisioner.LevelInfo, "(local-exec): db=[] ws=[ws1] auto=[1]"), "%v", s.logs)
}

func TestInitFailureNamesTheError(t *testing.T) {
	t.Parallel()
	p := newProvisioner(t, 0)
	dir := t.TempDir()
	// A provider that is neither built in nor in the mirror, with a
	// version no registry has: init fails offline and online alike.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = "0.0.1"
    }
  }
}
`), 0o600))
	s := &sink{}
	err := p.Init(context.Background(), dir, s)
	je, ok := provisioner.AsJobError(err)
	require.True(t, ok, "%v", err)
	assert.Contains(t, je.Message, "Failed to query available provider packages: Could not retrieve the list of available versions for provider coder/coder")
	assert.True(t, s.has(provisioner.LevelError, "Error: Failed to query available provider packages"))
}

// Variable values, sensitive ones included, reach the template through a
// file in the job directory, never on a command line (which ps and
// /proc/<pid>/cmdline show every user of the machine).
func TestVariablesStayOffTheCommandLine(t *testing.T) {
	t.Parallel()
	bin, mirror := testinfra.Terraform(t)
	argsLog := filepath.Join(t.TempDir(), "args.log")
	wrapper := filepath.Join(t.TempDir(), "terraform")
	require.NoError(t, os.WriteFile(wrapper, []byte("#!/bin/sh\necho \"$@\" >> '"+argsLog+"'\nexec '"+bin+"' \"$@\"\n"), 0o700))
	p, err := terraform.New(terraform.Options{
		Binary: wrapper, Mirror: mirror, PluginCacheDir: filepath.Join(t.TempDir(), "cache"), ConfigDir: t.TempDir(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	in := provisioner.PlanInput{
		Transition: "start", Workspace: meta(),
		Variables:  map[string]string{"region": "${not-a-template} \"quoted\"", "replicas": "2", "api_key": "s3cret-canary", "undeclared": "x"},
		Parameters: map[string]string{"cpu": "4", "image": "debian"},
	}
	res, _, err := build(t, p, "workspace", in)
	require.NoError(t, err)
	args, err := os.ReadFile(argsLog)
	require.NoError(t, err)
	require.Contains(t, string(args), "plan ")
	require.NotContains(t, string(args), "s3cret-canary")
	require.NotContains(t, string(args), "-var ")
	assert.Contains(t, string(res.State), `s3cret-canary`, "the sensitive value reached the template")
	assert.Contains(t, string(res.State), `${not-a-template} \"quoted\"`, "a string variable's value is taken literally")
}
