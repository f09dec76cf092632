// Package dispatch is the API's only caller of Temporal: it cancels job
// workflows, and its reconciler starts the workflows of jobs no worker
// dispatched (workers start their jobs' workflows themselves) and re-sends
// lost cancels; its reaper ends jobs nothing will finish.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/tracing"
	"github.com/berth-dev/berth/workflows"
)

// Dispatcher starts workflows for jobs no worker dispatched, and cancels
// job workflows.
type Dispatcher struct {
	temporal client.Client
	store    *db.Store
	queues   workflows.Queues
	log      *slog.Logger
}

// New returns a Dispatcher.
func New(tc client.Client, store *db.Store, queues workflows.Queues, log *slog.Logger) *Dispatcher {
	return &Dispatcher{temporal: tc, store: store, queues: queues, log: log}
}

// Queues returns the task queue names the dispatcher uses.
func (d *Dispatcher) Queues() workflows.Queues { return d.queues }

// Start starts the workflow of a committed job on the job's task queue,
// where any worker of the queue takes it. Workers normally start their
// jobs' workflows themselves, at once; this is the reconciler's fallback
// for jobs no worker took (none runs, or all are full). Starting a job
// whose workflow already exists (running or closed) succeeds.
func (d *Dispatcher) Start(ctx context.Context, jobID uuid.UUID) error {
	f, err := d.store.GetJobFacts(ctx, jobID)
	if err != nil {
		return err
	}
	facts := workflows.JobFacts(*f)
	_, err = d.temporal.ExecuteWorkflow(tracing.WithParent(ctx, f.TraceParent), facts.StartOptions(false), workflows.WorkflowProvisionerJob, facts.Input())
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &already) {
		return fmt.Errorf("start job workflow: %w", err)
	}
	return nil
}

// Cancel tells a canceled job's workflow. A job that was still pending
// completed with its cancel, and nothing of its workflow (if it has one
// yet) needs to run: it is terminated. A running job's workflow is
// canceled; its worker also sees the cancel in the job row. A workflow
// that does not exist or already closed is not an error.
func (d *Dispatcher) Cancel(ctx context.Context, job *db.ProvisionerJob) error {
	var err error
	if job.CompletedAt != nil {
		err = d.temporal.TerminateWorkflow(ctx, job.ID.String(), "", "canceled before a worker took the job")
	} else {
		err = d.temporal.CancelWorkflow(ctx, job.ID.String(), "")
	}
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("cancel job workflow: %w", err)
	}
	return nil
}
