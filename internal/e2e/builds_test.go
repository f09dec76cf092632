package e2e

import (
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// buildSpec starts slowly enough to kill the worker in the middle.
const buildSpec = `{"version":1,"steps":{"apply:start":{"logs":[{"output":"provisioning","delay_ms":6000}],"state":"up"}}}`

func runningBuild(t *testing.T, c *sdk.Client, id uuid.UUID) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		b, err := c.WorkspaceBuild(t.Context(), id)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobRunning, b.Job.Status)
	}, 60*time.Second, 20*time.Millisecond)
}

// slowWorkspace creates a workspace from buildSpec and waits until its
// first build is running.
func slowWorkspace(t *testing.T, c *sdk.Client, owner berthtest.Owner) sdk.Workspace {
	t.Helper()
	ctx := t.Context()
	v := berthtest.WaitJob(ctx, t, c, createVersion(ctx, t, owner, buildSpec).ID)
	tpl, err := c.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "slow", VersionID: v.ID})
	require.NoError(t, err)
	ws, err := c.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "victim"})
	require.NoError(t, err)
	runningBuild(t, c, ws.LatestBuild.ID)
	return ws
}

// TestWorkerKilledMidBuild: a build is not retried (an apply is not
// idempotent), so it fails with a clear error once the heartbeat times out,
// and the workspace can still be deleted.
func TestWorkerKilledMidBuild(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e, store, c, w, owner := deploy(t, "doomed")
	ws := slowWorkspace(t, c, owner)
	w.signal(syscall.SIGKILL)
	<-w.done

	b := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobFailed, b.Job.Status)
	require.Contains(t, b.Job.Error, "provisioner worker lost")
	require.Equal(t, sdk.WorkspaceStatus("failed"), b.Status)

	e.startWorker(store, "rescuer")
	del, err := c.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "delete"})
	require.NoError(t, err)
	del = berthtest.WaitBuild(t, c, del.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, del.Job.Status, del.Job.Error)
	_, err = c.Workspace(ctx, ws.ID)
	e2, ok := sdk.AsError(err)
	require.True(t, ok && e2.StatusCode() == 410, "the workspace is deleted: %v", err)
}

// TestCancelWhileWorkerDead: a running build whose worker died is canceled
// promptly, not after a reaper timeout (Coder #7615).
func TestCancelWhileWorkerDead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e, store, c, w, owner := deploy(t, "doomed")
	ws := slowWorkspace(t, c, owner)
	w.signal(syscall.SIGKILL)
	<-w.done

	require.NoError(t, c.CancelWorkspaceBuild(ctx, ws.LatestBuild.ID, sdk.CancelWorkspaceBuildParams{}))
	b := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)
	require.Contains(t, []sdk.ProvisionerJobStatus{sdk.ProvisionerJobCanceled, sdk.ProvisionerJobFailed}, b.Job.Status)
	require.NotNil(t, b.Job.CanceledAt)
	// The workspace can build again at once.
	e.startWorker(store, "rescuer")
	next, err := c.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "stop"})
	require.NoError(t, err)
	next = berthtest.WaitBuild(t, c, next.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, next.Job.Status, next.Job.Error)
}
