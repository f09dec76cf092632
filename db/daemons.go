package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// DaemonOnlineWindow is how recently a daemon must have been seen to count
// as online.
const DaemonOnlineWindow = 90 * time.Second

// UntaggedTags is the tag set of a job or daemon with no tags of its own.
func UntaggedTags() map[string]string { return map[string]string{"scope": "organization", "owner": ""} }

// daemonMatchesJob is the SQL condition for "daemon d can run job j":
// same organization, the provisioner is supported, and the job's tags are
// equal to the daemon's (untagged jobs) or a subset of them.
const daemonMatchesJob = `d.organization_id = j.organization_id
	AND j.provisioner = ANY(d.provisioners)
	AND CASE WHEN j.tags = '{"scope":"organization","owner":""}'::jsonb THEN d.tags = j.tags ELSE d.tags @> j.tags END`

// UpsertDaemon registers a worker, or refreshes its row.
func (s *Store) UpsertDaemon(ctx context.Context, d *ProvisionerDaemon) error {
	_, err := s.db.NewInsert().Model(d).
		On("CONFLICT (id) DO UPDATE").
		Set("name = EXCLUDED.name, provisioners = EXCLUDED.provisioners, tags = EXCLUDED.tags, task_queue = EXCLUDED.task_queue, version = EXCLUDED.version, api_version = EXCLUDED.api_version, last_seen_at = EXCLUDED.last_seen_at").
		Exec(ctx)
	return wrap("upsert provisioner daemon", err)
}

// TouchDaemon refreshes a daemon's last_seen_at.
func (s *Store) TouchDaemon(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.NewUpdate().Model((*ProvisionerDaemon)(nil)).Set("last_seen_at = ?", Now()).Where("id = ?", id).Exec(ctx)
	return wrap("touch provisioner daemon", err)
}

// GetDaemonByID returns a daemon.
func (s *Store) GetDaemonByID(ctx context.Context, id uuid.UUID) (*ProvisionerDaemon, error) {
	d := new(ProvisionerDaemon)
	err := s.db.NewSelect().Model(d).Where("id = ?", id).Scan(ctx)
	return d, wrap("get provisioner daemon", err)
}

// PickTaskQueue returns the task queue of the most recently seen daemon
// that can run a job with these properties, or "" when none is registered.
func (s *Store) PickTaskQueue(ctx context.Context, orgID uuid.UUID, provisioner string, tags map[string]string) (string, error) {
	var queues []string
	err := s.db.NewRaw(`SELECT d.task_queue FROM provisioner_daemons d,
		(SELECT ?::uuid AS organization_id, ?::text AS provisioner, ?::jsonb AS tags) j
		WHERE `+daemonMatchesJob+` ORDER BY d.last_seen_at DESC LIMIT 1`,
		orgID, provisioner, tags).Scan(ctx, &queues)
	if err != nil {
		return "", wrap("pick task queue", err)
	}
	if len(queues) == 0 {
		return "", nil
	}
	return queues[0], nil
}

// JobQueue describes where a pending job stands.
type JobQueue struct {
	Position         int
	Size             int
	Count            int // matching daemons
	Available        int // matching daemons online
	MostRecentlySeen *time.Time
	AvailableWorkers []uuid.UUID
}

// GetJobQueue computes the queue figures of a job on read: only online,
// tag-matching daemons count, and only pending, uncanceled jobs they could
// take. Position and size are 0 unless the job is pending.
func (s *Store) GetJobQueue(ctx context.Context, j *ProvisionerJob) (*JobQueue, error) {
	var out struct {
		Queue queueDaemons `bun:"queue"`
	}
	err := s.queryPrepared(ctx, &out, `SELECT `+jobQueueColumn+` AS queue
		FROM (SELECT $2::uuid AS id, $3::timestamptz AS created_at, $4::uuid AS organization_id, $5::text AS provisioner,
			$6::jsonb AS tags, $7::timestamptz AS started_at, $8::timestamptz AS completed_at, $9::timestamptz AS canceled_at) j`,
		Now().Add(-DaemonOnlineWindow), j.ID, j.CreatedAt, j.OrganizationID, j.Provisioner, tagsJSON(j.Tags),
		j.StartedAt, j.CompletedAt, j.CanceledAt)
	if err != nil {
		return nil, wrap("get job queue", err)
	}
	return out.Queue.jobQueue(), nil
}

