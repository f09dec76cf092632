package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
)

// TestTerraformWorkerProcess runs a terraform-only `berth worker` configured
// by flags, as an operator would: it imports and builds a real template
// offline, hands the access URL to the coder provider, and never receives
// echo jobs.
func TestTerraformWorkerProcess(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	bin, mirror := testinfra.Terraform(t)
	e := newEnv(t)
	store := e.store()
	c := e.startServer()
	e.startWorker(store, "tf", "--provisioner", "terraform", "--terraform-path", bin, "--terraform-mirror", mirror,
		"--terraform-plugin-cache", filepath.Join(t.TempDir(), "plugins"), "--access-url", "http://agents.example:3000")
	owner := login(ctx, t, c)

	daemons, err := c.ProvisionerDaemons(ctx, owner.OrganizationID)
	require.NoError(t, err)
	require.Len(t, daemons, 1)
	require.Equal(t, []sdk.ProvisionerType{"terraform"}, daemons[0].Provisioners)

	fileID := berthtest.UploadDir(ctx, t, c, filepath.Join("..", "..", "provisioner", "terraform", "testdata", "workspace"))
	v, err := c.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
		FileID: fileID, Provisioner: sdk.ProvisionerTypeTerraform, StorageMethod: "file",
		UserVariableValues: []sdk.VariableValue{{Name: "api_key", Value: "k"}},
	})
	require.NoError(t, err)
	v = berthtest.WaitJob(ctx, t, c, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	require.Equal(t, "tf", v.Job.WorkerName)
	tpl, err := c.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "tf", VersionID: v.ID})
	require.NoError(t, err)

	ws, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "dev"})
	require.NoError(t, err)
	var b sdk.WorkspaceBuild
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		b, err = c.WorkspaceBuild(ctx, ws.LatestBuild.ID)
		if assert.NoError(ct, err) {
			assert.False(ct, b.Job.Status.Active())
		}
	}, 90*time.Second, 50*time.Millisecond)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	state, err := c.WorkspaceBuildState(ctx, b.ID)
	require.NoError(t, err)
	require.Contains(t, string(state), "berth (http://agents.example:3000/) does not run workspace agents",
		"--access-url reaches the coder provider as CODER_AGENT_URL")

	// An echo job is not routed to a terraform-only worker: it waits,
	// and says no provisioner matches.
	echoV := createVersion(ctx, t, owner, `{"version":1}`)
	echoV, err = c.TemplateVersion(ctx, echoV.ID)
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobPending, echoV.Job.Status)
	require.NotNil(t, echoV.MatchedProvisioners)
	require.Equal(t, 0, echoV.MatchedProvisioners.Count)
}
