package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// LifecycleCandidate is a live workspace some lifecycle rule may apply to,
// with what the rules read: its dormancy, use and autostart, its
// template's lifecycle settings, its latest build and that build's job,
// and its owner's status.
type LifecycleCandidate struct {
	WorkspaceID       uuid.UUID  `bun:"workspace_id"`
	TemplateID        uuid.UUID  `bun:"template_id"`
	OwnerID           uuid.UUID  `bun:"owner_id"`
	OwnerStatus       string     `bun:"owner_status"`
	DormantAt         *time.Time `bun:"dormant_at"`
	DeletingAt        *time.Time `bun:"deleting_at"`
	LastUsedAt        time.Time  `bun:"last_used_at"`
	AutostartSchedule *string    `bun:"autostart_schedule"`
	NextStartAt       *time.Time `bun:"next_start_at"`
	// The latest build and its job.
	LatestBuildID  uuid.UUID  `bun:"build_id"`
	VersionID      uuid.UUID  `bun:"template_version_id"`
	Transition     string     `bun:"transition"`
	Deadline       *time.Time `bun:"deadline"`
	JobStatus      string     `bun:"job_status"`
	JobCompletedAt *time.Time `bun:"completed_at"`
	// The template's settings, in milliseconds.
	TimeTilDormantMillis           int64 `bun:"time_til_dormant_ms"`
	TimeTilDormantAutoDeleteMillis int64 `bun:"time_til_dormant_autodelete_ms"`
	FailureTTLMillis               int64 `bun:"failure_ttl_ms"`
	AllowUserAutostart             bool  `bun:"allow_user_autostart"`
}

// AfterScanRow keeps times in UTC.
func (m *LifecycleCandidate) AfterScanRow(context.Context) error { toUTC(m); return nil }

// LifecycleCandidates lists, by workspace ID after after, up to limit live
// workspaces that may be due at now: a start past its deadline (or whose
// owner is suspended), an autostart time that has come, a start that
// failed longer ago than the template's failure TTL, a workspace unused
// for longer than the template's time until dormant, or a dormant one
// past its deletion time. It is a superset: the lifecycle rules decide.
func (s *Store) LifecycleCandidates(ctx context.Context, now time.Time, after uuid.UUID, limit int) ([]LifecycleCandidate, error) {
	var out []LifecycleCandidate
	err := s.db.NewRaw(`SELECT w.id AS workspace_id, w.template_id, w.owner_id, u.status AS owner_status,
		w.dormant_at, w.deleting_at, w.last_used_at, w.autostart_schedule, w.next_start_at,
		lb.id AS build_id, lb.template_version_id, lb.transition, lb.deadline, j.job_status, j.completed_at,
		t.time_til_dormant_ms, t.time_til_dormant_autodelete_ms, t.failure_ttl_ms, t.allow_user_autostart
		FROM workspaces w
		JOIN templates t ON t.id = w.template_id
		JOIN users u ON u.id = w.owner_id
		JOIN LATERAL (SELECT b.id, b.template_version_id, b.transition, b.deadline, b.job_id FROM workspace_builds b
			WHERE b.workspace_id = w.id ORDER BY b.build_number DESC LIMIT 1) lb ON true
		JOIN provisioner_jobs j ON j.id = lb.job_id
		WHERE NOT w.deleted AND w.id > ?1 AND (
			w.next_start_at <= ?0
			OR (lb.transition = 'start' AND j.job_status = 'succeeded' AND w.dormant_at IS NULL
				AND (lb.deadline <= ?0 OR u.status = 'suspended'))
			OR (t.failure_ttl_ms > 0 AND lb.transition = 'start' AND j.job_status = 'failed'
				AND j.completed_at + t.failure_ttl_ms * interval '1 millisecond' < ?0)
			OR (w.dormant_at IS NULL AND t.time_til_dormant_ms > 0
				AND w.last_used_at + t.time_til_dormant_ms * interval '1 millisecond' < ?0)
			OR (w.dormant_at IS NOT NULL AND t.time_til_dormant_autodelete_ms > 0 AND w.deleting_at < ?0))
		ORDER BY w.id LIMIT ?2`, now, after, limit).Scan(ctx, &out)
	return out, wrap("list lifecycle candidates", err)
}

// AdvanceNextStart moves a workspace's next autostart time from prev to
// next (nil: none). It reports false when the time was no longer prev:
// another server got there first, or the schedule changed.
func (s *Store) AdvanceNextStart(ctx context.Context, id uuid.UUID, prev time.Time, next *time.Time) (bool, error) {
	res, err := s.db.NewUpdate().Model((*Workspace)(nil)).Set("next_start_at = ?", next).
		Where("id = ?", id).Where("next_start_at = ?", prev).Exec(ctx)
	if err != nil {
		return false, wrap("advance next start", err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap("advance next start", err)
}

// MarkWorkspaceDormant makes a live workspace dormant at at, to be deleted
// at deletingAt (nil: never). It reports false when the workspace already
// was dormant.
func (s *Store) MarkWorkspaceDormant(ctx context.Context, id uuid.UUID, at time.Time, deletingAt *time.Time) (bool, error) {
	res, err := s.db.NewUpdate().Model((*Workspace)(nil)).
		Set("dormant_at = ?", at).Set("deleting_at = ?", deletingAt).Set("updated_at = ?", Now()).
		Where("id = ?", id).Where("dormant_at IS NULL").Where("NOT deleted").Exec(ctx)
	if err != nil {
		return false, wrap("mark workspace dormant", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, wrap("mark workspace dormant", err)
	}
	return true, s.NotifyWorkspace(ctx, id)
}

// GetWorkspacesByIDs returns workspaces by ID, deleted or not.
func (s *Store) GetWorkspacesByIDs(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*Workspace, error) {
	out := make(map[uuid.UUID]*Workspace, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var ws []*Workspace
	if err := s.db.NewSelect().Model(&ws).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, wrap("get workspaces", err)
	}
	for _, w := range ws {
		out[w.ID] = w
	}
	return out, nil
}