// jobPending is the condition that the job j waits for a worker.
const jobPending = `j.started_at IS NULL AND j.completed_at IS NULL AND j.canceled_at IS NULL`

// jobQueueColumn is a column of the daemons that match the job j, as JSON,
// with the job's position and the queue's size on each online one while
// the job is pending ($1: the daemons seen since are online).
const jobQueueColumn = `(SELECT coalesce(json_agg(json_build_object(
		'id', d.id, 'last_seen_at', d.last_seen_at, 'online', d.last_seen_at > $1,
		'position', CASE WHEN pending.yes AND d.last_seen_at > $1 THEN (SELECT count(*) FROM provisioner_jobs p
			WHERE ` + pendingJobs + ` AND (p.created_at, p.id) <= (j.created_at, j.id)) ELSE 0 END,
		'size', CASE WHEN pending.yes AND d.last_seen_at > $1 THEN (SELECT count(*) FROM provisioner_jobs p
			WHERE ` + pendingJobs + `) ELSE 0 END)), '[]')
	FROM provisioner_daemons d,
		(SELECT ` + jobPending + ` AS yes) pending
	WHERE ` + daemonMatchesJob + `)`

// pendingQueueColumn is jobQueueColumn for the template version view,
// whose JSON shows queue figures and matched provisioners only while the
// job is pending: NULL (no daemons) once it has started, which spares the
// daemons' subquery and its JSON on every poll of a running import. (A
// build shows its matched provisioners whatever its job's status.)
const pendingQueueColumn = `CASE WHEN ` + jobPending + ` THEN ` + jobQueueColumn + ` END`

// queueDaemons is jobQueueColumn's value.
type queueDaemons []struct {
	ID       uuid.UUID `json:"id"`
	LastSeen time.Time `json:"last_seen_at"`
	Online   bool      `json:"online"`
	Position int       `json:"position"`
	Size     int       `json:"size"`
}

// Scan implements sql.Scanner.
func (q *queueDaemons) Scan(src any) error {
	switch v := src.(type) {
	case []byte:
		return json.Unmarshal(v, q)
	case string:
		return json.Unmarshal([]byte(v), q)
	case nil:
		*q = nil
		return nil
	}
	return fmt.Errorf("scan job queue: unexpected %T", src)
}

func (q queueDaemons) jobQueue() *JobQueue {
	out := &JobQueue{AvailableWorkers: []uuid.UUID{}}
	for _, d := range q {
		out.addDaemon(d.ID, d.LastSeen, d.Online, d.Position, d.Size)
	}
	return out
}

// pendingJobs matches the pending, uncanceled jobs p that daemon d could
// take.
const pendingJobs = `p.started_at IS NULL AND p.completed_at IS NULL AND p.canceled_at IS NULL
	AND p.organization_id = d.organization_id AND p.provisioner = ANY(d.provisioners)
	AND CASE WHEN p.tags = '{"scope":"organization","owner":""}'::jsonb THEN d.tags = p.tags ELSE d.tags @> p.tags END`

// addDaemon counts one matching daemon into the queue figures: the job's
// position and the queue's size are the best any online daemon offers.
func (q *JobQueue) addDaemon(id uuid.UUID, lastSeen time.Time, online bool, position, size int) {
	q.Count++
	if q.MostRecentlySeen == nil || lastSeen.After(*q.MostRecentlySeen) {
		t := lastSeen.UTC()
		q.MostRecentlySeen = &t
	}
	if !online {
		return
	}
	q.Available++
	q.AvailableWorkers = append(q.AvailableWorkers, id)
	if position > 0 && (q.Position == 0 || position < q.Position) {
		q.Position = position
	}
	if size > q.Size {
		q.Size = size
	}
}

