package dispatch

import (
	"context"
	"log/slog"
	"time"

	"github.com/coder/quartz"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/metrics"
)

// Reconciler repairs what a crash or an absent worker can leave behind:
// pending jobs no worker dispatched (their workflows start on the job's
// queue, where they wait for a worker in the open), and canceled jobs whose
// cancel never reached their workflow.
type Reconciler struct {
	d     *Dispatcher
	store *db.Store
	clock quartz.Clock
	log   *slog.Logger
	// Grace is how old a job must be before the reconciler acts on it, so
	// it does not race the request that is starting it.
	Grace time.Duration
	// Interval is how often Run calls RunOnce.
	Interval time.Duration
	// Metrics, if set, counts what the reconciler does.
	Metrics *metrics.Control
}

// NewReconciler returns a Reconciler with a 5 s grace and interval.
func NewReconciler(d *Dispatcher, store *db.Store, clock quartz.Clock, log *slog.Logger) *Reconciler {
	return &Reconciler{d: d, store: store, clock: clock, log: log, Grace: 5 * time.Second, Interval: 5 * time.Second}
}

// Run calls RunOnce every Interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	t := r.clock.TickerFunc(ctx, r.Interval, func() error {
		if err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("reconcile jobs", "err", err)
		}
		return nil
	}, "reconciler")
	return t.Wait()
}

// RunOnce starts missing workflows and re-sends lost cancels once.
func (r *Reconciler) RunOnce(ctx context.Context) error {
	cutoff := r.clock.Now().UTC().Add(-r.Grace)
	pending, err := r.store.JobsWithoutWorkflow(ctx, cutoff, 100)
	if err != nil {
		return err
	}
	for _, j := range pending {
		if err := r.d.Start(ctx, j.ID); err != nil {
			r.log.Warn("start workflow of orphaned job", "job_id", j.ID, "err", err)
			continue
		}
		if err := r.store.MarkWorkflowStarted(ctx, j.ID); err != nil {
			return err
		}
		r.Metrics.Reconciled(metrics.ReconcileStart)
		r.log.Info("started the workflow of a job no worker dispatched", "job_id", j.ID, "task_queue", j.TaskQueue)
	}
	canceling, err := r.store.CancelingJobs(ctx, cutoff, 100)
	if err != nil {
		return err
	}
	for _, j := range canceling {
		if err := r.d.Cancel(ctx, j); err != nil {
			r.log.Warn("re-send job cancel", "job_id", j.ID, "err", err)
			continue
		}
		r.Metrics.Reconciled(metrics.ReconcileCancel)
	}
	return nil
}
