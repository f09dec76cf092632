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

// Activity timeouts (STYLE.md T3).
const (
	RunJobScheduleToStart = 30 * time.Minute
	RunJobStartToClose    = time.Hour
	RunJobHeartbeat       = 15 * time.Second
)

func runOptions(in JobInput) workflow.ActivityOptions {
	attempts := int32(3)
	if in.Type == JobTypeBuild {
		attempts = 1 // an apply is not idempotent
	}
	return workflow.ActivityOptions{
		TaskQueue:              in.ActivityQueue,
		ScheduleToStartTimeout: RunJobScheduleToStart,
		StartToCloseTimeout:    RunJobStartToClose,
		HeartbeatTimeout:       RunJobHeartbeat,
		WaitForCancellation:    true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			MaximumAttempts:        attempts,
			NonRetryableErrorTypes: []string{ErrTypeInvalidTemplate},
		},
	}
}

func finishOptions(in JobInput) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:              in.ControlQueue,
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second,
			MaximumInterval: time.Minute,
		},
	}
}

// ProvisionerJob runs one provisioner job (import, dry-run or build). Its
// workflow ID is the job ID. RunJob completes the job row when the
// provisioner ends; when it cannot (cancellation, a lost worker, a timeout,
// exhausted retries) FinishJob writes the terminal state, so the row never
// stays active once the workflow has closed.
func ProvisionerJob(ctx workflow.Context, in JobInput) (err error) {
	defer func() {
		canceled := errors.Is(ctx.Err(), workflow.ErrCanceled)
		if err == nil && !canceled {
			// RunJob completed the row, or found it already finished.
			return
		}
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		dctx = workflow.WithActivityOptions(dctx, finishOptions(in))
		fin := FinishJobInput{JobID: in.JobID, Canceled: canceled}
		if !canceled && err != nil {
			fin.Cause = FailureText(err)
		}
		if ferr := workflow.ExecuteActivity(dctx, ActFinishJob, fin).Get(dctx, nil); ferr != nil {
			err = ferr
		}
	}()
	return runJob(ctx, in)
}

// SignalReroute tells a job's workflow that workers on another task queue
// (the signal's string value) can run the job. Workers send it for pending
// jobs that no online worker could take when they were enqueued.
const SignalReroute = "reroute"

// runJob schedules RunJob on the job's queue, and again on every queue a
// reroute signal names. The first attempt to claim the job runs it; the
// others find it claimed and return, or are canceled before they start.
func runJob(ctx workflow.Context, in JobInput) error {
	type attempt struct {
		cancel workflow.CancelFunc
		done   bool
	}
	var (
		attempts []*attempt
		queues   = map[string]bool{}
		result   error
		finished bool
	)
	sel := workflow.NewSelector(ctx)
	start := func(queue string) {
		if queues[queue] {
			return
		}
		queues[queue] = true
		opts := runOptions(in)
		opts.TaskQueue = queue
		actx, cancel := workflow.WithCancel(ctx)
		actx = workflow.WithActivityOptions(actx, opts)
		a := &attempt{cancel: cancel}
		attempts = append(attempts, a)
		sel.AddFuture(workflow.ExecuteActivity(actx, ActRunJob, RunJobInput{JobID: in.JobID}), func(f workflow.Future) {
			a.done = true
			var res RunJobResult
			err := f.Get(ctx, &res)
			others := 0
			for _, o := range attempts {
				if !o.done {
					others++
				}
			}
			var timeout *temporal.TimeoutError
			switch {
			case ctx.Err() != nil:
				// Canceled: wait until every attempt has stopped.
				result, finished = err, others == 0
			case err == nil && (res.Completed || others == 0):
				result, finished = nil, true
			case err == nil:
				// This attempt found the job claimed by another one.
			case others > 0 && errors.As(err, &timeout) && timeout.TimeoutType() == enums.TIMEOUT_TYPE_SCHEDULE_TO_START:
				// A superseded queue nobody polls; another attempt remains.
			default:
				result, finished = err, true
			}
		})
	}
	start(in.ActivityQueue)
	reroute := workflow.GetSignalChannel(ctx, SignalReroute)
	sel.AddReceive(reroute, func(c workflow.ReceiveChannel, _ bool) {
		var queue string
		c.Receive(ctx, &queue)
		if queue != "" {
			start(queue)
		}
	})
	for !finished {
		sel.Select(ctx)
	}
	for _, a := range attempts {
		if !a.done {
			a.cancel()
		}
	}
	return result
}

// FailureText turns a RunJob failure into the error a user reads on the job.
func FailureText(err error) string {
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		switch timeoutErr.TimeoutType() {
		case enums.TIMEOUT_TYPE_HEARTBEAT:
			return fmt.Sprintf("provisioner worker lost: no heartbeat for %s", RunJobHeartbeat)
		case enums.TIMEOUT_TYPE_SCHEDULE_TO_START:
			return fmt.Sprintf("no provisioner picked up the job within %s", RunJobScheduleToStart)
		case enums.TIMEOUT_TYPE_START_TO_CLOSE:
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
