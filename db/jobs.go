package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// JobEventsChannel is the Postgres NOTIFY channel for job log and
// completion events.
const JobEventsChannel = "berth_job_events"

// JobEvent is the payload sent on JobEventsChannel. It is sent inside the
// writing transaction, so listeners see it only once the rows are visible.
type JobEvent struct {
	JobID uuid.UUID `json:"job_id,omitzero"`
	// WorkspaceID is set for events of build jobs and for changes to a
	// workspace itself, so workspace watchers wake on either.
	WorkspaceID uuid.UUID `json:"workspace_id,omitzero"`
	End         bool      `json:"end,omitempty"` // the job reached a terminal state
}

// MaxLogBytes caps the log output stored per job, and MaxLogLines its
// lines: empty lines add no bytes but each costs a row.
const (
	MaxLogBytes = 1 << 20
	MaxLogLines = 20_000
)

// selectJobs selects whole job rows, including the generated status that
// bun leaves out of its default column list.
func (s *Store) selectJobs(model any) *bun.SelectQuery {
	return s.db.NewSelect().Model(model).ColumnExpr("*")
}

// InsertJob inserts a provisioner job and, if it is still to run, tells
// the workers of its task queue (on JobQueuedChannel, at commit), in one
// statement.
func (s *Store) InsertJob(ctx context.Context, j *ProvisionerJob) error {
	return s.insertJob(ctx, j)
}

// InsertImportJob inserts a template version and its import job, and tells
// the workers of the job's queue, in one statement: atomic without a
// transaction, and one round trip between the API call and the workers
// hearing of the job.
func (s *Store) InsertImportJob(ctx context.Context, j *ProvisionerJob, v *TemplateVersion) error {
	if v.ExternalAuthProviders == nil {
		v.ExternalAuthProviders = []byte("[]")
	}
	return s.insertJob(ctx, j, s.db.NewInsert().Model(v))
}

// insertJob inserts a job, announces it (unless it is already complete)
// and runs the other inserts given, as one statement of data-modifying
// CTEs.
func (s *Store) insertJob(ctx context.Context, j *ProvisionerJob, also ...*bun.InsertQuery) error {
	q := s.db.NewSelect().With("j", s.db.NewInsert().Model(j).Returning("job_status")).
		ColumnExpr("j.job_status").TableExpr("j")
	if j.CompletedAt == nil {
		msg, err := payload(JobQueued{JobID: j.ID, TaskQueue: j.TaskQueue})
		if err != nil {
			return err
		}
		// A CTE that only reads runs when the query reads it: the join
		// does (one row).
		q = q.With("n", s.db.NewSelect().ColumnExpr("pg_notify(?, ?)", JobQueuedChannel, msg)).TableExpr("n")
	}
	for i, ins := range also {
		q = q.With(fmt.Sprintf("also%d", i), ins)
	}
	return wrap("insert provisioner job", q.Scan(ctx, &j.Status))
}

// GetJobByID returns a job.
func (s *Store) GetJobByID(ctx context.Context, id uuid.UUID) (*ProvisionerJob, error) {
	j := new(ProvisionerJob)
	err := s.selectJobs(j).Where("id = ?", id).Scan(ctx)
	return j, wrap("get provisioner job", err)
}

// ErrJobBusy is returned by ClaimJob while another worker holds a live
// claim on the job.
var ErrJobBusy = errors.New("job is running on another worker")

// Claim describes a worker claiming a job.
type Claim struct {
	WorkerID uuid.UUID
	// TaskQueue is the claiming worker's queue: a job routed to another
	// queue (adopted by other workers) is not claimed.
	TaskQueue string
	// StaleBefore: a job another worker claimed is taken over only if that
	// worker has not touched it since (its claim lapsed). Zero never takes
	// jobs over.
	StaleBefore time.Time
}

// ClaimJob marks a job as started by a worker and counts the attempt. It
// succeeds while the job is neither completed nor canceled, is routed to
// the worker's queue, and is unclaimed, already claimed by this worker, or
// claimed by a worker whose claim lapsed (a takeover: attempts grows). It
// returns ErrJobBusy while another worker's claim is live, and ErrNotFound
// when the job cannot be claimed at all.
func (s *Store) ClaimJob(ctx context.Context, id uuid.UUID, c Claim) (*ProvisionerJob, error) {
	j, _, err := s.ClaimJobFrom(ctx, id, c)
	return j, err
}

