package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/metrics"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/tracing"
	"github.com/berth-dev/berth/workflows"
)

// jobRun is one attempt at running a claimed job. It is the provisioner's
// Sink: lines are buffered and written in batches, and the remainder goes
// into the transaction that completes the job.
type jobRun struct {
	a   *Activities
	job *db.ProvisionerJob
	// log carries the job's IDs (job, workflow, workspace, template
	// version) on every line.
	log *slog.Logger

	// always holds results written with the job's completion whatever
	// its outcome (an import's variables).
	always []resultsFn

	// resume is the checkpoint an interrupted earlier run of this build
	// left (nil: start afresh), and resumeNote the line that says so.
	resume     *provisioner.Checkpoint
	resumeNote string

	mu      sync.Mutex
	stage   string
	pending []db.ProvisionerJobLog
	stalled bool
	// checkpoint is the latest checkpoint not yet written; checkpointSeq
	// the sequence number of the last one written.
	checkpoint    *provisioner.Checkpoint
	checkpointSeq int64

	// tctx carries the activity's span; span is the current stage's.
	tctx context.Context
	span trace.Span

	// began is when this run started; status is how the job ended here
	// (a metrics.Status*), empty while it has not.
	began  time.Time
	status string
}

func newJobRun(a *Activities, job *db.ProvisionerJob, attrs []slog.Attr) *jobRun {
	r := &jobRun{a: a, job: job, began: time.Now(), log: slog.New(a.opts.Log.Handler().WithAttrs(attrs))}
	a.opts.Metrics.Started(metrics.JobStart{
		Type: job.Type, Provisioner: job.Provisioner, QueueWait: r.began.Sub(job.CreatedAt),
	})
	return r
}

// record reports the run to the metrics once it returned; a build that
// ended here is counted with its workspace's and template's names.
func (r *jobRun) record(ctx context.Context) {
	m := r.a.opts.Metrics
	if m == nil {
		return
	}
	end := metrics.JobEnd{Type: r.job.Type, Provisioner: r.job.Provisioner, Status: r.status, Run: time.Since(r.began)}
	if r.status != "" && r.job.Type == db.JobTypeWorkspaceBuild {
		if f, err := r.a.opts.Store.GetJobFacts(context.WithoutCancel(ctx), r.job.ID); err == nil {
			end.Build = &metrics.Build{Owner: f.OwnerName, Workspace: f.WorkspaceName, Template: f.TemplateName,
				TemplateVersion: f.TemplateVersionName, Transition: f.Transition}
		}
	}
	m.Ended(end)
}

// Log implements provisioner.Sink.
func (r *jobRun) Log(l provisioner.Log) {
	r.add(db.LogSourceProvisioner, l.Level, l.Output)
}

// Stall implements provisioner.Sink.
func (r *jobRun) Stall() {
	r.mu.Lock()
	r.stalled = true
	r.mu.Unlock()
}

func (r *jobRun) isStalled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stalled
}

func (r *jobRun) add(source, level, output string) {
	switch level {
	case provisioner.LevelTrace, provisioner.LevelDebug, provisioner.LevelInfo, provisioner.LevelWarn, provisioner.LevelError:
	default:
		level = provisioner.LevelInfo
	}
	r.mu.Lock()
	r.pending = append(r.pending, db.ProvisionerJobLog{
		CreatedAt: db.Now(), Source: source, Level: level, Stage: r.stage, Output: output,
	})
	r.mu.Unlock()
}

// enterStage writes the stage header: a daemon line with empty output.
func (r *jobRun) enterStage(name string) {
	r.traceStage(name)
	r.mu.Lock()
	r.stage = name
	r.mu.Unlock()
	r.add(db.LogSourceDaemon, provisioner.LevelInfo, "")
}

// take removes and returns the buffered lines.
func (r *jobRun) take() []db.ProvisionerJobLog {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.pending
	r.pending = nil
	return out
}

