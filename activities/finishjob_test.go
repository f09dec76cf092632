package activities_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/workflows"
)

// startedJob is an import job another worker claimed and logged into,
// ending in stage.
func (h *harness) startedJob(stage string) *db.ProvisionerJob {
	h.t.Helper()
	job, _ := h.createImport(demoSpec)
	_, err := h.store.ClaimJob(h.ctx, job.ID, db.Claim{WorkerID: uuid.New()})
	require.NoError(h.t, err)
	if stage != "" {
		require.NoError(h.t, h.store.AppendLogs(h.ctx, job.ID, []db.ProvisionerJobLog{
			{CreatedAt: db.Now(), Source: db.LogSourceDaemon, Level: provisioner.LevelInfo, Stage: stage},
			{CreatedAt: db.Now(), Source: db.LogSourceProvisioner, Level: provisioner.LevelInfo, Stage: stage, Output: "working"},
		}))
	}
	return h.job(job.ID)
}

func TestFinishJobCanceled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job := h.startedJob(stagePersistent)
	_, err := h.store.CancelJob(h.ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, db.JobCanceling, h.job(job.ID).Status)

	require.NoError(t, h.finishJob(workflows.FinishJobInput{JobID: job.ID, Canceled: true}))
	got := h.job(job.ID)
	require.Equal(t, db.JobCanceled, got.Status, "a canceled running job ends canceled, with no error")
	require.Empty(t, got.Error)
	require.NotNil(t, got.CompletedAt)

	logs := h.logs(job.ID)
	requireLogShape(t, logs)
	last := logs[len(logs)-1]
	require.Equal(t, "Job canceled.", last.Output)
	require.Equal(t, db.LogSourceDaemon, last.Source)
	require.Equal(t, provisioner.LevelInfo, last.Level)
	require.Equal(t, stagePersistent, last.Stage, "the line lands in the last stage")

	// FinishJob is idempotent: the retried activity changes nothing.
	require.NoError(t, h.finishJob(workflows.FinishJobInput{JobID: job.ID, Canceled: true}))
	require.Len(t, h.logs(job.ID), len(logs))
	require.True(t, h.job(job.ID).CompletedAt.Equal(*got.CompletedAt))
}

func TestFinishJobCanceledRunningWithoutCancelRow(t *testing.T) {
	t.Parallel()
	// The workflow was canceled (say by the reconciler) before the API's
	// canceled_at write was seen: FinishJob still ends the job canceled.
	h := newHarness(t)
	job := h.startedJob(stageSetup)
	require.NoError(t, h.finishJob(workflows.FinishJobInput{JobID: job.ID, Canceled: true}))
	got := h.job(job.ID)
	require.Equal(t, db.JobCanceled, got.Status)
	require.NotNil(t, got.CanceledAt)
}

func TestFinishJobCause(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, stage, cause, wantErr, wantStage string
	}{
		{"worker lost", stagePersistent, "provisioner worker lost: no heartbeat for 15s",
			"provisioner worker lost: no heartbeat for 15s", stagePersistent},
		{"no logs yet", "", "no provisioner picked up the job within 30m0s",
			"no provisioner picked up the job within 30m0s", "Unknown"},
		{"no cause", stageParse, "", "job ended without a result", stageParse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			job := h.startedJob(tc.stage)
			require.NoError(t, h.finishJob(workflows.FinishJobInput{JobID: job.ID, Cause: tc.cause}))

			got := h.job(job.ID)
			require.Equal(t, db.JobFailed, got.Status)
			require.Equal(t, tc.wantErr, got.Error)
			require.Nil(t, got.CanceledAt)
			logs := h.logs(job.ID)
			last := logs[len(logs)-1]
			require.Equal(t, tc.wantErr, last.Output)
			require.Equal(t, provisioner.LevelError, last.Level)
			require.Equal(t, db.LogSourceDaemon, last.Source)
			require.Equal(t, tc.wantStage, last.Stage)
		})
	}
}

func TestFinishJobPending(t *testing.T) {
	t.Parallel()
	// No worker ever picked the job up (ScheduleToStart timed out).
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	require.NoError(t, h.finishJob(workflows.FinishJobInput{JobID: job.ID, Cause: "no provisioner picked up the job within 30m0s"}))
	got := h.job(job.ID)
	require.Equal(t, db.JobFailed, got.Status)
	require.NotNil(t, got.StartedAt)
	require.False(t, got.WorkerID.Valid)
}

func TestFinishJobLeavesCompletedJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	res, err := h.runJob(job.ID)
	require.NoError(t, err)
	require.True(t, res.Completed)
	n := len(h.logs(job.ID))

	require.NoError(t, h.finishJob(workflows.FinishJobInput{JobID: job.ID, Cause: "late timeout"}))
	require.NoError(t, h.finishJob(workflows.FinishJobInput{JobID: job.ID, Canceled: true}))
	got := h.job(job.ID)
	require.Equal(t, db.JobSucceeded, got.Status, "a job RunJob completed keeps its outcome")
	require.Empty(t, got.Error)
	require.Len(t, h.logs(job.ID), n)
}

func TestFinishJobMissing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	err := h.finishJob(workflows.FinishJobInput{JobID: uuid.New(), Canceled: true})
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable(), "retrying cannot make the job appear")
	require.Equal(t, "JobNotFound", appErr.Type())
}