// GetDaemonNames returns the names of daemons by ID.
func (s *Store) GetDaemonNames(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	out := make(map[uuid.UUID]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var ds []*ProvisionerDaemon
	if err := s.db.NewSelect().Model(&ds).Column("id", "name").Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, wrap("get provisioner daemons", err)
	}
	for _, d := range ds {
		out[d.ID] = d.Name
	}
	return out, nil
}

// ListDaemons lists an organization's daemons, most recently seen first.
func (s *Store) ListDaemons(ctx context.Context, orgID uuid.UUID) ([]*ProvisionerDaemon, error) {
	var ds []*ProvisionerDaemon
	err := s.db.NewSelect().Model(&ds).Where("organization_id = ?", orgID).OrderExpr("last_seen_at DESC, id").Scan(ctx)
	return ds, wrap("list provisioner daemons", err)
}

// DaemonJob is a daemon's current or previous job with its template.
type DaemonJob struct {
	WorkerID            uuid.UUID `bun:"worker_id"`
	Current             bool      `bun:"current"`
	ID                  uuid.UUID `bun:"id"`
	Status              string    `bun:"job_status"`
	TemplateName        string    `bun:"template_name"`
	TemplateIcon        string    `bun:"template_icon"`
	TemplateDisplayName string    `bun:"template_display_name"`
}

// GetDaemonJobs returns the current (active) and previous (last completed)
// job of each daemon, in one query.
func (s *Store) GetDaemonJobs(ctx context.Context, daemonIDs []uuid.UUID) ([]DaemonJob, error) {
	out := []DaemonJob{}
	if len(daemonIDs) == 0 {
		return out, nil
	}
	err := s.db.NewRaw(`WITH picked AS (
		SELECT DISTINCT ON (worker_id, completed_at IS NULL) worker_id, completed_at IS NULL AS current, id, job_status, type, input
		FROM provisioner_jobs WHERE worker_id IN (?)
		ORDER BY worker_id, completed_at IS NULL, completed_at DESC NULLS LAST, started_at DESC)
	SELECT p.worker_id, p.current, p.id, p.job_status,
		coalesce(t.name, '') AS template_name, coalesce(t.icon, '') AS template_icon,
		coalesce(t.display_name, '') AS template_display_name
	FROM picked p
	LEFT JOIN template_versions v ON v.id = coalesce(
		(SELECT b.template_version_id FROM workspace_builds b WHERE b.job_id = p.id),
		(p.input->>'template_version_id')::uuid)
	LEFT JOIN templates t ON t.id = v.template_id`, bun.List(daemonIDs)).Scan(ctx, &out)
	return out, wrap("get daemon jobs", err)
}

// AdoptJobs moves to a daemon's task queue the pending jobs it can run that
// sit on a queue no online daemon polls (they were enqueued before any
// matching daemon existed), and returns them.
func (s *Store) AdoptJobs(ctx context.Context, daemonID uuid.UUID, limit int) ([]*ProvisionerJob, error) {
	var js []*ProvisionerJob
	online := Now().Add(-DaemonOnlineWindow)
	err := s.db.NewRaw(`UPDATE provisioner_jobs SET task_queue = d.task_queue
		FROM provisioner_daemons d
		WHERE d.id = ? AND provisioner_jobs.id IN (
			SELECT j.id FROM provisioner_jobs j, provisioner_daemons d
			WHERE d.id = ? AND `+jobPending+`
			AND j.task_queue <> d.task_queue AND `+daemonMatchesJob+`
			AND NOT EXISTS (SELECT 1 FROM provisioner_daemons o WHERE o.task_queue = j.task_queue AND o.last_seen_at > ?)
			ORDER BY j.created_at LIMIT ? FOR UPDATE OF j SKIP LOCKED)
		RETURNING provisioner_jobs.*`, daemonID, daemonID, online, limit).Scan(ctx, &js)
	return js, wrap("adopt jobs", err)
}

// tagsJSON is a tag set as a jsonb argument of a prepared statement.
func tagsJSON(tags map[string]string) string {
	b, _ := json.Marshal(tags)
	return string(b)
}
