package dispatch_test

import (
	"os"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/dispatch"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
)

func TestMain(m *testing.M) { os.Exit(testinfra.Main(m)) }

func TestReaperEndsPendingAndHungJobs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	clock := quartz.NewMock(t)
	reaper := dispatch.NewReaper(d.Dispatcher, d.Store, clock, d.Log)

	upload := func(spec string) sdk.TemplateVersion {
		fileID := berthtest.UploadEcho(ctx, t, owner.Client, spec)
		v, err := owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
			FileID: fileID, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
		})
		require.NoError(t, err)
		return v
	}
	pending := upload(`{"version":1}`)

	// Nothing is old enough yet.
	clock.Set(time.Now().Add(10 * time.Minute))
	reaped, err := reaper.RunOnce(ctx)
	require.NoError(t, err)
	require.Empty(t, reaped)

	clock.Set(time.Now().Add(31 * time.Minute))
	reaped, err = reaper.RunOnce(ctx)
	require.NoError(t, err)
	require.Contains(t, reaped, pending.Job.ID)
	v, err := owner.Client.TemplateVersion(ctx, pending.ID)
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobFailed, v.Job.Status)
	require.Equal(t, "Coder: Build has been detected as pending for 30 minutes and has been terminated by the reaper.", v.Job.Error)
	require.NotNil(t, v.Job.StartedAt)
	logs, err := owner.Client.TemplateVersionLogsAfter(ctx, pending.ID, 0)
	require.NoError(t, err)
	require.Len(t, logs, 5)
	require.Equal(t, "Coder: Build has been detected as pending for 30 minutes and will be terminated.", logs[2].Output)
	require.Equal(t, "Unknown", logs[2].Stage)
	require.Equal(t, sdk.LogLevelError, logs[2].Level)

	// A started job whose worker went silent is "hung" after 5 minutes.
	d.StartWorker(nil)
	hung := upload(`{"version":1,"steps":{"plan":{"outcome":"hang"}}}`)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		v, err := owner.Client.TemplateVersion(ctx, hung.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobRunning, v.Job.Status)
	}, 30*time.Second, 20*time.Millisecond)
	clock.Set(time.Now().Add(6 * time.Minute))
	reaped, err = reaper.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{hung.Job.ID.String()}, idsOf(reaped))
	v = berthtest.WaitJob(ctx, t, owner.Client, hung.ID)
	require.Equal(t, sdk.ProvisionerJobFailed, v.Job.Status)
	require.Equal(t, "Coder: Build has been detected as hung for 5 minutes and has been terminated by the reaper.", v.Job.Error)
}

func idsOf[T interface{ String() string }](xs []T) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, x.String())
	}
	return out
}

// TestReaperLeavesResumableBuilds: a running build whose worker went
// silent is left to the worker that resumes it while it has resumptions
// left; once they are used up it is failed, and it keeps the state its
// last checkpoint recorded (so a delete destroys what it created).
func TestReaperLeavesResumableBuilds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	_, stop := d.StartWorker(nil)
	fileID := berthtest.UploadEcho(ctx, t, owner.Client, `{"version":1}`)
	v, err := owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
		FileID: fileID, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
	})
	require.NoError(t, err)
	v = berthtest.WaitJob(ctx, t, owner.Client, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "t", VersionID: v.ID})
	require.NoError(t, err)
	stop() // the build is claimed below, as by a worker that then dies
	ws, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "w"})
	require.NoError(t, err)
	jobID := ws.LatestBuild.Job.ID
	lost := uuid.New()
	_, err = d.Store.ClaimJob(ctx, jobID, db.Claim{WorkerID: lost})
	require.NoError(t, err)
	_, err = d.Store.SaveCheckpoint(ctx, &db.JobCheckpoint{JobID: jobID, WorkerID: lost, State: []byte("checkpointed state")})
	require.NoError(t, err)

	clock := quartz.NewMock(t)
	clock.Set(time.Now().Add(time.Minute))
	reaper := dispatch.NewReaper(d.Dispatcher, d.Store, clock, d.Log)
	reaped, err := reaper.RunOnce(ctx)
	require.NoError(t, err)
	require.Empty(t, reaped, "a first attempt may resume twice")

	reaper.BuildResumptions = 0
	reaped, err = reaper.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{jobID}, reaped)
	b := berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobFailed, b.Job.Status)
	require.Equal(t, "provisioner worker lost: no heartbeat for 15s", b.Job.Error)
	state, err := owner.Client.WorkspaceBuildState(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, "checkpointed state", string(state))
	_, err = d.Store.GetCheckpoint(ctx, jobID)
	require.ErrorIs(t, err, db.ErrNotFound)
}