// PreviousClaim is who held a job before a claim, and when it last
// touched the job.
type PreviousClaim struct {
	WorkerID  uuid.NullUUID `bun:"previous_worker_id,type:uuid"`
	TouchedAt time.Time     `bun:"previous_updated_at"`
}

// ClaimJobFrom is ClaimJob that also reports the claim it replaced: on a
// takeover, the lost worker and its last touch.
func (s *Store) ClaimJobFrom(ctx context.Context, id uuid.UUID, c Claim) (*ProvisionerJob, PreviousClaim, error) {
	var row struct {
		ProvisionerJob `bun:",extend"`
		PreviousClaim  `bun:",extend"`
	}
	err := s.queryPrepared(ctx, &row, `WITH prev AS (SELECT id, worker_id, updated_at FROM provisioner_jobs WHERE id = $3 FOR UPDATE)
		UPDATE provisioner_jobs p SET
		started_at = coalesce(p.started_at, $1), updated_at = $1,
		attempts = p.attempts + CASE WHEN p.worker_id IS NOT DISTINCT FROM $2 THEN 0 ELSE 1 END,
		worker_id = $2, workflow_started_at = coalesce(p.workflow_started_at, $1)
		FROM prev
		WHERE p.id = prev.id AND p.completed_at IS NULL AND p.canceled_at IS NULL
		AND (p.started_at IS NULL OR p.worker_id = $2 OR p.updated_at < $4)
		AND ($5 = '' OR p.task_queue = $5)
		RETURNING p.*, prev.worker_id AS previous_worker_id, prev.updated_at AS previous_updated_at`,
		Now(), c.WorkerID, id, c.StaleBefore, c.TaskQueue)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, PreviousClaim{}, wrap("claim provisioner job", err)
	}
	j := &row.ProvisionerJob
	if j.ID == uuid.Nil {
		cur, err := s.GetJobByID(ctx, id)
		if err != nil {
			return nil, PreviousClaim{}, err
		}
		if cur.CompletedAt == nil && cur.CanceledAt == nil && cur.StartedAt != nil &&
			(c.TaskQueue == "" || cur.TaskQueue == c.TaskQueue) {
			return nil, PreviousClaim{}, ErrJobBusy
		}
		return nil, PreviousClaim{}, ErrNotFound
	}
	if j.WorkspaceID.Valid {
		// The workspace's status moves from pending to starting/stopping.
		if err := s.notify(ctx, JobEvent{JobID: j.ID, WorkspaceID: j.WorkspaceID.UUID}); err != nil {
			return nil, PreviousClaim{}, err
		}
	}
	return j, row.PreviousClaim, nil
}

// Touch is what TouchJob found.
type Touch int

// Touch outcomes.
const (
	TouchRunning Touch = iota // the job is the worker's and still active
	TouchStop                 // canceled or completed meanwhile
	TouchLost                 // another worker took the job over
)

// TouchJob records liveness of a running job claimed by workerID and
// reports whether it should go on.
func (s *Store) TouchJob(ctx context.Context, id, workerID uuid.UUID) (Touch, error) {
	var row struct {
		CanceledAt  *time.Time `bun:"canceled_at"`
		CompletedAt *time.Time `bun:"completed_at"`
	}
	err := s.queryPrepared(ctx, &row, `UPDATE provisioner_jobs SET updated_at = $1 WHERE id = $2 AND worker_id = $3
		RETURNING canceled_at, completed_at`, Now(), id, workerID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return TouchLost, nil
	case err != nil:
		return TouchRunning, wrap("touch provisioner job", err)
	case row.CanceledAt != nil || row.CompletedAt != nil:
		return TouchStop, nil
	}
	return TouchRunning, nil
}

// lockJob locks a job row for the rest of the transaction. Log writers lock
// it first, so log IDs of one job commit in increasing order.
func (s *Store) lockJob(ctx context.Context, id uuid.UUID) (*ProvisionerJob, error) {
	j := new(ProvisionerJob)
	err := s.queryPrepared(ctx, j, `SELECT * FROM provisioner_jobs WHERE id = $1 FOR UPDATE`, id)
	return j, wrap("lock provisioner job", err)
}

// notify publishes a job event inside the current transaction.
func (s *Store) notify(ctx context.Context, ev JobEvent) error {
	msg, err := payload(ev)
	if err != nil {
		return err
	}
	_, err = s.execPrepared(ctx, `SELECT pg_notify($1, $2)`, JobEventsChannel, msg)
	return wrap("notify job event", err)
}

