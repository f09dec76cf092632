package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/coder/quartz"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/metrics"
	"github.com/berth-dev/berth/workflows"
)

// Reaper is the backstop that ends jobs nothing will finish: pending jobs no
// worker took, started jobs whose worker went silent, and, sooner, jobs of
// a lost worker that no other worker will run (builds, and canceled jobs).
// It covers every job type.
type Reaper struct {
	d     *Dispatcher
	store *db.Store
	clock quartz.Clock
	log   *slog.Logger
	// PendingAfter and HungAfter are how long a job may sit untouched.
	PendingAfter, HungAfter time.Duration
	// LostAfter is how long a running build or a canceled job may go
	// untouched before its worker counts as lost (a running job is touched
	// every second).
	LostAfter time.Duration
	// BuildResumptions is how often a build whose worker was lost resumes
	// on another worker (workers are told the same, --build-resumptions):
	// a lost build is ended here only once it has used them all.
	BuildResumptions int
	// Interval is how often Run reaps; Batch caps jobs per pass.
	Interval time.Duration
	Batch    int
	// Metrics, if set, counts the jobs reaped.
	Metrics *metrics.Control
}

// NewReaper returns a Reaper with Coder's defaults, 30 min pending and 5 min
// hung, a lost worker after 15 s, every 5 s, 10 jobs of each kind a pass,
// and workflows.DefaultBuildResumptions.
func NewReaper(d *Dispatcher, store *db.Store, clock quartz.Clock, log *slog.Logger) *Reaper {
	return &Reaper{d: d, store: store, clock: clock, log: log,
		PendingAfter: 30 * time.Minute, HungAfter: 5 * time.Minute, LostAfter: 15 * time.Second,
		Interval: 5 * time.Second, Batch: 10, BuildResumptions: workflows.DefaultBuildResumptions}
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
	var reaped []*db.ProvisionerJob
	var actions []string
	err := r.store.InTx(ctx, func(tx *db.Store) error {
		reaped, actions = reaped[:0], actions[:0]
		lost, err := tx.LostJobs(ctx, now.Add(-r.LostAfter), r.Batch, r.BuildResumptions)
		if err != nil {
			return err
		}
		for _, j := range lost {
			action, err := r.endLost(ctx, tx, j)
			if err != nil {
				return err
			}
			reaped = append(reaped, j)
			actions = append(actions, action)
		}
		jobs, err := tx.ReapCandidates(ctx, now.Add(-r.PendingAfter), now.Add(-r.HungAfter), r.Batch)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			kind, after, action := "hung", r.HungAfter, metrics.ReapHung
			if j.StartedAt == nil {
				kind, after, action = "pending", r.PendingAfter, metrics.ReapPending
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
			reaped = append(reaped, j)
			actions = append(actions, action)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, a := range actions {
		r.Metrics.Reaped(a)
	}
	ids := make([]uuid.UUID, 0, len(reaped))
	for _, j := range reaped {
		r.log.Warn("reaped abandoned job", "job_id", j.ID)
		// The job's terminal state is written: its workflow, if any, has
		// nothing left to do.
		err := r.d.temporal.TerminateWorkflow(ctx, j.ID.String(), "", "the job was ended by berth's reaper")
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			r.log.Warn("terminate reaped job's workflow", "job_id", j.ID, "err", err)
		}
		ids = append(ids, j.ID)
	}
	return ids, nil
}

// endLost ends a job whose worker was lost: a canceled one as canceled, a
// build that used up its resumptions as failed. A build keeps the state
// its last checkpoint recorded, so a later delete destroys what it created.
func (r *Reaper) endLost(ctx context.Context, tx *db.Store, j *db.ProvisionerJob) (action string, err error) {
	stage, err := tx.GetLastLogStage(ctx, j.ID)
	if err != nil {
		return "", err
	}
	if stage == "" {
		stage = "Unknown"
	}
	line := db.ProvisionerJobLog{CreatedAt: db.Now(), Source: db.LogSourceDaemon, Stage: stage}
	var c db.Completion
	action = metrics.ReapWorkerLost
	if j.CanceledAt != nil {
		line.Level, line.Output = "info", "Job canceled."
		c.Canceled = true
		action = metrics.ReapCanceledLost
	} else {
		c.Error = fmt.Sprintf("provisioner worker lost: no heartbeat for %s", r.LostAfter)
		if j.Type == db.JobTypeWorkspaceBuild && j.Attempts > 1 {
			c.Error += fmt.Sprintf("; the build already resumed %d times (the limit is %d)", j.Attempts-1, r.BuildResumptions)
		}
		line.Level, line.Output = "error", c.Error
	}
	c.Logs = []db.ProvisionerJobLog{line}
	c.Results = func(ctx context.Context, tx *db.Store, j *db.ProvisionerJob) error {
		return tx.SettleCheckpoint(ctx, j.ID)
	}
	_, err = tx.CompleteJob(ctx, j.ID, c)
	return action, err
}
