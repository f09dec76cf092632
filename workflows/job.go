package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Job types (as stored in provisioner_jobs.type).
const (
	JobTypeImport = "template_version_import"
	JobTypeDryRun = "template_version_dry_run"
	JobTypeBuild  = "workspace_build"
)

// WorkflowProvisionerJob is the registered name of the job workflow.
const WorkflowProvisionerJob = "ProvisionerJob"

// Job time limits.
const (
	// RunJobStartToClose is the longest a job may run.
	RunJobStartToClose = time.Hour
	// JobTaskTimeout is how long a worker may stay silent before Temporal
	// gives the job's workflow task to another worker of the job's queue,
	// which takes the job over. While a job runs, its worker proves it is
	// alive at 80% of this interval.
	JobTaskTimeout = 10 * time.Second
)

// runLocalOptions are RunJob's options: imports and dry-runs are retried on
// infrastructure errors, builds are not (an apply is not idempotent).
func runLocalOptions(in JobInput) workflow.LocalActivityOptions {
	attempts := int32(3)
	if in.Type == JobTypeBuild {
		attempts = 1
	}
	return workflow.LocalActivityOptions{
		StartToCloseTimeout: RunJobStartToClose,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			MaximumAttempts:        attempts,
			NonRetryableErrorTypes: []string{ErrTypeInvalidTemplate},
		},
	}
}

// finishLocalOptions are FinishJob's: it only writes the database, and is
// retried until the database answers.
var finishLocalOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    30 * time.Second,
	ScheduleToCloseTimeout: time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: time.Second,
		MaximumInterval: time.Minute,
	},
}

// ProvisionerJob runs one provisioner job (import, dry-run or build). Its
// workflow ID is the job ID, and it runs on the job's task queue, on a
// worker that can run the job: usually the worker that claimed the job
// from Postgres started it there itself (JobFacts.StartOptions with eager
// start), so the job begins without a task-queue round trip.
//
// RunJob, CancelJob and FinishJob are local activities of this workflow
// task: the job costs two Temporal writes (start, completion) instead of
// one per hand-off. RunJob completes the job row when the provisioner ends;
// when it cannot (a timeout, exhausted retries) FinishJob writes the
// terminal state, so the row never stays active once the workflow has
// closed. A worker lost mid-job stops proving it is alive; after
// JobTaskTimeout Temporal hands the workflow task to another worker of the
// queue, whose RunJob takes the job over (activities.RunJob decides how).
//
// A cancel reaches the job through its row, which the API marks before it
// cancels the workflow: RunJob sees it, stops the provisioner and ends the
// job keeping what it left (a build's partial state). So RunJob is never
// cut short by the workflow's cancellation (a canceled local activity is
// abandoned, not stopped); a cancel that comes through Temporal alone marks
// the row with CancelJob, to the same effect.
func ProvisionerJob(ctx workflow.Context, in JobInput) (err error) {
	rctx, _ := workflow.NewDisconnectedContext(ctx)
	run := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(rctx, runLocalOptions(in)),
		ActRunJob, RunJobInput{JobID: in.JobID})
	var res RunJobResult
	done, canceled := false, false
	for !done {
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(run, func(f workflow.Future) {
			err = f.Get(rctx, &res)
			done = true
		})
		if !canceled {
			sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {
				canceled = true
				cctx := workflow.WithLocalActivityOptions(rctx, finishLocalOptions)
				if cerr := workflow.ExecuteLocalActivity(cctx, ActCancelJob, CancelJobInput{JobID: in.JobID}).Get(cctx, nil); cerr != nil {
					workflow.GetLogger(ctx).Warn("mark job canceled", "job_id", in.JobID, "err", cerr)
				}
			})
		}
		sel.Select(ctx)
	}
	if err != nil || canceled && !res.Completed {
		// RunJob did not end the job (a timeout, exhausted retries, or a
		// cancel it never saw): FinishJob does. (Without an error, RunJob
		// ended the job or found nothing to do: it was finished, or moved
		// to another queue.)
		fctx := workflow.WithLocalActivityOptions(rctx, finishLocalOptions)
		fin := FinishJobInput{JobID: in.JobID, Canceled: canceled}
		if !canceled && err != nil {
			fin.Cause = FailureText(err)
		}
		if ferr := workflow.ExecuteLocalActivity(fctx, ActFinishJob, fin).Get(fctx, nil); ferr != nil {
			return ferr
		}
	}
	if canceled {
		// The job ended canceled: so does the workflow, in Temporal's UI.
		return temporal.NewCanceledError()
	}
	return err
}

// FailureText turns a RunJob failure into the error a user reads on the job.
func FailureText(err error) string {
	// A local activity's error arrives wrapped in an ActivityError with
	// Temporal's decoration; what failed is its cause.
	var actErr *temporal.ActivityError
	if errors.As(err, &actErr) && actErr.Unwrap() != nil {
		err = actErr.Unwrap()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		switch timeoutErr.TimeoutType() {
		case enums.TIMEOUT_TYPE_HEARTBEAT:
			return fmt.Sprintf("provisioner worker lost: no heartbeat for %s", RunJobHeartbeat)
		case enums.TIMEOUT_TYPE_SCHEDULE_TO_START:
			return fmt.Sprintf("no provisioner picked up the job within %s", RunJobScheduleToStart)
		case enums.TIMEOUT_TYPE_START_TO_CLOSE, enums.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE:
			return fmt.Sprintf("job exceeded its time limit of %s", RunJobStartToClose)
		}
		return "job timed out"
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		// Message, not Error(): the latter adds Temporal's "(type: …,
		// retryable: …)" decoration that users should not read.
		msg := appErr.Message()
		if cause := errors.Unwrap(appErr); cause != nil && !strings.Contains(msg, cause.Error()) {
			msg += ": " + cause.Error()
		}
		return msg
	}
	var canceledErr *temporal.CanceledError
	if errors.As(err, &canceledErr) {
		return "canceled"
	}
	return err.Error()
}
