package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/coder/quartz"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/db"
)

// Reaper is the backstop that ends jobs nothing will finish: pending jobs no
// worker took and started jobs whose worker went silent. Temporal's
// timeouts usually end them first; the reaper covers every job type.
type Reaper struct {
	d     *Dispatcher
	store *db.Store
	clock quartz.Clock
	log   *slog.Logger
	// PendingAfter and HungAfter are how long a job may sit untouched.
	PendingAfter, HungAfter time.Duration
	// Interval is how often Run reaps; Batch caps jobs per pass.
	Interval time.Duration
	Batch    int
}

// NewReaper returns a Reaper with Coder's defaults: 30 min pending, 5 min
// hung, every 30 s, 10 jobs a pass.
func NewReaper(d *Dispatcher, store *db.Store, clock quartz.Clock, log *slog.Logger) *Reaper {
	return &Reaper{d: d, store: store, clock: clock, log: log,
		PendingAfter: 30 * time.Minute, HungAfter: 5 * time.Minute, Interval: 30 * time.Second, Batch: 10}
}

// Run reaps every Interval until ctx ends.
func (r *Reaper) Run(ctx context.Context) error {
	t := r.clock.TickerFunc(ctx, r.Interval, func() error {
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("reap jobs", "err", err)
		}
		return nil
	}, "reaper")
	return t.Wait()
}

// RunOnce reaps one batch and returns the IDs of the jobs it ended.
func (r *Reaper) RunOnce(ctx context.Context) ([]uuid.UUID, error) {
	now := r.clock.Now().UTC()
	var reaped []uuid.UUID
	err := r.store.InTx(ctx, func(tx *db.Store) error {
		jobs, err := tx.ReapCandidates(ctx, now.Add(-r.PendingAfter), now.Add(-r.HungAfter), r.Batch)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			kind, after := "hung", r.HungAfter
			if j.StartedAt == nil {
				kind, after = "pending", r.PendingAfter
			}
			minutes := int(after.Minutes())
			stage, err := tx.GetLastLogStage(ctx, j.ID)
			if err != nil {
				return err
			}
			if stage == "" {
				stage = "Unknown"
			}
			logs := make([]db.ProvisionerJobLog, 0, 5)
			for _, out := range []string{"", "====================",
				fmt.Sprintf("Coder: Build has been detected as %s for %d minutes and will be terminated.", kind, minutes),
				"====================", ""} {
				logs = append(logs, db.ProvisionerJobLog{CreatedAt: db.Now(), Source: db.LogSourceDaemon, Level: "error", Stage: stage, Output: out})
			}
			if _, err := tx.CompleteJob(ctx, j.ID, db.Completion{
				Error: fmt.Sprintf("Coder: Build has been detected as %s for %d minutes and has been terminated by the reaper.", kind, minutes),
				Logs:  logs,
			}); err != nil {
				return err
			}
			reaped = append(reaped, j.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range reaped {
		r.log.Warn("reaped abandoned job", "job_id", id)
		if err := r.d.Cancel(ctx, id); err != nil {
			r.log.Warn("cancel reaped job's workflow", "job_id", id, "err", err)
		}
	}
	return reaped, nil
}
