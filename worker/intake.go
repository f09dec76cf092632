package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/berth-dev/berth/activities"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/tracing"
	"github.com/berth-dev/berth/workflows"
)

// Intake timing.
const (
	// scanInterval is how often a worker looks in Postgres for pending jobs
	// of its queue that it was not told about (a notification missed while
	// it reconnected, or a job that arrived while it was full).
	scanInterval = 2 * time.Second
	// scanGrace keeps a scan away from jobs whose notification is still on
	// its way.
	scanGrace = 500 * time.Millisecond
	// parallelDispatches bounds the dispatches (a Temporal start each) a
	// worker has in flight.
	parallelDispatches = 4
)

// intake takes new jobs of the worker's queue: the API commits a job and
// announces it on db.JobQueuedChannel; every worker of the queue with room
// for it tries to dispatch it, and the one that wins starts the job's
// workflow eagerly, so the workflow's first task, which runs the job, comes
// straight back to this process instead of through a task queue. Jobs no
// worker took at once get their workflow from the reconciler on the queue,
// and any worker of the queue takes them from Temporal.
type intake struct {
	opts  Options
	queue string
	acts  *activities.Activities

	sem chan struct{} // one token per dispatch in flight
	wg  sync.WaitGroup
}

func newIntake(opts Options, queue string, acts *activities.Activities) *intake {
	return &intake{opts: opts, queue: queue, acts: acts, sem: make(chan struct{}, parallelDispatches)}
}

// run listens for queued jobs until ctx ends, reconnecting as needed, and
// returns once no dispatch is in flight.
func (in *intake) run(ctx context.Context) error {
	defer in.wg.Wait()
	for ctx.Err() == nil {
		if err := in.listen(ctx); err != nil && ctx.Err() == nil {
			in.opts.Log.Warn("queued job listener lost its connection", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

func (in *intake) listen(ctx context.Context) error {
	ln, err := in.opts.Store.ListenJobQueued(ctx)
	if err != nil {
		return err
	}
	defer ln.Close()
	if in.opts.Listening != nil {
		in.opts.Listening.Store(true)
		defer in.opts.Listening.Store(false)
	}
	for {
		// What was queued while not listening, or while full.
		in.scan(ctx)
		deadline := time.Now().Add(scanInterval)
		for time.Now().Before(deadline) {
			ev, ok, err := ln.Receive(ctx, time.Until(deadline))
			if err != nil {
				return err
			}
			if ok && ev.TaskQueue == in.queue && in.hasRoom() {
				in.dispatchAsync(ctx, ev.JobID)
			}
		}
	}
}

// hasRoom reports whether the worker can run one more job.
func (in *intake) hasRoom() bool {
	return activities.Running(in.acts) < in.opts.MaxConcurrentJobs
}

// scan dispatches the oldest pending jobs of the queue that have no
// workflow yet, as many as the worker has room for.
func (in *intake) scan(ctx context.Context) {
	room := in.opts.MaxConcurrentJobs - activities.Running(in.acts)
	if room <= 0 {
		return
	}
	ids, err := in.opts.Store.UndispatchedJobs(ctx, in.queue, db.Now().Add(-scanGrace), room)
	if err != nil {
		if ctx.Err() == nil {
			in.opts.Log.Warn("look for pending jobs", "err", err)
		}
		return
	}
	for _, id := range ids {
		in.dispatchAsync(ctx, id)
	}
}

// dispatchAsync dispatches a job in the background, once fewer than
// parallelDispatches are in flight.
func (in *intake) dispatchAsync(ctx context.Context, jobID uuid.UUID) {
	select {
	case in.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	in.wg.Go(func() {
		defer func() { <-in.sem }()
		in.dispatch(ctx, jobID, false)
	})
}

// dispatch starts a pending job's workflow on this worker, unless another
// worker does. With restart, a workflow the job already has (waiting on a
// queue no worker polls) is replaced.
func (in *intake) dispatch(ctx context.Context, jobID uuid.UUID, restart bool) {
	_, err := in.opts.Store.DispatchJob(ctx, jobID, in.queue, restart, func(f *db.JobFacts) error {
		facts := workflows.JobFacts(*f)
		opts := facts.StartOptions(true)
		if restart {
			opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING
		}
		_, err := in.opts.Temporal.ExecuteWorkflow(tracing.WithParent(ctx, f.TraceParent), opts, workflows.WorkflowProvisionerJob, facts.Input())
		if _, already := errors.AsType[*serviceerror.WorkflowExecutionAlreadyStarted](err); already {
			return nil // another process started it: its worker claims the job
		}
		return err
	})
	if err != nil && ctx.Err() == nil {
		// The job stays pending: a later scan, another worker or the
		// reconciler starts it.
		in.opts.Log.Warn("dispatch job", "job_id", jobID, "err", err)
	}
}

// adopt takes over pending jobs that only this worker's tag set can run
// (they were enqueued before any matching worker existed) and dispatches
// them here.
func (in *intake) adopt(ctx context.Context) {
	jobs, err := in.opts.Store.AdoptJobs(ctx, in.opts.ID, 100)
	if err != nil {
		if ctx.Err() == nil {
			in.opts.Log.Warn("adopt pending jobs", "err", err)
		}
		return
	}
	for _, j := range jobs {
		in.opts.Log.Info("adopted pending job", "job_id", j.ID, "task_queue", j.TaskQueue)
		in.dispatch(ctx, j.ID, j.WorkflowStartedAt != nil)
	}
}
