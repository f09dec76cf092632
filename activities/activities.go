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
	"sync"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/logctx"
	"github.com/berth-dev/berth/metrics"
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
	// ClaimLapse is how long a claimed job may go untouched before another
	// worker takes it over (default DefaultClaimLapse).
	ClaimLapse time.Duration
	// BuildResumptions is how often a build whose worker was lost resumes
	// from its last checkpoint (default workflows.DefaultBuildResumptions;
	// negative: never, the build fails).
	BuildResumptions int
	// CheckpointInterval is the shortest time between two checkpoints a
	// build writes (default 1 s): a provisioner reports every change, the
	// latest is written at most this often.
	CheckpointInterval time.Duration
	// Metrics, if set, records the jobs run and the log lines written.
	Metrics *metrics.Jobs
}

// Activities implements workflows.Activities.
type Activities struct {
	opts Options

	files *fileCache

	mu      sync.Mutex
	running map[uuid.UUID]chan struct{} // jobs RunJob runs, closed when it returns
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
	if opts.ClaimLapse <= 0 {
		opts.ClaimLapse = DefaultClaimLapse
	}
	switch {
	case opts.BuildResumptions == 0:
		opts.BuildResumptions = workflows.DefaultBuildResumptions
	case opts.BuildResumptions < 0:
		opts.BuildResumptions = 0
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Second
	}
	return &Activities{opts: opts, files: newFileCache(), running: map[uuid.UUID]chan struct{}{}}, nil
}

// DefaultClaimLapse is how long a claimed job may go untouched before
// another worker may take it over: a running job is touched every
// HeartbeatInterval, so only a lost worker's claim lapses.
const DefaultClaimLapse = 5 * time.Second

// RunJob claims and runs a job. A job that is already finished or canceled
// is left alone. A provisioner failure is the job's outcome, not an activity
// error; infrastructure errors are returned so Temporal retries them.
//
// It runs as a local activity of ProvisionerJob (and as the activity of
// ProvisionerJobV1). When the worker that ran the job was lost, Temporal
// gives the workflow to another worker, whose RunJob takes the job over
// once the lost worker's claim lapsed: an import or dry-run starts again
// (up to MaxJobAttempts); a build resumes from its last checkpoint (up to
// BuildResumptions times), since an interrupted apply cannot simply be
// repeated from the start.
func (a *Activities) RunJob(ctx context.Context, in workflows.RunJobInput) (workflows.RunJobResult, error) {
	// A workflow task this process lost (say, Temporal restarted) may come
	// back to it and run RunJob again while the first run goes on: the
	// second waits for the first, never runs the job beside it.
	release, err := a.enter(ctx, in.JobID)
	if err != nil {
		return workflows.RunJobResult{}, err
	}
	defer release()
	info := activity.GetInfo(ctx)
	job, prev, err := a.claim(ctx, in.JobID, info.TaskQueue)
	if errors.Is(err, db.ErrNotFound) {
		return a.endUnclaimable(ctx, in.JobID)
	}
	if err != nil {
		return workflows.RunJobResult{}, err
	}
	attrs := jobLogAttrs(job, info.WorkflowExecution.ID)
	ctx = logctx.With(ctx, attrs...)
	run := newJobRun(a, job, attrs)
	defer run.record(ctx)
	if job.Type == db.JobTypeWorkspaceBuild {
		if prev.WorkerID.Valid {
			// An earlier run of this build was interrupted: resume it.
			if msg := a.refuseResume(job); msg != "" {
				return run.fail(ctx, msg)
			}
			if err := run.prepareResume(ctx, prev); err != nil {
				return workflows.RunJobResult{}, err
			}
		}
		return run.execute(ctx, info.Attempt)
	}
	if msg := refuseTakeover(job); msg != "" {
		return run.fail(ctx, msg)
	}
	// The attempt users read: workers that claimed the job, or retries
	// within this one (infrastructure errors), whichever is more.
	return run.execute(ctx, max(int32(job.Attempts), info.Attempt))
}

// Running is the number of jobs a's RunJob is running. (A function, not a
// method: every exported method of Activities is registered as an activity.)
func Running(a *Activities) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.running)
}

