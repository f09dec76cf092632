package db

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// JobQueuedChannel is the Postgres NOTIFY channel on which a new job (or
// one moved to another queue) is announced to the workers of its task
// queue, which dispatch it themselves (DispatchJob).
const JobQueuedChannel = "berth_job_queued"

// JobQueued is the payload sent on JobQueuedChannel.
type JobQueued struct {
	JobID     uuid.UUID `json:"job_id"`
	TaskQueue string    `json:"task_queue"`
}

// JobFacts are the facts about a job its workflow start carries (search
// attributes, memo, summary); workflows.JobFacts has the same fields.
type JobFacts struct {
	JobID          uuid.UUID         `bun:"job_id"`
	JobType        string            `bun:"job_type"`
	TaskQueue      string            `bun:"task_queue"`
	OrganizationID uuid.UUID         `bun:"organization_id"`
	InitiatorID    uuid.UUID         `bun:"initiator_id"`
	Tags           map[string]string `bun:"tags,type:jsonb"`

	OrganizationName    string        `bun:"organization_name"`
	InitiatorName       string        `bun:"initiator_name"`
	TemplateID          uuid.NullUUID `bun:"template_id"`
	TemplateName        string        `bun:"template_name"`
	TemplateVersionID   uuid.NullUUID `bun:"template_version_id"`
	TemplateVersionName string        `bun:"template_version_name"`
	WorkspaceID         uuid.NullUUID `bun:"workspace_id"`
	WorkspaceName       string        `bun:"workspace_name"`
	OwnerName           string        `bun:"owner_name"`
	BuildNumber         int           `bun:"build_number"`
	Transition          string        `bun:"transition"`
	Reason              string        `bun:"reason"`
	// TraceParent is the W3C traceparent of the request that created the
	// job, so the job's workflow continues its trace.
	TraceParent string `bun:"trace_parent"`
}

// jobFactsQuery reads the facts of the job j with id = $1, which must also
// meet the conditions appended to it.
const jobFactsQuery = `SELECT j.id AS job_id, j.type AS job_type, j.task_queue, j.organization_id, j.initiator_id, j.tags,
	o.name AS organization_name, u.username AS initiator_name,
	t.id AS template_id, coalesce(t.name, '') AS template_name,
	v.id AS template_version_id, coalesce(v.name, '') AS template_version_name,
	w.id AS workspace_id, coalesce(w.name, j.input->>'workspace_name', '') AS workspace_name,
	coalesce(ow.username, '') AS owner_name,
	coalesce(b.build_number, 0) AS build_number, coalesce(b.transition, '') AS transition, coalesce(b.reason, '') AS reason,
	coalesce(j.input->>'trace_parent', '') AS trace_parent
	FROM provisioner_jobs j
	JOIN organizations o ON o.id = j.organization_id
	JOIN users u ON u.id = j.initiator_id
	LEFT JOIN workspace_builds b ON b.job_id = j.id
	LEFT JOIN workspaces w ON w.id = b.workspace_id
	LEFT JOIN users ow ON ow.id = w.owner_id
	LEFT JOIN template_versions v ON v.id = coalesce(b.template_version_id, (j.input->>'template_version_id')::uuid)
	LEFT JOIN templates t ON t.id = v.template_id
	WHERE j.id = $1`

// GetJobFacts returns the facts a job's workflow start carries.
func (s *Store) GetJobFacts(ctx context.Context, jobID uuid.UUID) (*JobFacts, error) {
	f := new(JobFacts)
	err := s.queryPrepared(ctx, f, jobFactsQuery, jobID)
	return f, wrap("get job facts", err)
}

// errSkipDispatch ends DispatchJob's transaction when another process is
// dispatching the job or it needs no dispatch.
var errSkipDispatch = errors.New("job needs no dispatch")

