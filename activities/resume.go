package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner"
)

// A build whose worker is lost resumes on another worker. While it
// applies, its provisioner reports checkpoints (Terraform: each state it
// persists; echo: its position); the latest is written to Postgres at most
// every CheckpointInterval, and its sequence number goes into the
// activity's heartbeat details. When the worker is lost, Temporal gives
// the job's workflow task to another worker of the queue, whose RunJob
// claims the job once the lost claim lapsed, finds that an earlier run was
// interrupted, and runs the build again from the latest checkpoint: the
// provisioner plans from that state and applies the difference. The job
// stays running, under the same ID and with the same logs.

// refuseResume says why a build whose earlier run was interrupted must not
// resume, or "" when it may.
func (a *Activities) refuseResume(job *db.ProvisionerJob) string {
	prov, ok := a.opts.Provisioners[job.Provisioner]
	if !ok {
		return "" // runSteps says the provisioner is missing
	}
	if _, ok := prov.(provisioner.Resumer); !ok {
		return fmt.Sprintf("provisioner worker lost: the worker running this build stopped, and the %s provisioner "+
			"cannot resume an interrupted apply", job.Provisioner)
	}
	if resumptions := job.Attempts - 1; resumptions > a.opts.BuildResumptions {
		return fmt.Sprintf("provisioner worker lost: the workers running this build stopped %d times; "+
			"a build resumes at most %d times (--build-resumptions)", resumptions, a.opts.BuildResumptions)
	}
	return ""
}

// prepareResume loads the build's latest checkpoint for the provisioner
// and logs what happened.
func (r *jobRun) prepareResume(ctx context.Context, prev db.PreviousClaim) error {
	cp, err := r.a.opts.Store.GetCheckpoint(ctx, r.job.ID)
	switch {
	case errors.Is(err, db.ErrNotFound):
		cp = nil
	case err != nil:
		return err
	}
	ids := []uuid.UUID{prev.WorkerID.UUID, r.a.opts.WorkerID}
	names, err := r.a.opts.Store.GetDaemonNames(ctx, ids)
	if err != nil {
		return err
	}
	name := func(i int) string {
		if n := names[ids[i]]; n != "" {
			return n
		}
		return ids[i].String()
	}
	// Lost at its last sign of life: a touch of the job, or a checkpoint.
	lostAt := prev.TouchedAt
	if cp != nil && cp.CreatedAt.After(lostAt) {
		lostAt = cp.CreatedAt
	}
	msg := fmt.Sprintf("Worker %s lost at %s; resuming on worker %s", name(0), stamp(lostAt), name(1))
	if prev.WorkerID.UUID == r.a.opts.WorkerID {
		msg = fmt.Sprintf("Worker %s was interrupted at %s; resuming on the same worker", name(0), stamp(lostAt))
	}
	if cp == nil {
		msg += " from the build's starting state: no checkpoint was written, so its apply had not changed anything yet."
	} else {
		r.resume = &provisioner.Checkpoint{State: cp.State, Position: cp.Position}
		r.checkpointSeq = cp.Seq
		msg += fmt.Sprintf(" from the state of %s (checkpoint %d of attempt %d)", stamp(cp.CreatedAt), cp.Seq, cp.Attempt)
		if rs, ok := r.a.opts.Provisioners[r.job.Provisioner].(provisioner.Resumer); ok {
			msg += ": " + rs.ResumesApply()
		}
		msg += "."
	}
	r.resumeNote = msg
	r.a.opts.Log.Warn("resuming build", "job_id", r.job.ID, "lost_worker_id", prev.WorkerID.UUID,
		"lost_at", lostAt, "checkpoint", r.checkpointSeq)
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") }

// Checkpoint implements provisioner.Checkpointer: it keeps the latest
// checkpoint until keepAlive writes it.
func (r *jobRun) Checkpoint(cp provisioner.Checkpoint) {
	cp = provisioner.Checkpoint{State: append([]byte(nil), cp.State...), Position: append([]byte(nil), cp.Position...)}
	r.mu.Lock()
	r.checkpoint = &cp
	r.mu.Unlock()
}

// saveCheckpoint writes the latest unwritten checkpoint, after the logs
// that led to it, and heartbeats its sequence number.
func (r *jobRun) saveCheckpoint(ctx context.Context) error {
	r.mu.Lock()
	cp := r.checkpoint
	r.checkpoint = nil
	r.mu.Unlock()
	if cp == nil {
		return nil
	}
	put := func() {
		r.mu.Lock()
		if r.checkpoint == nil {
			r.checkpoint = cp
		}
		r.mu.Unlock()
	}
	if err := r.flush(ctx); err != nil {
		put()
		return err
	}
	seq, err := r.a.opts.Store.SaveCheckpoint(ctx, &db.JobCheckpoint{
		JobID: r.job.ID, WorkerID: r.a.opts.WorkerID, State: cp.State, Position: cp.Position,
	})
	if errors.Is(err, db.ErrNotFound) {
		return nil // no longer ours: the job ended, or was taken over
	}
	if err != nil {
		put()
		return err
	}
	r.mu.Lock()
	r.checkpointSeq = seq
	r.mu.Unlock()
	activity.RecordHeartbeat(ctx, seq)
	return nil
}

// lastCheckpoint is the sequence number of the last checkpoint written.
func (r *jobRun) lastCheckpoint() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checkpointSeq
}

// mayHaveCheckpoint reports whether a checkpoint of this build may exist:
// this run wrote one, or an earlier run of the build was interrupted. (A
// build that ran once, shorter than a CheckpointInterval, has none, and
// its completion costs no query for it.)
func (r *jobRun) mayHaveCheckpoint() bool {
	return r.job.Type == db.JobTypeWorkspaceBuild && (r.job.Attempts > 1 || r.resumeNote != "" || r.lastCheckpoint() > 0)
}

// settleCheckpoint is a build's first result, whatever its outcome: the
// checkpoint's state becomes the build's (a finished apply's state,
// written after it, replaces it) and the checkpoint is deleted.
func settleCheckpoint(ctx context.Context, tx *db.Store, j *db.ProvisionerJob) error {
	return tx.SettleCheckpoint(ctx, j.ID)
}