// enter waits until no other RunJob of this process runs the job, then
// marks it running here until release is called.
func (a *Activities) enter(ctx context.Context, jobID uuid.UUID) (release func(), err error) {
	for {
		a.mu.Lock()
		busy, ok := a.running[jobID]
		if !ok {
			done := make(chan struct{})
			a.running[jobID] = done
			a.mu.Unlock()
			return func() {
				a.mu.Lock()
				delete(a.running, jobID)
				a.mu.Unlock()
				close(done)
			}, nil
		}
		a.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// claim claims a job for this worker, waiting while another worker's
// claim is live: that worker may be cut off from Temporal but not from
// Postgres, and still finish the job (a canceled one too), or its claim
// lapses. It returns db.ErrNotFound for a job that needs no worker here.
// It also reports the claim it replaced.
func (a *Activities) claim(ctx context.Context, jobID uuid.UUID, queue string) (*db.ProvisionerJob, db.PreviousClaim, error) {
	for {
		job, prev, err := a.opts.Store.ClaimJobFrom(ctx, jobID, db.Claim{
			WorkerID: a.opts.WorkerID, TaskQueue: queue, StaleBefore: db.Now().Add(-a.opts.ClaimLapse),
		})
		switch {
		case errors.Is(err, db.ErrNotFound):
			if live, lerr := a.liveElsewhere(ctx, jobID); lerr != nil || !live {
				return nil, prev, errors.Join(err, lerr)
			}
		case db.Transient(err):
			// The database restarts: nothing ran yet, so wait for it (a
			// build that failed here would never be run).
			a.opts.Log.Warn("claim job: database unavailable, retrying", "job_id", jobID, "err", err)
		case !errors.Is(err, db.ErrJobBusy):
			return job, prev, err
		}
		activity.RecordHeartbeat(ctx)
		select {
		case <-ctx.Done():
			return nil, db.PreviousClaim{}, ctx.Err()
		case <-time.After(a.opts.HeartbeatInterval):
		}
	}
}

// liveElsewhere reports whether another worker runs the job and still
// touches it, so that worker ends it.
func (a *Activities) liveElsewhere(ctx context.Context, jobID uuid.UUID) (bool, error) {
	j, err := a.opts.Store.GetJobByID(ctx, jobID)
	if err != nil {
		return false, err
	}
	return j.CompletedAt == nil && j.StartedAt != nil && j.WorkerID.UUID != a.opts.WorkerID &&
		j.UpdatedAt.After(db.Now().Add(-a.opts.ClaimLapse)), nil
}

// MaxJobAttempts caps how often an import or dry-run runs when workers
// running it are lost.
const MaxJobAttempts = 3

// refuseTakeover says why a job taken over from a lost worker must not run
// again, or "" when it may.
func refuseTakeover(job *db.ProvisionerJob) string {
	switch {
	case job.Attempts <= 1:
		return ""
	case job.Attempts > MaxJobAttempts:
		return fmt.Sprintf("provisioner worker lost: %d workers stopped while running this job", job.Attempts-1)
	}
	return ""
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
	c := db.Completion{
		Canceled: true,
		Logs: []db.ProvisionerJobLog{{CreatedAt: db.Now(), Source: db.LogSourceDaemon, Level: provisioner.LevelInfo,
			Stage: a.lastStage(ctx, jobID), Output: "Job canceled."}},
	}
	if job.Type == db.JobTypeWorkspaceBuild {
		c.Results = settleCheckpoint // what the interrupted run created stays tracked
	}
	done, err := a.opts.Store.CompleteJob(ctx, jobID, c)
	return workflows.RunJobResult{Completed: done}, err
}

// CancelJob marks a job canceled, as the API's cancel does, for a job
// workflow canceled through Temporal alone; RunJob sees it in the row. A
// job already finished or canceled is left alone.
func (a *Activities) CancelJob(ctx context.Context, in workflows.CancelJobInput) error {
	_, err := a.opts.Store.CancelJob(ctx, in.JobID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	return err
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
	if job.Type == db.JobTypeWorkspaceBuild {
		c.Results = settleCheckpoint // what the interrupted run created stays tracked
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

// errTakenOver is the cause of a job context canceled because another
// worker took the job over.
var errTakenOver = errors.New("job taken over by another worker")

func describeAttempt(attempt int32) string {
	if attempt <= 1 {
		return ""
	}
	return fmt.Sprintf("Retrying (attempt %d): the previous attempt did not finish.", attempt)
}
