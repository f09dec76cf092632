package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// JobCheckpoint is the latest checkpoint of a running build: what its
// provisioner had persisted (State, Terraform's state file) or how far it
// had got (Position, opaque to berth), so that another worker can resume
// the build after its worker was lost.
type JobCheckpoint struct {
	bun.BaseModel `bun:"table:provisioner_job_checkpoints"`

	JobID uuid.UUID `bun:"job_id,pk,type:uuid"`
	// Seq counts the checkpoints of the job (1 for the first).
	Seq       int64     `bun:"seq"`
	WorkerID  uuid.UUID `bun:"worker_id,type:uuid"`
	Attempt   int       `bun:"attempt"`
	CreatedAt time.Time `bun:"created_at"`
	State     []byte    `bun:"state"`
	Position  []byte    `bun:"position"`
}

// SaveCheckpoint makes cp its job's latest checkpoint and returns its
// sequence number. Only the worker that holds the job's claim writes
// (cp.WorkerID): a worker cut off and taken over cannot overwrite the
// checkpoint its successor resumes from. It returns ErrNotFound when that
// worker no longer holds an active claim.
func (s *Store) SaveCheckpoint(ctx context.Context, cp *JobCheckpoint) (int64, error) {
	var seq int64
	err := s.db.NewRaw(`INSERT INTO provisioner_job_checkpoints AS c (job_id, seq, worker_id, attempt, created_at, state, position)
		SELECT j.id, 1, j.worker_id, j.attempts, ?, ?, ? FROM provisioner_jobs j
		WHERE j.id = ? AND j.worker_id = ? AND j.completed_at IS NULL
		ON CONFLICT (job_id) DO UPDATE SET seq = c.seq + 1, worker_id = excluded.worker_id, attempt = excluded.attempt,
		created_at = excluded.created_at, state = excluded.state, position = excluded.position
		RETURNING seq`, Now(), cp.State, cp.Position, cp.JobID, cp.WorkerID).Scan(ctx, &seq)
	return seq, wrap("save job checkpoint", err)
}

// GetCheckpoint returns a job's latest checkpoint, or ErrNotFound.
func (s *Store) GetCheckpoint(ctx context.Context, jobID uuid.UUID) (*JobCheckpoint, error) {
	cp := new(JobCheckpoint)
	err := s.db.NewSelect().Model(cp).Where("job_id = ?", jobID).Scan(ctx)
	return cp, wrap("get job checkpoint", err)
}

// SettleCheckpoint ends a job's checkpoint as the job completes: its state,
// if it has one, becomes the state of the job's workspace build (whatever
// the build created is then destroyed by the next delete, even if the
// build failed), and the checkpoint is deleted. A result written after it
// in the same transaction (a finished apply's state) takes precedence.
func (s *Store) SettleCheckpoint(ctx context.Context, jobID uuid.UUID) error {
	_, err := s.db.NewRaw(`WITH c AS (DELETE FROM provisioner_job_checkpoints WHERE job_id = ? RETURNING state)
		UPDATE workspace_builds b SET provisioner_state = c.state, updated_at = ? FROM c
		WHERE b.job_id = ? AND c.state IS NOT NULL`, jobID, Now(), jobID).Exec(ctx)
	return wrap("settle job checkpoint", err)
}