// DispatchJob gives a pending job of the given task queue its workflow
// (with restart, one whose workflow waits on a queue no worker polls):
// under a transaction-scoped advisory lock on the job, so workers notified
// of the same job start it once, it reads the job's facts and calls start
// (which starts the workflow, eagerly on the calling worker). It reports
// false, without calling start, when another process holds the lock or the
// job is no longer waiting for a workflow (started, finished, moved to
// another queue). The lock takes no row lock and writes nothing, so the
// transaction costs no commit; RunJob's claim records the start.
func (s *Store) DispatchJob(ctx context.Context, jobID uuid.UUID, queue string, restart bool, start func(*JobFacts) error) (bool, error) {
	cond := ` AND j.task_queue = $2 AND ` + jobPending
	if !restart {
		cond += ` AND j.workflow_started_at IS NULL`
	}
	// The lock is one more condition on the job's row (found by its
	// primary key): no row when another process holds it.
	cond += ` AND pg_try_advisory_xact_lock($3)`
	err := s.InTx(ctx, func(tx *Store) error {
		f := new(JobFacts)
		err := tx.queryPrepared(ctx, f, jobFactsQuery+cond, jobID, queue, dispatchLockKey(jobID))
		if err != nil {
			err = wrap("get job facts", err)
			if errors.Is(err, ErrNotFound) {
				return errSkipDispatch
			}
			return err
		}
		return start(f)
	})
	if errors.Is(err, errSkipDispatch) {
		return false, nil
	}
	return err == nil, err
}

// dispatchLockKey is the advisory lock key of a job's dispatch.
func dispatchLockKey(jobID uuid.UUID) int64 {
	return int64(binary.BigEndian.Uint64(jobID[:8]))
}

// UndispatchedJobs returns the oldest pending jobs of a task queue that
// have no workflow yet and were created before cutoff.
func (s *Store) UndispatchedJobs(ctx context.Context, queue string, cutoff time.Time, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.db.NewSelect().Model((*ProvisionerJob)(nil)).Column("id").
		Where("task_queue = ?", queue).
		Where("workflow_started_at IS NULL").Where("started_at IS NULL").Where("completed_at IS NULL").
		Where("canceled_at IS NULL").Where("created_at < ?", cutoff).
		OrderExpr("created_at").Limit(limit).Scan(ctx, &ids)
	return ids, wrap("list undispatched jobs", err)
}

// JobQueueListener receives JobQueuedChannel notifications on a
// connection of its own.
type JobQueueListener struct {
	ln *pgdriver.Listener
}

// ListenJobQueued starts listening on JobQueuedChannel. Notifications sent
// before it returns may be missed: callers look for pending jobs after it.
func (s *Store) ListenJobQueued(ctx context.Context) (*JobQueueListener, error) {
	bdb, ok := s.db.(*bun.DB)
	if !ok {
		return nil, errors.New("listen for queued jobs: needs a database, not a transaction")
	}
	ln := pgdriver.NewListener(bdb)
	if err := ln.Listen(ctx, JobQueuedChannel); err != nil {
		_ = ln.Close()
		return nil, wrap("listen for queued jobs", err)
	}
	// LISTEN takes effect once the listener's connection sends it: our own
	// ping coming back proves it did.
	for range 20 {
		if _, err := bdb.ExecContext(ctx, "SELECT pg_notify(?, ?)", JobQueuedChannel, queuedPing); err != nil {
			_ = ln.Close()
			return nil, wrap("listen for queued jobs", err)
		}
		_, payload, err := ln.ReceiveTimeout(ctx, 500*time.Millisecond)
		if err != nil && !isTimeout(err) {
			_ = ln.Close()
			return nil, wrap("listen for queued jobs", err)
		}
		if err == nil && payload == queuedPing {
			return &JobQueueListener{ln: ln}, nil
		}
	}
	_ = ln.Close()
	return nil, errors.New("listen for queued jobs: the listener never heard its own ping")
}

// queuedPing is a JobQueuedChannel payload that names no job.
const queuedPing = `{"ping":true}`

// Receive waits up to timeout for a notification. It returns ok false on
// timeout; any other error means the connection is lost.
func (l *JobQueueListener) Receive(ctx context.Context, timeout time.Duration) (ev JobQueued, ok bool, err error) {
	_, payload, err := l.ln.ReceiveTimeout(ctx, timeout)
	if err != nil {
		if isTimeout(err) && ctx.Err() == nil {
			return ev, false, nil
		}
		return ev, false, wrap("receive queued job", err)
	}
	if payload == queuedPing {
		return ev, false, nil
	}
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		return ev, false, fmt.Errorf("decode queued job %q: %w", payload, err)
	}
	return ev, true, nil
}

// Close closes the listener's connection.
func (l *JobQueueListener) Close() error { return l.ln.Close() }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