// payload is a notification's JSON payload.
func payload(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %T notification: %w", v, err)
	}
	return string(b), nil
}

// AppendLogs stores log lines of a job and notifies followers. Lines past
// the job's log cap are dropped (one truncation notice is kept).
func (s *Store) AppendLogs(ctx context.Context, jobID uuid.UUID, logs []ProvisionerJobLog) error {
	if len(logs) == 0 {
		return nil
	}
	return s.InTx(ctx, func(tx *Store) error {
		j, err := tx.lockJob(ctx, jobID)
		if err != nil {
			return err
		}
		if wrote, err := tx.insertLogs(ctx, j, logs, false); !wrote || err != nil {
			return err
		}
		if _, err := tx.execPrepared(ctx, `UPDATE provisioner_jobs SET logs_length = $1, logs_lines = $2, logs_overflowed = $3, updated_at = $4 WHERE id = $5`,
			j.LogsLength, j.LogsLines, j.LogsOverflowed, Now(), j.ID); err != nil {
			return wrap("update log length", err)
		}
		return tx.notify(ctx, JobEvent{JobID: j.ID, WorkspaceID: j.WorkspaceID.UUID})
	})
}

// insertLogs writes logs for a locked job and counts them in j (its
// LogsLength, LogsLines and LogsOverflowed), which the caller stores in
// the row before it notifies followers. It reports whether it wrote a
// line. force keeps lines past the cap (reaper and completion lines).
func (s *Store) insertLogs(ctx context.Context, j *ProvisionerJob, logs []ProvisionerJobLog, force bool) (bool, error) {
	length, lines, overflowed := j.LogsLength, j.LogsLines, j.LogsOverflowed
	keep := make([]ProvisionerJobLog, 0, len(logs))
	for _, l := range logs {
		if overflowed && !force {
			continue
		}
		// The notice takes the last line under the line cap.
		if !force && (length+len(l.Output) > MaxLogBytes || lines+1 >= MaxLogLines) {
			overflowed = true
			keep = append(keep, ProvisionerJobLog{
				JobID: j.ID, CreatedAt: l.CreatedAt, Source: LogSourceDaemon, Level: "warn", Stage: l.Stage,
				Output: fmt.Sprintf("Log output exceeded the limit of %d bytes or %d lines; further lines are dropped.", MaxLogBytes, MaxLogLines),
			})
			lines++
			continue
		}
		l.JobID = j.ID
		length += len(l.Output)
		lines++
		keep = append(keep, l)
	}
	if len(keep) == 0 {
		return false, nil
	}
	if _, err := s.db.NewInsert().Model(&keep).Exec(ctx); err != nil {
		return false, wrap("insert provisioner job logs", err)
	}
	j.LogsLength, j.LogsLines, j.LogsOverflowed = length, lines, overflowed
	return true, nil
}

// GetJobLogsAfter returns a job's logs with id > after, in id order.
func (s *Store) GetJobLogsAfter(ctx context.Context, jobID uuid.UUID, after int64) ([]ProvisionerJobLog, error) {
	return s.GetJobLogsPage(ctx, jobID, after, 0)
}

// GetJobLogsPage returns at most limit (0: all) of a job's logs with
// id > after, in id order.
func (s *Store) GetJobLogsPage(ctx context.Context, jobID uuid.UUID, after int64, limit int) ([]ProvisionerJobLog, error) {
	logs := []ProvisionerJobLog{}
	q := s.db.NewSelect().Model(&logs).Where("job_id = ?", jobID).Where("id > ?", after).OrderExpr("id")
	if limit > 0 {
		q = q.Limit(limit)
	}
	err := q.Scan(ctx)
	return logs, wrap("get provisioner job logs", err)
}

// GetLastLogStage returns the stage of a job's last log line ("" if none).
func (s *Store) GetLastLogStage(ctx context.Context, jobID uuid.UUID) (string, error) {
	var stages []string
	err := s.db.NewSelect().Model((*ProvisionerJobLog)(nil)).Column("stage").
		Where("job_id = ?", jobID).OrderExpr("id DESC").Limit(1).Scan(ctx, &stages)
	if err != nil || len(stages) == 0 {
		return "", wrap("get last log stage", err)
	}
	return stages[0], nil
}