// flush writes buffered lines; on failure they are put back.
func (r *jobRun) flush(ctx context.Context) error {
	logs := r.take()
	if len(logs) == 0 {
		return nil
	}
	if err := r.a.opts.Store.AppendLogs(ctx, r.job.ID, logs); err != nil {
		r.mu.Lock()
		r.pending = append(logs, r.pending...)
		r.mu.Unlock()
		return err
	}
	r.a.opts.Metrics.LogLines(len(logs))
	return nil
}

// keepAlive heartbeats to Temporal, bumps the job row's updated_at, flushes
// logs, and cancels the job's context when the database says the job was
// canceled, so cancellation does not wait for Temporal's heartbeat
// throttling.
func (r *jobRun) keepAlive(ctx context.Context, cancel context.CancelCauseFunc) {
	hb := time.NewTicker(r.a.opts.HeartbeatInterval)
	defer hb.Stop()
	fl := time.NewTicker(r.a.opts.FlushInterval)
	defer fl.Stop()
	cp := time.NewTicker(r.a.opts.CheckpointInterval)
	defer cp.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-fl.C:
			if err := r.flush(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("flush job logs", "err", err)
			}
		case <-cp.C:
			if err := r.saveCheckpoint(ctx); err != nil && ctx.Err() == nil {
				r.a.opts.Log.Warn("save job checkpoint", "job_id", r.job.ID, "err", err)
			}
		case <-hb.C:
			if r.isStalled() {
				continue
			}
			// The details name the last checkpoint written (0: none).
			activity.RecordHeartbeat(ctx, r.lastCheckpoint())
			touch, err := r.a.opts.Store.TouchJob(ctx, r.job.ID, r.a.opts.WorkerID)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Warn("touch job", "err", err)
				}
				continue
			}
			if touch == db.TouchLost {
				// Our claim lapsed (this worker was cut off) and another
				// worker runs the job now: stop without a word to it.
				r.log.Warn("job taken over by another worker")
				cancel(errTakenOver)
				continue
			}
			if touch == db.TouchStop {
				// Stop the provisioner, but go on heartbeating: it may take
				// a while to stop (Terraform's graceful interrupt).
				cancel(errLocallyCanceled)
			}
		}
	}
}

