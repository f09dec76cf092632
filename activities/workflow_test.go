package activities_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/berth-dev/berth/activities"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/workflows"
)

// These tests run the real activities under the real ProvisionerJob
// workflow (in the SDK's test environment) against Postgres, to check what
// the pair leaves in the job row.

type runJobFunc = func(context.Context, workflows.RunJobInput) (workflows.RunJobResult, error)

// workflowEnv registers the workflow, FinishJob and runJob (the real
// RunJob unless a wrapper is given).
func (h *harness) workflowEnv(runJob runJobFunc) *testsuite.TestWorkflowEnvironment {
	env := h.suite().NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.ProvisionerJob)
	if runJob == nil {
		runJob = h.acts.RunJob
	}
	env.RegisterActivityWithOptions(runJob, activity.RegisterOptions{Name: workflows.ActRunJob})
	env.RegisterActivityWithOptions(h.acts.FinishJob, activity.RegisterOptions{Name: workflows.ActFinishJob})
	return env
}

func workflowInput(job *db.ProvisionerJob) workflows.JobInput {
	return workflows.JobInput{JobID: job.ID, ActivityQueue: job.TaskQueue, ControlQueue: "berth-control", Type: job.Type}
}

func TestWorkflowImportSucceeds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	env := h.workflowEnv(nil)
	env.ExecuteWorkflow(workflows.ProvisionerJob, workflowInput(job))
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	got := h.job(job.ID)
	require.Equal(t, db.JobSucceeded, got.Status)
	require.Equal(t, []string{stageSetup, stageParse, stagePersistent, stageEphemeral, stageCleanup}, headers(h.logs(job.ID)))
}

// lostWorker is a RunJob whose first attempt behaves like a worker that
// claimed the job and died: before Temporal notices the missing heartbeats,
// before is run against the database. Later attempts are the real RunJob.
func lostWorker(h *harness, before func(ctx context.Context, jobID uuid.UUID) error) runJobFunc {
	return func(ctx context.Context, in workflows.RunJobInput) (workflows.RunJobResult, error) {
		if activity.GetInfo(ctx).Attempt > 1 {
			return h.acts.RunJob(ctx, in)
		}
		_, err := h.store.ClaimJob(ctx, in.JobID, uuid.New(), false)
		if err != nil {
			return workflows.RunJobResult{}, err
		}
		if err := h.store.AppendLogs(ctx, in.JobID, []db.ProvisionerJobLog{{
			CreatedAt: db.Now(), Source: db.LogSourceDaemon, Level: provisioner.LevelInfo, Stage: stageSetup,
		}}); err != nil {
			return workflows.RunJobResult{}, err
		}
		if before != nil {
			if err := before(ctx, in.JobID); err != nil {
				return workflows.RunJobResult{}, err
			}
		}
		return workflows.RunJobResult{}, temporal.NewHeartbeatTimeoutError()
	}
}

func TestWorkflowImportTakesOverFromLostWorker(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	env := h.workflowEnv(lostWorker(h, nil))
	env.ExecuteWorkflow(workflows.ProvisionerJob, workflowInput(job))
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	got := h.job(job.ID)
	require.Equal(t, db.JobSucceeded, got.Status, "the retry took the job over and finished it")
	require.Equal(t, h.workerID, got.WorkerID.UUID)
	logs := h.logs(job.ID)
	requireLogShape(t, logs)
	retry := findLog(t, logs, "Retrying (attempt 2): the previous attempt did not finish.")
	require.Equal(t, provisioner.LevelWarn, retry.Level)
	require.Equal(t, stageSetup, retry.Stage)
}

func TestWorkflowBuildLostWorkerFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	in := workflowInput(job)
	in.Type = workflows.JobTypeBuild // builds are not retried
	env := h.workflowEnv(lostWorker(h, nil))
	env.ExecuteWorkflow(workflows.ProvisionerJob, in)
	require.True(t, env.IsWorkflowCompleted())
	require.Error(t, env.GetWorkflowError())

	got := h.job(job.ID)
	require.Equal(t, db.JobFailed, got.Status)
	require.Equal(t, "provisioner worker lost: no heartbeat for 15s", got.Error)
	logs := h.logs(job.ID)
	last := logs[len(logs)-1]
	require.Equal(t, got.Error, last.Output)
	require.Equal(t, provisioner.LevelError, last.Level)
	require.Equal(t, stageSetup, last.Stage)
}

// TestWorkflowCanceledJobOfLostWorkerEnds: a user cancels a running import
// whose worker then dies before it sees the cancel. The retried RunJob may
// not claim a canceled job, but the workflow must still not close while the
// row stays active ("canceling" forever: nothing else completes it, and a
// cancel re-sent by the reconciler finds the workflow closed).
func TestWorkflowCanceledJobOfLostWorkerEnds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	env := h.workflowEnv(lostWorker(h, func(ctx context.Context, jobID uuid.UUID) error {
		_, err := h.store.CancelJob(ctx, jobID)
		return err
	}))
	env.ExecuteWorkflow(workflows.ProvisionerJob, workflowInput(job))
	require.True(t, env.IsWorkflowCompleted())

	got := h.job(job.ID)
	require.NotNil(t, got.CompletedAt, "the job is still %s after its workflow closed", got.Status)
	require.Equal(t, db.JobCanceled, got.Status)
}

func TestWorkflowInfrastructureFailureExhaustsRetries(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, func(o *activities.Options) {
		o.WorkDir = filepath.Join(t.TempDir(), "missing") // every attempt fails to create its directory
	})
	job, _ := h.createImport(demoSpec)
	env := h.workflowEnv(nil)
	env.ExecuteWorkflow(workflows.ProvisionerJob, workflowInput(job))
	require.True(t, env.IsWorkflowCompleted())
	require.Error(t, env.GetWorkflowError())

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