// Completion is the terminal outcome of a job.
type Completion struct {
	Error     string
	ErrorCode string
	// Canceled marks the job canceled (if it was not already).
	Canceled bool
	// Logs are written before the job completes, in the same transaction.
	Logs []ProvisionerJobLog
	// Results writes the job's results (resources, parameters, state) in the
	// completing transaction. It runs only if the job was still active.
	Results func(ctx context.Context, tx *Store, j *ProvisionerJob) error
	// WorkerID, if set, completes the job only while that worker holds
	// its claim (not after another worker took it over).
	WorkerID uuid.UUID
}

// CompleteJob ends an active job in one transaction: final logs, results,
// completed_at, error, then the end-of-logs notification. The variable
// values of an import or dry-run leave the job input as it completes: an
// import has stored them in their own column by then, and a dry-run's
// overrides are needed by no one after it (they may be sensitive). It returns false
// (and writes nothing) when the job had already completed.
func (s *Store) CompleteJob(ctx context.Context, jobID uuid.UUID, c Completion) (bool, error) {
	done := false
	err := s.InTx(ctx, func(tx *Store) error {
		j, err := tx.lockJob(ctx, jobID)
		if err != nil {
			return err
		}
		if j.CompletedAt != nil || c.WorkerID != uuid.Nil && j.WorkerID.UUID != c.WorkerID {
			return nil
		}
		// The lines are counted by the completing UPDATE, and announced
		// with the end.
		if _, err := tx.insertLogs(ctx, j, c.Logs, c.Error != ""); err != nil {
			return err
		}
		if c.Results != nil {
			if err := c.Results(ctx, tx, j); err != nil {
				return err
			}
		}
		if j.Type == JobTypeWorkspaceBuild {
			if err := tx.finishWorkspaceBuild(ctx, jobID, c.Error == "" && !c.Canceled); err != nil {
				return err
			}
		}
		// The end is announced by the same statement (one round trip).
		end, err := payload(JobEvent{JobID: jobID, WorkspaceID: j.WorkspaceID.UUID, End: true})
		if err != nil {
			return err
		}
		if _, err := tx.execPrepared(ctx, `WITH u AS (UPDATE provisioner_jobs SET completed_at = $1, started_at = coalesce(started_at, $1),
			updated_at = $1, error = $2, error_code = $3, input = input - 'user_variable_values', canceled_at = CASE WHEN $4 THEN coalesce(canceled_at, $1) ELSE canceled_at END,
			logs_length = $6, logs_lines = $7, logs_overflowed = $8
			WHERE id = $5 RETURNING id)
			SELECT pg_notify($9, $10) FROM u`, Now(), c.Error, c.ErrorCode, c.Canceled, jobID, j.LogsLength, j.LogsLines, j.LogsOverflowed,
			JobEventsChannel, end); err != nil {
			return wrap("complete provisioner job", err)
		}
		done = true
		return nil
	})
	return done, err
}

// CancelJob marks an active job canceled. A job no worker has claimed also
// completes at once, so it can never start. It returns the updated job, or
// ErrNotFound when the job was already completed or canceled.
func (s *Store) CancelJob(ctx context.Context, jobID uuid.UUID) (*ProvisionerJob, error) {
	var out *ProvisionerJob
	err := s.InTx(ctx, func(tx *Store) error {
		now := Now()
		j := new(ProvisionerJob)
		_, err := tx.db.NewUpdate().Model(j).
			Set("canceled_at = ?", now).
			Set("updated_at = ?", now).
			Set("completed_at = CASE WHEN worker_id IS NULL THEN ?::timestamptz END", now).
			Set("input = CASE WHEN worker_id IS NULL THEN input - 'user_variable_values' ELSE input END").
			Where("id = ?", jobID).
			Where("completed_at IS NULL").
			Where("canceled_at IS NULL").
			Returning("*").Exec(ctx)
		if err != nil {
			return wrap("cancel provisioner job", err)
		}
		if j.ID == uuid.Nil {
			return ErrNotFound
		}
		out = j
		return tx.notify(ctx, JobEvent{JobID: jobID, WorkspaceID: j.WorkspaceID.UUID, End: j.CompletedAt != nil})
	})
	return out, err
}