// execute runs the job to its end and completes the row when it can.
func (r *jobRun) execute(actx context.Context, attempt int32) (workflows.RunJobResult, error) {
	r.tctx = actx
	defer r.traceStage("")
	ctx, cancel := context.WithCancelCause(actx)
	defer cancel(nil)
	// Liveness lasts until the steps have returned, even once the job is
	// canceled (by the user or by Temporal): a provisioner may need time
	// to stop, and the job must not be declared lost meanwhile.
	hbctx, stopHeartbeats := context.WithCancel(context.WithoutCancel(actx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.keepAlive(hbctx, cancel)
	}()

	results, err := r.runSteps(ctx, attempt)
	stopHeartbeats()
	cancel(nil)
	wg.Wait()

	// The completing write must happen even though ctx may be canceled.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(actx), 30*time.Second)
	defer wcancel()
	locallyCanceled := errors.Is(context.Cause(ctx), errLocallyCanceled)
	switch {
	case errors.Is(context.Cause(ctx), errTakenOver):
		return workflows.RunJobResult{}, errTakenOver
	case err == nil:
		r.enterStage("Cleaning Up")
		return r.complete(wctx, db.Completion{Results: results})
	case locallyCanceled || actx.Err() != nil && r.canceledInDB(wctx):
		// A user's cancel, seen by our poll or through Temporal: end the
		// job here, keeping what the provisioner left (a partial state).
		r.add(db.LogSourceDaemon, provisioner.LevelInfo, "Job canceled.")
		res, cerr := r.complete(wctx, db.Completion{Canceled: true})
		if actx.Err() != nil && cerr == nil {
			return res, actx.Err()
		}
		return res, cerr
	case actx.Err() != nil:
		// Temporal canceled the activity otherwise (a stopping worker, a
		// deadline): keep what was logged and let the workflow finish the
		// job.
		if ferr := r.flush(wctx); ferr != nil {
			r.log.Warn("flush job logs", "err", ferr)
		}
		return workflows.RunJobResult{}, actx.Err()
	}
	if je, ok := provisioner.AsJobError(err); ok {
		msg := je.Message
		if msg == "" {
			msg = "provisioner failed"
		}
		r.add(db.LogSourceProvisioner, provisioner.LevelError, msg)
		return r.complete(wctx, db.Completion{Error: msg, ErrorCode: je.Code})
	}
	// Infrastructure trouble: keep the logs and let Temporal retry.
	if ferr := r.flush(wctx); ferr != nil {
		r.log.Warn("flush job logs", "err", ferr)
	}
	return workflows.RunJobResult{}, err
}

// canceledInDB reports whether the job's row says it was canceled.
func (r *jobRun) canceledInDB(ctx context.Context) bool {
	j, err := r.a.opts.Store.GetJobByID(ctx, r.job.ID)
	return err == nil && j.CanceledAt != nil
}

// fail ends the job with an error line and that error, without running it.
func (r *jobRun) fail(ctx context.Context, msg string) (workflows.RunJobResult, error) {
	r.mu.Lock()
	r.stage = r.a.lastStage(ctx, r.job.ID)
	r.mu.Unlock()
	r.add(db.LogSourceDaemon, provisioner.LevelError, msg)
	return r.complete(ctx, db.Completion{Error: msg})
}

func (r *jobRun) complete(ctx context.Context, c db.Completion) (workflows.RunJobResult, error) {
	c.Logs = r.take()
	always := r.always
	if r.mayHaveCheckpoint() {
		always = append([]resultsFn{settleCheckpoint}, always...)
	}
	if fns := append(always, c.Results); len(always) > 0 {
		c.Results = func(ctx context.Context, tx *db.Store, j *db.ProvisionerJob) error {
			for _, fn := range fns {
				if fn == nil {
					continue
				}
				if err := fn(ctx, tx, j); err != nil {
					return err
				}
			}
			return nil
		}
	}
	c.WorkerID = r.a.opts.WorkerID
	// The outcome lives only in this process now: ride out a database
	// outage (a restart, a failover) rather than lose it; a build is never
	// run twice, so a completion given up here fails it. CompleteJob is
	// idempotent, so a commit whose reply was lost is no harm.
	done, err := retryTransient(ctx, r, "complete job", func() (bool, error) {
		return r.a.opts.Store.CompleteJob(ctx, r.job.ID, c)
	})
	if err != nil {
		return workflows.RunJobResult{}, fmt.Errorf("complete job: %w", err)
	}
	if done {
		r.a.opts.Metrics.LogLines(len(c.Logs))
		switch {
		case c.Canceled:
			r.status = metrics.StatusCanceled
		case c.Error != "":
			r.status = metrics.StatusFailed
		default:
			r.status = metrics.StatusSucceeded
		}
	}
	return workflows.RunJobResult{Completed: true}, nil
}

// Retrying work while the database is unavailable: the backoff between
// attempts, and how long an outage is ridden out.
const (
	transientRetryMin    = 100 * time.Millisecond
	transientRetryMax    = 2 * time.Second
	transientRetryWindow = 30 * time.Second
)

// retryTransient runs fn again while it fails because the database is out
// of reach (db.Transient), for up to transientRetryWindow. fn must be safe
// to repeat: a read, or an idempotent write.
func retryTransient[T any](ctx context.Context, r *jobRun, what string, fn func() (T, error)) (T, error) {
	deadline := time.Now().Add(transientRetryWindow)
	for wait := transientRetryMin; ; wait = min(2*wait, transientRetryMax) {
		v, err := fn()
		if err == nil || !db.Transient(err) || ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return v, err
		}
		r.a.opts.Log.Warn(what+": database unavailable, retrying", "job_id", r.job.ID, "err", err)
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(wait):
		}
	}
}

