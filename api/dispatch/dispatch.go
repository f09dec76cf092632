// Package dispatch is the API's only caller of Temporal: it starts job
// workflows after their rows commit, cancels them, and reconciles jobs whose
// workflow start or cancel was lost (a crash between commit and call).
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/workflows"
)

// Dispatcher starts and cancels job workflows.
type Dispatcher struct {
	temporal client.Client
	store    *db.Store
	queues   workflows.Queues
	log      *slog.Logger
	eager    bool
}

// New returns a Dispatcher.
func New(tc client.Client, store *db.Store, queues workflows.Queues, log *slog.Logger) *Dispatcher {
	return &Dispatcher{temporal: tc, store: store, queues: queues, log: log}
}

// EnableEagerStart makes Start ask Temporal to hand the first workflow task
// straight back to this process, saving a round trip through the task
// queue. Only call it when this process runs a workflow worker on the
// workflows queue with the same client.
func (d *Dispatcher) EnableEagerStart() { d.eager = true }

// Queues returns the task queue names the dispatcher uses.
func (d *Dispatcher) Queues() workflows.Queues { return d.queues }

// Start starts the workflow of a committed job. Starting a job whose
// workflow already exists (running or closed) succeeds.
func (d *Dispatcher) Start(ctx context.Context, job *db.ProvisionerJob, attrs workflows.JobAttrs, memo map[string]any) error {
	_, err := d.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    job.ID.String(),
		TaskQueue:             d.queues.Workflows(),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: attrs.SearchAttributes(),
		Memo:                  memo,
		EnableEagerStart:      d.eager,
	}, workflows.ProvisionerJob, workflows.JobInput{
		JobID:         job.ID,
		ActivityQueue: job.TaskQueue,
		ControlQueue:  d.queues.Control(),
		Type:          job.Type,
	})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &already) {
		return fmt.Errorf("start job workflow: %w", err)
	}
	return nil
}

// Cancel requests cancellation of a job's workflow. A workflow that does
// not exist or already closed is not an error.
func (d *Dispatcher) Cancel(ctx context.Context, jobID uuid.UUID) error {
	err := d.temporal.CancelWorkflow(ctx, jobID.String(), "")
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("cancel job workflow: %w", err)
	}
	return nil
}
