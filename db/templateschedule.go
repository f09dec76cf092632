package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Writes that follow a change of a template's schedule settings to its
// live workspaces. Each tells the watchers of every workspace it changes.

// RedateDormantWorkspaces sets the deletion time of the template's dormant
// workspaces to dormant_at + autoDelete (none when autoDelete is 0), first
// moving dormant_at to dormantAt when it is set.
func (s *Store) RedateDormantWorkspaces(ctx context.Context, templateID uuid.UUID, dormantAt *time.Time, autoDelete time.Duration) error {
	var ids []uuid.UUID
	err := s.db.NewRaw(`UPDATE workspaces SET dormant_at = coalesce(?0, dormant_at),
		deleting_at = CASE WHEN ?1 > 0 THEN coalesce(?0, dormant_at) + ?1 * interval '1 millisecond' END, updated_at = ?2
		WHERE template_id = ?3 AND dormant_at IS NOT NULL AND NOT deleted RETURNING id`,
		dormantAt, autoDelete.Milliseconds(), Now(), templateID).Scan(ctx, &ids)
	if err != nil {
		return wrap("redate dormant workspaces", err)
	}
	return s.notifyWorkspaces(ctx, ids)
}

// TouchWorkspacesLastUsed marks every live workspace of the template used
// at at, so none becomes dormant at once under a new time until dormant.
func (s *Store) TouchWorkspacesLastUsed(ctx context.Context, templateID uuid.UUID, at time.Time) error {
	var ids []uuid.UUID
	err := s.db.NewRaw(`UPDATE workspaces SET last_used_at = GREATEST(last_used_at, ?), updated_at = ?
		WHERE template_id = ? AND NOT deleted RETURNING id`, at, Now(), templateID).Scan(ctx, &ids)
	if err != nil {
		return wrap("touch workspaces last used", err)
	}
	return s.notifyWorkspaces(ctx, ids)
}

// SetWorkspacesTTL gives every live workspace of the template the same
// time until shutdown (nil: autostop off).
func (s *Store) SetWorkspacesTTL(ctx context.Context, templateID uuid.UUID, ttlMillis *int64) error {
	var ids []uuid.UUID
	err := s.db.NewRaw(`UPDATE workspaces SET ttl_ms = ?, updated_at = ? WHERE template_id = ? AND NOT deleted RETURNING id`,
		ttlMillis, Now(), templateID).Scan(ctx, &ids)
	if err != nil {
		return wrap("set workspaces ttl", err)
	}
	return s.notifyWorkspaces(ctx, ids)
}

// RunningBuild is the latest build of a live workspace: a start that
// succeeded, so the workspace is running.
type RunningBuild struct {
	BuildID     uuid.UUID  `bun:"build_id"`
	OwnerID     uuid.UUID  `bun:"owner_id"`
	Deadline    *time.Time `bun:"deadline"`
	MaxDeadline *time.Time `bun:"max_deadline"`
	CompletedAt time.Time  `bun:"completed_at"`
}

// AfterScanRow keeps times in UTC.
func (m *RunningBuild) AfterScanRow(context.Context) error { toUTC(m); return nil }

// GetRunningBuildsByTemplate lists the running workspaces of a template.
func (s *Store) GetRunningBuildsByTemplate(ctx context.Context, templateID uuid.UUID) ([]RunningBuild, error) {
	var out []RunningBuild
	err := s.db.NewRaw(`SELECT lb.id AS build_id, w.owner_id, lb.deadline, lb.max_deadline, j.completed_at
		FROM workspaces w
		JOIN LATERAL (SELECT b.id, b.transition, b.deadline, b.max_deadline, b.job_id FROM workspace_builds b
			WHERE b.workspace_id = w.id ORDER BY b.build_number DESC LIMIT 1) lb ON true
		JOIN provisioner_jobs j ON j.id = lb.job_id
		WHERE w.template_id = ? AND NOT w.deleted AND lb.transition = 'start' AND j.job_status = 'succeeded'`,
		templateID).Scan(ctx, &out)
	return out, wrap("get running builds", err)
}

// SetWorkspaceBuildDeadlines writes a running build's deadline and max
// deadline.
func (s *Store) SetWorkspaceBuildDeadlines(ctx context.Context, buildID uuid.UUID, deadline, maxDeadline *time.Time) error {
	var ws []uuid.UUID
	err := s.db.NewRaw(`UPDATE workspace_builds SET deadline = ?, max_deadline = ?, updated_at = ? WHERE id = ? RETURNING workspace_id`,
		deadline, maxDeadline, Now(), buildID).Scan(ctx, &ws)
	if err != nil {
		return wrap("set workspace build deadlines", err)
	}
	return s.notifyWorkspaces(ctx, ws)
}

// GetAutostartWorkspacesByTemplate lists the live workspaces of a template
// that have an autostart schedule.
func (s *Store) GetAutostartWorkspacesByTemplate(ctx context.Context, templateID uuid.UUID) ([]*Workspace, error) {
	var out []*Workspace
	err := s.db.NewSelect().Model(&out).Where("template_id = ?", templateID).Where("NOT deleted").
		Where("autostart_schedule IS NOT NULL").Scan(ctx)
	return out, wrap("get autostart workspaces", err)
}

// SetNextStart writes a workspace's next autostart time.
func (s *Store) SetNextStart(ctx context.Context, id uuid.UUID, next *time.Time) error {
	_, err := s.db.NewUpdate().Model((*Workspace)(nil)).Set("next_start_at = ?", next).Set("updated_at = ?", Now()).
		Where("id = ?", id).Exec(ctx)
	return s.changed(ctx, id, "set next start", err)
}

func (s *Store) notifyWorkspaces(ctx context.Context, ids []uuid.UUID) error {
	for _, id := range ids {
		if err := s.NotifyWorkspace(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