// runSteps dispatches on the job type. It returns the function that writes
// the job's results in the completing transaction.
func (r *jobRun) runSteps(ctx context.Context, attempt int32) (resultsFn, error) {
	r.enterStage("Setting up")
	if r.resumeNote != "" {
		r.add(db.LogSourceDaemon, provisioner.LevelWarn, r.resumeNote)
	} else if msg := describeAttempt(attempt); msg != "" {
		r.add(db.LogSourceDaemon, provisioner.LevelWarn, msg)
	}
	prov, ok := r.a.opts.Provisioners[r.job.Provisioner]
	if !ok {
		return nil, &provisioner.JobError{Message: fmt.Sprintf("provisioner %q is not available on this worker", r.job.Provisioner)}
	}
	dir, err := r.prepareDir(ctx)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	switch r.job.Type {
	case db.JobTypeTemplateVersionImport:
		return r.runImport(ctx, prov, dir)
	case db.JobTypeTemplateVersionDryRun:
		return r.runDryRun(ctx, prov, dir)
	case db.JobTypeWorkspaceBuild:
		return r.runBuild(ctx, prov, dir)
	default:
		return nil, &provisioner.JobError{Message: fmt.Sprintf("job type %q is not supported by this worker", r.job.Type)}
	}
}

// init runs the provisioner's Init, under its own stage when the
// provisioner names one (terraform does).
func (r *jobRun) init(ctx context.Context, prov provisioner.Provisioner, dir string) error {
	if s, ok := prov.(interface{ InitStage() string }); ok {
		r.enterStage(s.InitStage())
	}
	return prov.Init(ctx, dir, r)
}

// prepareDir extracts the job's archive into a fresh directory.
func (r *jobRun) prepareDir(ctx context.Context) (string, error) {
	data, err := retryTransient(ctx, r, "get template file", func() ([]byte, error) {
		return r.a.files.get(ctx, r.a.opts.Store, r.job.FileID)
	})
	if err != nil {
		return "", fmt.Errorf("get template file: %w", err)
	}
	dir, err := os.MkdirTemp(r.a.opts.WorkDir, "berth-job-")
	if err != nil {
		return "", fmt.Errorf("create job directory: %w", err)
	}
	if err := provisioner.Extract(ctx, data, dir, provisioner.Limits{}); err != nil {
		os.RemoveAll(dir)
		if errors.Is(err, provisioner.ErrInvalidArchive) {
			return "", &provisioner.JobError{Message: err.Error()}
		}
		return "", fmt.Errorf("extract template: %w", err)
	}
	return dir, nil
}

// jobLogAttrs are the IDs a job's log lines carry.
func jobLogAttrs(job *db.ProvisionerJob, workflowID string) []slog.Attr {
	attrs := []slog.Attr{slog.String("job_id", job.ID.String()), slog.String("workflow_id", workflowID), slog.String("job_type", job.Type)}
	if job.WorkspaceID.Valid {
		attrs = append(attrs, slog.String("workspace_id", job.WorkspaceID.UUID.String()))
	}
	var in db.JobInput
	if json.Unmarshal(job.Input, &in) == nil && in.TemplateVersionID.Valid {
		attrs = append(attrs, slog.String("template_version_id", in.TemplateVersionID.UUID.String()))
	}
	return attrs
}

// traceStage ends the current stage's span and starts one for the next
// stage (none for ""): the provisioner's steps (init, plan, apply) appear
// in the job's trace under the activity. Without tracing it costs nothing.
func (r *jobRun) traceStage(name string) {
	if r.span != nil {
		r.span.End()
		r.span = nil
	}
	if name == "" || r.tctx == nil || !trace.SpanContextFromContext(r.tctx).IsValid() {
		return
	}
	_, r.span = tracing.Tracer(r.tctx, "github.com/berth-dev/berth/activities").Start(r.tctx, "stage "+name,
		trace.WithAttributes(jobSpanAttrs(r.job)...))
}

func jobSpanAttrs(job *db.ProvisionerJob) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("berth.job_id", job.ID.String()), attribute.String("berth.job_type", job.Type),
		attribute.String("berth.provisioner", job.Provisioner)}
}
