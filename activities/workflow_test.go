package activities_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/berth-dev/berth/activities"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/echo"
	"github.com/berth-dev/berth/workflows"
)

// These tests run the real activities under the real ProvisionerJob
// workflow (in the SDK's test environment) against Postgres, to check what
// the pair leaves in the job row.

// workflowEnv registers the workflow, RunJob and FinishJob as the worker
// does.
func (h *harness) workflowEnv() *testsuite.TestWorkflowEnvironment {
	env := h.suite().NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.ProvisionerJob)
	env.RegisterActivityWithOptions(h.acts.RunJob, activity.RegisterOptions{Name: workflows.ActRunJob})
	env.RegisterActivityWithOptions(h.acts.FinishJob, activity.RegisterOptions{Name: workflows.ActFinishJob})
	return env
}

func workflowInput(job *db.ProvisionerJob) workflows.JobInput {
	return workflows.JobInput{JobID: job.ID, Type: job.Type}
}

// runWorkflow runs a job's workflow to its end and returns its error.
func (h *harness) runWorkflow(job *db.ProvisionerJob) error {
	env := h.workflowEnv()
	env.ExecuteWorkflow(workflows.ProvisionerJob, workflowInput(job))
	require.True(h.t, env.IsWorkflowCompleted())
	return env.GetWorkflowError()
}

// asBuild makes a job a build: what RunJob refuses on a lost worker
// depends on the job type alone, so it need not be a real one.
func (h *harness) asBuild(job *db.ProvisionerJob) *db.ProvisionerJob {
	_, err := h.db.NewUpdate().Model((*db.ProvisionerJob)(nil)).
		Set("type = ?", db.JobTypeWorkspaceBuild).Where("id = ?", job.ID).Exec(h.ctx)
	require.NoError(h.t, err)
	return h.job(job.ID)
}

func TestWorkflowImportSucceeds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	require.NoError(t, h.runWorkflow(job))

	got := h.job(job.ID)
	require.Equal(t, db.JobSucceeded, got.Status)
	require.Equal(t, 1, got.Attempts)
	require.Equal(t, h.workerID, got.WorkerID.UUID)
	require.Equal(t, []string{stageSetup, stageParse, stagePersistent, stageEphemeral, stageCleanup}, headers(h.logs(job.ID)))
}

// lostWorker makes the job look like another worker claimed it and then
// died (as Temporal sees it: its workflow task timed out and came to this
// worker): the job is claimed by someone else (taking it from any earlier
// one), with a Setting up line, and before (if given) runs; the claim
// lapses after the harness's ClaimLapse.
func (h *harness) lostWorker(job *db.ProvisionerJob, before func(ctx context.Context, jobID uuid.UUID) error) {
	h.t.Helper()
	_, err := h.store.ClaimJob(h.ctx, job.ID, db.Claim{WorkerID: uuid.New(), StaleBefore: db.Now().Add(time.Hour)})
	require.NoError(h.t, err)
	require.NoError(h.t, h.store.AppendLogs(h.ctx, job.ID, []db.ProvisionerJobLog{{
		CreatedAt: db.Now(), Source: db.LogSourceDaemon, Level: provisioner.LevelInfo, Stage: stageSetup,
	}}))
	if before != nil {
		require.NoError(h.t, before(h.ctx, job.ID))
	}
}

func TestWorkflowImportTakesOverFromLostWorker(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	h.lostWorker(job, nil)
	require.NoError(t, h.runWorkflow(job))

	got := h.job(job.ID)
	require.Equal(t, db.JobSucceeded, got.Status, "the worker took the job over once the lost one's claim lapsed")
	require.Equal(t, h.workerID, got.WorkerID.UUID)
	require.Equal(t, 2, got.Attempts)
	logs := h.logs(job.ID)
	requireLogShape(t, logs)
	retry := findLog(t, logs, "Retrying (attempt 2): the previous attempt did not finish.")
	require.Equal(t, provisioner.LevelWarn, retry.Level)
	require.Equal(t, stageSetup, retry.Stage)
}

func TestWorkflowImportGivesUpAfterLosingWorkers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	for range activities.MaxJobAttempts {
		h.lostWorker(job, nil)
	}
	require.NoError(t, h.runWorkflow(job))

	got := h.job(job.ID)
	require.Equal(t, db.JobFailed, got.Status)
	require.Equal(t, "provisioner worker lost: 3 workers stopped while running this job", got.Error)
}

