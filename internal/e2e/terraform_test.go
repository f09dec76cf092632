package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
)

// terraformWorker starts a terraform-only `berth worker` configured by
// flags, as an operator would, with its own work directory.
func (e *env) terraformWorker(name, workDir string) *proc {
	bin, mirror := testinfra.Terraform(e.t)
	return e.startWorker(e.store(), name, "--provisioner", "terraform", "--terraform-path", bin,
		"--terraform-mirror", mirror, "--terraform-plugin-cache", filepath.Join(e.t.TempDir(), "plugins"),
		"--access-url", "http://agents.example:3000", "--work-dir", workDir)
}

// terraformTemplate imports a template from provisioner/terraform/testdata.
func terraformTemplate(ctx context.Context, t *testing.T, o berthtest.Owner, name string, vars ...sdk.VariableValue) sdk.Template {
	t.Helper()
	c := o.Client
	fileID := berthtest.UploadDir(ctx, t, c, filepath.Join("..", "..", "provisioner", "terraform", "testdata", name))
	v, err := c.CreateTemplateVersion(ctx, o.OrganizationID, sdk.CreateTemplateVersionRequest{
		FileID: fileID, Provisioner: sdk.ProvisionerTypeTerraform, StorageMethod: "file", UserVariableValues: vars,
	})
	require.NoError(t, err)
	v = berthtest.WaitJob(ctx, t, c, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	tpl, err := c.CreateTemplate(ctx, o.OrganizationID, sdk.CreateTemplateRequest{Name: name, VersionID: v.ID})
	require.NoError(t, err)
	return tpl
}

// TestTerraformWorkerProcess: a real worker imports and builds a template
// offline, hands the access URL to the coder provider, and never receives
// echo jobs.
func TestTerraformWorkerProcess(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	testinfra.Terraform(t)
	e := newEnv(t)
	c := e.startServer()
	e.terraformWorker("tf", t.TempDir())
	owner := login(ctx, t, c)

	daemons, err := c.ProvisionerDaemons(ctx, owner.OrganizationID)
	require.NoError(t, err)
	require.Len(t, daemons, 1)
	require.Equal(t, []sdk.ProvisionerType{"terraform"}, daemons[0].Provisioners)

	tpl := terraformTemplate(ctx, t, owner, "workspace", sdk.VariableValue{Name: "api_key", Value: "k"})
	ws, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "dev"})
	require.NoError(t, err)
	b := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	require.Equal(t, "tf", b.Job.WorkerName)
	state, err := c.WorkspaceBuildState(ctx, b.ID)
	require.NoError(t, err)
	require.Contains(t, string(state), "berth (http://agents.example:3000/) does not run workspace agents",
		"--access-url reaches the coder provider as CODER_AGENT_URL")

	// An echo job is not routed to a terraform-only worker: it waits, and
	// says no provisioner matches.
	echoV := createVersion(ctx, t, owner, `{"version":1}`)
	echoV, err = c.TemplateVersion(ctx, echoV.ID)
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobPending, echoV.Job.Status)
	require.NotNil(t, echoV.MatchedProvisioners)
	require.Equal(t, 0, echoV.MatchedProvisioners.Count)
}

// terraformProcesses lists the terraform processes working under dir.
func terraformProcesses(t *testing.T, dir string) []string {
	t.Helper()
	bin, _ := testinfra.Terraform(t)
	bin, _ = filepath.EvalSymlinks(bin)
	procs, err := filepath.Glob("/proc/[0-9]*")
	require.NoError(t, err)
	var out []string
	for _, p := range procs {
		exe, err1 := os.Readlink(filepath.Join(p, "exe"))
		cwd, err2 := os.Readlink(filepath.Join(p, "cwd"))
		if err1 == nil && err2 == nil && exe == bin && strings.HasPrefix(cwd, dir) {
			out = append(out, p)
		}
	}
	return out
}

// stateResources counts the managed resource instances of a Terraform
// state by address.
func stateResources(t *testing.T, state []byte) map[string]int {
	t.Helper()
	var st struct {
		Resources []struct {
			Mode, Type, Name string
			Instances        []json.RawMessage
		}
	}
	require.NoError(t, json.Unmarshal(state, &st))
	out := map[string]int{}
	for _, r := range st.Resources {
		if r.Mode == "managed" {
			out[r.Type+"."+r.Name] += len(r.Instances)
		}
	}
	return out
}

// TestTerraformWorkerKilledMidApply: SIGKILL of a worker in the middle of
// a real apply (two resources created, one in progress, two pending)
// interrupts its Terraform; another worker resumes the build from the
// last checkpointed state, creating only what was missing, and the build
// succeeds there with every resource exactly once in its state. The
// workspace can then be deleted.
func TestTerraformWorkerKilledMidApply(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	testinfra.Terraform(t)
	e := newEnv(t)
	store := e.store()
	c := e.startServer()
	workDir := t.TempDir()
	w := e.terraformWorker("doomed", workDir)
	owner := login(ctx, t, c)
	gate := filepath.Join(t.TempDir(), "gate")
	tpl := terraformTemplate(ctx, t, owner, "resumable", sdk.VariableValue{Name: "gate", Value: gate})

	ws, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "slow"})
	require.NoError(t, err)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		assert.Contains(ct, outputs(t, c, ws.LatestBuild.ID), "terraform_data.gated[0]: (local-exec): gated step started")
	}, time.Minute, 50*time.Millisecond)
	checkpointed(t, store, ws.LatestBuild.Job.ID, func(cp *db.JobCheckpoint) bool {
		got := stateResources(t, cp.State)
		return got["terraform_data.one"] == 1 && got["terraform_data.two"] == 1
	})
	require.NotEmpty(t, terraformProcesses(t, workDir), "terraform applies under the worker's work dir")

	w.signal(syscall.SIGKILL)
	<-w.done
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		assert.Empty(ct, terraformProcesses(t, workDir))
	}, 30*time.Second, 100*time.Millisecond, "the dead worker's terraform ends (parent-death SIGINT, or at latest its next write to the closed log pipe)")

	require.NoError(t, os.WriteFile(gate, nil, 0o600))
	e.terraformWorker("rescuer", t.TempDir())
	b := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	require.Equal(t, "rescuer", b.Job.WorkerName)
	lines := outputs(t, c, b.ID)
	resumed := resumeLine(lines)
	t.Log(resumed)
	require.Regexp(t, `^Worker doomed lost at .*; resuming on worker rescuer from the state of .* \(checkpoint \d+ of attempt 1\): Terraform plans again`, resumed)
	require.Contains(t, lines, "Plan: 3 to add, 0 to change, 0 to destroy.", "the resumed plan creates only what is missing")
	state, err := c.WorkspaceBuildState(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"terraform_data.one": 1, "terraform_data.two": 1, "terraform_data.gated": 1,
		"terraform_data.three": 1, "terraform_data.four": 1}, stateResources(t, state))

	del, err := c.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "delete"})
	require.NoError(t, err)
	del = berthtest.WaitBuild(t, c, del.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, del.Job.Status, del.Job.Error)
	state, err = c.WorkspaceBuildState(ctx, del.ID)
	require.NoError(t, err)
	require.Empty(t, stateResources(t, state))
}