// JobsWithoutWorkflow returns pending jobs created before cutoff whose
// workflow start was never confirmed.
func (s *Store) JobsWithoutWorkflow(ctx context.Context, cutoff time.Time, limit int) ([]*ProvisionerJob, error) {
	var js []*ProvisionerJob
	err := s.selectJobs(&js).
		Where("workflow_started_at IS NULL").Where("completed_at IS NULL").Where("created_at < ?", cutoff).
		OrderExpr("created_at").Limit(limit).Scan(ctx)
	return js, wrap("list jobs without workflow", err)
}

// MarkWorkflowStarted records that Temporal accepted the job's workflow.
func (s *Store) MarkWorkflowStarted(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.NewUpdate().Model((*ProvisionerJob)(nil)).
		Set("workflow_started_at = coalesce(workflow_started_at, ?)", Now()).Where("id = ?", id).Exec(ctx)
	return wrap("mark workflow started", err)
}

// CancelingJobs returns jobs that were canceled but have not completed and
// were last updated before cutoff, so their cancel can be re-sent.
func (s *Store) CancelingJobs(ctx context.Context, cutoff time.Time, limit int) ([]*ProvisionerJob, error) {
	var js []*ProvisionerJob
	err := s.selectJobs(&js).
		Where("canceled_at IS NOT NULL").Where("completed_at IS NULL").Where("updated_at < ?", cutoff).
		OrderExpr("updated_at").Limit(limit).Scan(ctx)
	return js, wrap("list canceling jobs", err)
}

// GetJobsByIDs returns jobs by ID.
func (s *Store) GetJobsByIDs(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*ProvisionerJob, error) {
	out := make(map[uuid.UUID]*ProvisionerJob, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var js []*ProvisionerJob
	if err := s.selectJobs(&js).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, wrap("get provisioner jobs", err)
	}
	for _, j := range js {
		out[j.ID] = j
	}
	return out, nil
}

// ErrStatusMismatch is returned when a job is not in the expected status.
var ErrStatusMismatch = errors.New("job is not in the expected status")

// CancelJobIfStatus cancels a job only if its status is want (pending or
// running), checked under the row lock so it cannot race the claim.
func (s *Store) CancelJobIfStatus(ctx context.Context, jobID uuid.UUID, want string) (*ProvisionerJob, error) {
	var out *ProvisionerJob
	err := s.InTx(ctx, func(tx *Store) error {
		j, err := tx.lockJob(ctx, jobID)
		if err != nil {
			return err
		}
		if j.Status != want {
			return ErrStatusMismatch
		}
		out, err = tx.CancelJob(ctx, jobID)
		return err
	})
	return out, err
}

// ReapCandidates locks up to limit active jobs that look abandoned: pending
// (never started) and untouched since pendingCutoff, or started and
// untouched since hungCutoff. Rows other servers hold are skipped. Call it
// in a transaction and complete the jobs in the same one.
func (s *Store) ReapCandidates(ctx context.Context, pendingCutoff, hungCutoff time.Time, limit int) ([]*ProvisionerJob, error) {
	var js []*ProvisionerJob
	err := s.selectJobs(&js).
		Where("completed_at IS NULL").
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("started_at IS NULL AND updated_at < ?", pendingCutoff).
				WhereOr("started_at IS NOT NULL AND updated_at < ?", hungCutoff)
		}).
		OrderExpr("updated_at").Limit(limit).For("UPDATE SKIP LOCKED").Scan(ctx)
	return js, wrap("list jobs to reap", err)
}

// LostJobs locks up to limit started, active jobs whose worker stopped
// touching them before cutoff and that no other worker will run: builds
// that have used up their resumptions (attempts > resumptions: a build
// runs once, then resumes on another worker up to resumptions times) and
// canceled jobs. Rows other servers hold are skipped. Call it in a
// transaction and complete the jobs in the same one.
func (s *Store) LostJobs(ctx context.Context, cutoff time.Time, limit, resumptions int) ([]*ProvisionerJob, error) {
	var js []*ProvisionerJob
	err := s.selectJobs(&js).
		Where("completed_at IS NULL").Where("started_at IS NOT NULL").Where("updated_at < ?", cutoff).
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("type = ? AND attempts > ?", JobTypeWorkspaceBuild, resumptions).WhereOr("canceled_at IS NOT NULL")
		}).
		OrderExpr("updated_at").Limit(limit).For("UPDATE SKIP LOCKED").Scan(ctx)
	return js, wrap("list lost jobs", err)
}
