package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
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

// resumableSpec plays eight numbered lines slowly, so a worker can be
// killed with some played and some not.
const resumableSpec = `{"version":1,"steps":{"apply:start":{"logs":[
 {"output":"line 1","delay_ms":700},{"output":"line 2","delay_ms":700},{"output":"line 3","delay_ms":700},
 {"output":"line 4","delay_ms":700},{"output":"line 5","delay_ms":700},{"output":"line 6","delay_ms":700},
 {"output":"line 7","delay_ms":700},{"output":"line 8","delay_ms":700}],"state":"up"}}}`

// checkpointed waits until a job's checkpoint satisfies ok.
func checkpointed(t *testing.T, store *db.Store, jobID uuid.UUID, ok func(*db.JobCheckpoint) bool) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		cp, err := store.GetCheckpoint(t.Context(), jobID)
		if assert.NoError(ct, err) {
			assert.True(ct, ok(cp), "checkpoint %d: position %s", cp.Seq, cp.Position)
		}
	}, time.Minute, 20*time.Millisecond)
}

// outputs returns a build's log lines.
func outputs(t *testing.T, c *sdk.Client, buildID uuid.UUID) []string {
	t.Helper()
	logs, err := c.WorkspaceBuildLogsAfter(t.Context(), buildID, 0)
	require.NoError(t, err)
	out := make([]string, 0, len(logs))
	for _, l := range logs {
		out = append(out, l.Output)
	}
	return out
}

// resumeLine returns the line that says a build resumed, or "".
func resumeLine(lines []string) string {
	for _, l := range lines {
		if strings.Contains(l, "; resuming on worker") {
			return l
		}
	}
	return ""
}

// TestWorkerKilledMidBuildResumes: SIGKILL of the worker in the middle of
// an echo build; another worker resumes it from its last checkpoint (its
// position): the build succeeds there, its logs say what happened, and
// they go on under the same job without a gap, the lines played before
// the checkpoint played once.
func TestWorkerKilledMidBuildResumes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e, store, c, w, owner := deploy(t, "doomed")
	v := berthtest.WaitJob(ctx, t, c, createVersion(ctx, t, owner, resumableSpec).ID)
	tpl, err := c.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "lines", VersionID: v.ID})
	require.NoError(t, err)
	ws, err := c.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "victim"})
	require.NoError(t, err)
	checkpointed(t, store, ws.LatestBuild.Job.ID, func(cp *db.JobCheckpoint) bool {
		return string(cp.Position) == `{"lines":2}` || string(cp.Position) == `{"lines":3}`
	})
	w.signal(syscall.SIGKILL)
	<-w.done
	e.startWorker(store, "rescuer")

	b := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	require.Equal(t, "rescuer", b.Job.WorkerName)
	require.Equal(t, sdk.WorkspaceStatus("running"), b.Status)
	lines := outputs(t, c, b.ID)
	resumed := resumeLine(lines)
	t.Log(resumed)
	require.Regexp(t, `^Worker doomed lost at \S+ \S+; resuming on worker rescuer from the state of \S+ \S+ \(checkpoint \d+ of attempt 1\): echo skips`, resumed)
	require.Equal(t, 1, strings.Count(strings.Join(lines, "\n"), resumed), "one line says so")
	// Gap-free: every line, in order; the ones before the checkpoint once.
	next := 1
	for _, l := range lines {
		if l == fmt.Sprintf("line %d", next) {
			next++
		}
	}
	require.Equal(t, 9, next, "all eight lines in order: %q", lines)
	require.Equal(t, 1, count(lines, "line 1"))
	require.Equal(t, 1, count(lines, "line 2"))
	_, err = store.GetCheckpoint(ctx, b.Job.ID)
	require.ErrorIs(t, err, db.ErrNotFound, "the checkpoint is gone with the job")
}

func count(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if l == s {
			n++
		}
	}
	return n
}

// TestCancelWhileWorkerDead: a running build whose worker died is canceled
// promptly, not after a reaper timeout (Coder #7615), and never resumed.
func TestCancelWhileWorkerDead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e, store, c, w, owner := deploy(t, "doomed")
	ws := slowWorkspace(t, c, owner)
	w.signal(syscall.SIGKILL)
	<-w.done

	require.NoError(t, c.CancelWorkspaceBuild(ctx, ws.LatestBuild.ID, sdk.CancelWorkspaceBuildParams{}))
	// A worker that could resume the build is there at once: a canceled
	// build is never resumed.
	e.startWorker(store, "rescuer")
	b := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)
	require.Contains(t, []sdk.ProvisionerJobStatus{sdk.ProvisionerJobCanceled, sdk.ProvisionerJobFailed}, b.Job.Status)
	require.NotNil(t, b.Job.CanceledAt)
	require.Equal(t, "doomed", b.Job.WorkerName, "nobody else ran it")
	require.Empty(t, resumeLine(outputs(t, c, b.ID)))
	// The workspace can build again at once.
	next, err := c.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "stop"})
	require.NoError(t, err)
	next = berthtest.WaitBuild(t, c, next.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, next.Job.Status, next.Job.Error)
}
