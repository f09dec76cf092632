package workflows

import (
	"errors"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Timeouts of ProvisionerJobV1's RunJob activity (STYLE.md T3).
const (
	RunJobScheduleToStart = 30 * time.Minute
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

func finishOptionsV1(in JobInput) workflow.ActivityOptions {
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

// ProvisionerJobV1 is the job workflow of berth releases before workers
// dispatched their own jobs: it ran on the workflows queue (in berth
// server) and scheduled RunJob as an activity on the job's task queue,
// FinishJob on the control queue. It is registered as "ProvisionerJob" on
// the workflows queue only, so workflows started by an earlier release
// finish after an upgrade; nothing starts new ones. Its recorded histories
// (testdata/histories/v1) replay against it in every test run.
func ProvisionerJobV1(ctx workflow.Context, in JobInput) (err error) {
	defer func() {
		canceled := errors.Is(ctx.Err(), workflow.ErrCanceled)
		if err == nil && !canceled {
			// RunJob completed the row, or found it already finished.
			return
		}
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		dctx = workflow.WithActivityOptions(dctx, finishOptionsV1(in))
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

// SignalReroute told a ProvisionerJobV1 workflow that workers on another
// task queue (the signal's string value) can run the job.
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