// TestWorkflowBuildLostWorkersExhaustResumptions: a build resumes after a
// lost worker at most BuildResumptions times; the next takeover fails it,
// saying why, and the state its last checkpoint recorded becomes the
// build's (the checkpoint is gone).
func TestWorkflowBuildLostWorkersExhaustResumptions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	job = h.asBuild(job)
	for range workflows.DefaultBuildResumptions + 1 {
		h.lostWorker(job, nil)
	}
	require.NoError(t, h.runWorkflow(job))

	got := h.job(job.ID)
	require.Equal(t, db.JobFailed, got.Status)
	require.Equal(t, "provisioner worker lost: the workers running this build stopped 3 times; "+
		"a build resumes at most 2 times (--build-resumptions)", got.Error)
	logs := h.logs(job.ID)
	last := logs[len(logs)-1]
	require.Equal(t, got.Error, last.Output)
	require.Equal(t, provisioner.LevelError, last.Level)
	require.Equal(t, stageSetup, last.Stage)
}

// TestWorkflowBuildOfNonResumableProvisionerFails: a build whose
// provisioner cannot resume fails when its worker is lost, saying so.
func TestWorkflowBuildOfNonResumableProvisionerFails(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, func(o *activities.Options) {
		o.Provisioners = map[string]provisioner.Provisioner{"echo": plainProvisioner{echo.New()}}
	})
	job, _ := h.createImport(demoSpec)
	job = h.asBuild(job)
	h.lostWorker(job, nil)
	require.NoError(t, h.runWorkflow(job))

	got := h.job(job.ID)
	require.Equal(t, db.JobFailed, got.Status)
	require.Equal(t, "provisioner worker lost: the worker running this build stopped, and the echo provisioner "+
		"cannot resume an interrupted apply", got.Error)
}

// plainProvisioner hides the Resumer of the provisioner it wraps.
type plainProvisioner struct{ provisioner.Provisioner }

// TestWorkflowCanceledJobOfLostWorkerEnds: a user cancels a running import
// whose worker then dies before it sees the cancel. The worker that gets the
// workflow may not claim a canceled job, but the workflow must still not
// close while the row stays active ("canceling" forever: nothing else
// completes it, and a cancel re-sent by the reconciler finds the workflow
// closed).
func TestWorkflowCanceledJobOfLostWorkerEnds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	h.lostWorker(job, func(ctx context.Context, jobID uuid.UUID) error {
		_, err := h.store.CancelJob(ctx, jobID)
		return err
	})
	_ = h.runWorkflow(job) // ends canceled

	got := h.job(job.ID)
	require.NotNil(t, got.CompletedAt, "the job is still %s after its workflow closed", got.Status)
	require.Equal(t, db.JobCanceled, got.Status)
}

// TestWorkflowWaitsForLiveClaim: a worker whose claim is live (it still
// touches the job, say cut off from Temporal only) keeps the job; another
// worker handed the workflow waits, and the job is run once.
func TestWorkflowWaitsForLiveClaim(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	other := uuid.New()
	_, err := h.store.ClaimJob(h.ctx, job.ID, db.Claim{WorkerID: other})
	require.NoError(t, err)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		// The other worker stays alive a while, then finishes the job.
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if i == 25 {
				_, _ = h.store.CompleteJob(h.ctx, job.ID, db.Completion{WorkerID: other})
				return
			}
			_, _ = h.store.TouchJob(h.ctx, job.ID, other)
		}
	}()
	defer func() { close(stop); <-done }()
	require.NoError(t, h.runWorkflow(job))

	got := h.job(job.ID)
	require.Equal(t, db.JobSucceeded, got.Status)
	require.Equal(t, other, got.WorkerID.UUID, "the live worker kept the job")
	require.Equal(t, 1, got.Attempts, "the waiting worker never ran it")
}

func TestWorkflowInfrastructureFailureExhaustsRetries(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, func(o *activities.Options) {
		o.WorkDir = filepath.Join(t.TempDir(), "missing") // every attempt fails to create its directory
	})
	job, _ := h.createImport(demoSpec)
	require.Error(t, h.runWorkflow(job))

	got := h.job(job.ID)
	require.Equal(t, db.JobFailed, got.Status)
	require.Contains(t, got.Error, "create job directory")
	logs := h.logs(job.ID)
	requireLogShape(t, logs)
	for _, attempt := range []string{"2", "3"} {
		findLog(t, logs, "Retrying (attempt "+attempt+"): the previous attempt did not finish.")
	}
	last := logs[len(logs)-1]
	require.Equal(t, got.Error, last.Output, "FinishJob wrote the cause as the last line")
	require.Equal(t, provisioner.LevelError, last.Level)
}
