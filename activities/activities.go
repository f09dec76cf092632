// Package activities runs berth's provisioner jobs: it claims the job row,
// extracts the template, drives a provisioner, streams logs to Postgres and
// writes the results and terminal state in one transaction.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/workflows"
)

// Options configures Activities.
type Options struct {
	Store        *db.Store
	Provisioners map[string]provisioner.Provisioner
	// WorkerID is the provisioner daemon ID of this worker process.
	WorkerID uuid.UUID
	// WorkDir is where job directories are created (default os.TempDir()).
	WorkDir string
	Log     *slog.Logger
	// HeartbeatInterval is how often a running job proves it is alive
	// (default 1 s; Temporal throttles what it sends).
	HeartbeatInterval time.Duration
	// FlushInterval is how often buffered log lines are written (default 100 ms).
	FlushInterval time.Duration
	// AccessURL is the URL workspace agents reach the API at
	// (CODER_AGENT_URL for the coder provider).
	AccessURL string
}

// Activities implements workflows.Activities.
type Activities struct {
	opts Options
}

var _ workflows.Activities = (*Activities)(nil)

// New returns Activities with defaults filled in.
func New(opts Options) (*Activities, error) {
	if opts.Store == nil {
		return nil, errors.New("activities: no store")
	}
	if opts.WorkerID == uuid.Nil {
		return nil, errors.New("activities: no worker id")
	}
	if opts.WorkDir == "" {
		opts.WorkDir = os.TempDir()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = time.Second
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 100 * time.Millisecond
	}
	return &Activities{opts: opts}, nil
}

// RunJob claims and runs a job. A job that is already finished or canceled
// is left alone. A provisioner failure is the job's outcome, not an activity
// error; infrastructure errors are returned so Temporal retries them.
func (a *Activities) RunJob(ctx context.Context, in workflows.RunJobInput) (workflows.RunJobResult, error) {
	info := activity.GetInfo(ctx)
	job, err := a.opts.Store.ClaimJob(ctx, in.JobID, a.opts.WorkerID, info.Attempt > 1)
	if errors.Is(err, db.ErrNotFound) {
		return a.endUnclaimable(ctx, in.JobID)
	}
	if err != nil {
		return workflows.RunJobResult{}, err
	}
	run := newJobRun(a, job)
	return run.execute(ctx, info.Attempt)
}

// endUnclaimable handles a job RunJob may not claim. A finished job needs
// nothing. A job canceled while a previous attempt ran it (and died) would
// otherwise stay canceling: its workflow is about to close without
// FinishJob, so the cancel is completed here.
func (a *Activities) endUnclaimable(ctx context.Context, jobID uuid.UUID) (workflows.RunJobResult, error) {
	job, err := a.opts.Store.GetJobByID(ctx, jobID)
	if err != nil {
		return workflows.RunJobResult{}, err
	}
	if job.CompletedAt != nil || job.CanceledAt == nil {
		return workflows.RunJobResult{}, nil
	}
	done, err := a.opts.Store.CompleteJob(ctx, jobID, db.Completion{
		Canceled: true,
		Logs: []db.ProvisionerJobLog{{CreatedAt: db.Now(), Source: db.LogSourceDaemon, Level: provisioner.LevelInfo,
			Stage: a.lastStage(ctx, jobID), Output: "Job canceled."}},
	})
	return workflows.RunJobResult{Completed: done}, err
}

// FinishJob writes the terminal state of a job that RunJob could not
// complete: canceled, timed out, or failed after its retries.
func (a *Activities) FinishJob(ctx context.Context, in workflows.FinishJobInput) error {
	c := db.Completion{Canceled: in.Canceled}
	if !in.Canceled {
		c.Error = in.Cause
		if c.Error == "" {
			c.Error = "job ended without a result"
		}
	}
	job, err := a.opts.Store.GetJobByID(ctx, in.JobID)
	if errors.Is(err, db.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError("job does not exist", "JobNotFound", err)
	}
	if err != nil {
		return err
	}
	if job.CompletedAt != nil {
		return nil
	}
	stage := a.lastStage(ctx, job.ID)
	now := db.Now()
	if in.Canceled {
		c.Logs = []db.ProvisionerJobLog{{CreatedAt: now, Source: db.LogSourceDaemon, Level: provisioner.LevelInfo, Stage: stage, Output: "Job canceled."}}
	} else {
		c.Logs = []db.ProvisionerJobLog{{CreatedAt: now, Source: db.LogSourceDaemon, Level: provisioner.LevelError, Stage: stage, Output: c.Error}}
	}
	_, err = a.opts.Store.CompleteJob(ctx, in.JobID, c)
	return err
}

// lastStage returns the stage of a job's last log line, or "Unknown".
func (a *Activities) lastStage(ctx context.Context, jobID uuid.UUID) string {
	stage, err := a.opts.Store.GetLastLogStage(ctx, jobID)
	if err != nil || stage == "" {
		return "Unknown"
	}
	return stage
}

// errLocallyCanceled is the cause of a job context canceled because the
// database says the job was canceled.
var errLocallyCanceled = errors.New("job canceled")

func describeAttempt(attempt int32) string {
	if attempt <= 1 {
		return ""
	}
	return fmt.Sprintf("Retrying (attempt %d): the previous attempt did not finish.", attempt)
}
