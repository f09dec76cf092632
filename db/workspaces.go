package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// InsertWorkspace inserts a workspace.
func (s *Store) InsertWorkspace(ctx context.Context, w *Workspace) error {
	_, err := s.db.NewInsert().Model(w).Exec(ctx)
	return wrap("insert workspace", err)
}

// GetWorkspaceByID returns a workspace, deleted or not.
func (s *Store) GetWorkspaceByID(ctx context.Context, id uuid.UUID) (*Workspace, error) {
	w := new(Workspace)
	err := s.db.NewSelect().Model(w).Where("id = ?", id).Scan(ctx)
	return w, wrap("get workspace", err)
}

// LockWorkspace locks a workspace row for the rest of the transaction.
func (s *Store) LockWorkspace(ctx context.Context, id uuid.UUID) (*Workspace, error) {
	w := new(Workspace)
	err := s.db.NewSelect().Model(w).Where("id = ?", id).For("UPDATE").Scan(ctx)
	return w, wrap("lock workspace", err)
}

// LockWorkspaceNoWait is LockWorkspace for a caller that would rather skip
// the workspace: ErrNotFound when another transaction holds the row.
func (s *Store) LockWorkspaceNoWait(ctx context.Context, id uuid.UUID) (*Workspace, error) {
	w := new(Workspace)
	err := s.db.NewSelect().Model(w).Where("id = ?", id).For("UPDATE SKIP LOCKED").Scan(ctx)
	return w, wrap("lock workspace", err)
}

// GetWorkspaceByOwnerAndName returns the owner's live workspace with that
// name or, with includeDeleted, the most recent one including deleted.
func (s *Store) GetWorkspaceByOwnerAndName(ctx context.Context, ownerID uuid.UUID, name string, includeDeleted bool) (*Workspace, error) {
	w := new(Workspace)
	q := s.db.NewSelect().Model(w).Where("owner_id = ?", ownerID).Where("lower(name) = lower(?)", name)
	if !includeDeleted {
		q = q.Where("NOT deleted")
	}
	err := q.OrderExpr("deleted, created_at DESC").Limit(1).Scan(ctx)
	return w, wrap("get workspace by name", err)
}

// UpdateWorkspace writes a workspace's mutable columns and tells its
// watchers.
func (s *Store) UpdateWorkspace(ctx context.Context, w *Workspace) error {
	w.UpdatedAt = Now()
	if _, err := s.db.NewUpdate().Model(w).WherePK().Exec(ctx); err != nil {
		return wrap("update workspace", err)
	}
	return s.NotifyWorkspace(ctx, w.ID)
}

// NotifyWorkspace wakes the watchers of a workspace on every API server
// (on commit, when called inside a transaction).
func (s *Store) NotifyWorkspace(ctx context.Context, id uuid.UUID) error {
	return s.notify(ctx, JobEvent{WorkspaceID: id})
}

// CountActiveWorkspacesByTemplate counts non-deleted workspaces of a template.
func (s *Store) CountActiveWorkspacesByTemplate(ctx context.Context, templateID uuid.UUID) (int, error) {
	n, err := s.db.NewSelect().Model((*Workspace)(nil)).Where("template_id = ?", templateID).Where("NOT deleted").Count(ctx)
	return n, wrap("count workspaces", err)
}

// InsertWorkspaceBuild inserts a build (the workspace's new latest build)
// and tells the workspace's watchers.
func (s *Store) InsertWorkspaceBuild(ctx context.Context, b *WorkspaceBuild) error {
	if _, err := s.db.NewInsert().Model(b).Exec(ctx); err != nil {
		return wrap("insert workspace build", err)
	}
	return s.NotifyWorkspace(ctx, b.WorkspaceID)
}

// GetWorkspaceBuildByID returns a build.
func (s *Store) GetWorkspaceBuildByID(ctx context.Context, id uuid.UUID) (*WorkspaceBuild, error) {
	b := new(WorkspaceBuild)
	err := s.db.NewSelect().Model(b).Where("id = ?", id).Scan(ctx)
	return b, wrap("get workspace build", err)
}

// GetWorkspaceBuildByJobID returns the build a job runs.
func (s *Store) GetWorkspaceBuildByJobID(ctx context.Context, jobID uuid.UUID) (*WorkspaceBuild, error) {
	b := new(WorkspaceBuild)
	err := s.db.NewSelect().Model(b).Where("job_id = ?", jobID).Scan(ctx)
	return b, wrap("get workspace build by job", err)
}

// GetWorkspaceBuildByNumber returns a workspace's build by number.
func (s *Store) GetWorkspaceBuildByNumber(ctx context.Context, workspaceID uuid.UUID, n int32) (*WorkspaceBuild, error) {
	b := new(WorkspaceBuild)
	err := s.db.NewSelect().Model(b).Where("workspace_id = ?", workspaceID).Where("build_number = ?", n).Scan(ctx)
	return b, wrap("get workspace build by number", err)
}

// GetLatestWorkspaceBuild returns a workspace's highest-numbered build.
func (s *Store) GetLatestWorkspaceBuild(ctx context.Context, workspaceID uuid.UUID) (*WorkspaceBuild, error) {
	b := new(WorkspaceBuild)
	err := s.db.NewSelect().Model(b).Where("workspace_id = ?", workspaceID).OrderExpr("build_number DESC").Limit(1).Scan(ctx)
	return b, wrap("get latest workspace build", err)
}

// GetLatestWorkspaceBuilds returns the latest build of each workspace.
func (s *Store) GetLatestWorkspaceBuilds(ctx context.Context, workspaceIDs []uuid.UUID) (map[uuid.UUID]*WorkspaceBuild, error) {
	out := make(map[uuid.UUID]*WorkspaceBuild, len(workspaceIDs))
	if len(workspaceIDs) == 0 {
		return out, nil
	}
	var bs []*WorkspaceBuild
	err := s.db.NewSelect().Model(&bs).DistinctOn("workspace_id").Where("workspace_id IN (?)", bun.List(workspaceIDs)).
		OrderExpr("workspace_id, build_number DESC").Scan(ctx)
	if err != nil {
		return nil, wrap("get latest workspace builds", err)
	}
	for _, b := range bs {
		out[b.WorkspaceID] = b
	}
	return out, nil
}

// BuildPage selects a page of a workspace's builds, newest first.
type BuildPage struct {
	AfterID       uuid.UUID
	Limit, Offset int
	Since         *time.Time
}

// ListWorkspaceBuilds lists a workspace's builds by build number, descending.
func (s *Store) ListWorkspaceBuilds(ctx context.Context, workspaceID uuid.UUID, p BuildPage) ([]*WorkspaceBuild, error) {
	var bs []*WorkspaceBuild
	q := s.db.NewSelect().Model(&bs).Where("workspace_id = ?", workspaceID)
	if p.AfterID != uuid.Nil {
		q = q.Where("build_number < (SELECT build_number FROM workspace_builds WHERE id = ?)", p.AfterID)
	}
	if p.Since != nil {
		q = q.Where("created_at >= ?", *p.Since)
	}
	q = q.OrderExpr("build_number DESC").Offset(p.Offset)
	if p.Limit > 0 {
		q = q.Limit(p.Limit)
	}
	err := q.Scan(ctx)
	return bs, wrap("list workspace builds", err)
}

// SetWorkspaceBuildResult records a finished build's state and deadline.
func (s *Store) SetWorkspaceBuildResult(ctx context.Context, id uuid.UUID, state []byte, deadline *time.Time) error {
	q := s.db.NewUpdate().Model((*WorkspaceBuild)(nil)).Set("updated_at = ?", Now()).Set("deadline = ?", deadline).Where("id = ?", id)
	if state != nil {
		q = q.Set("provisioner_state = ?", state)
	}
	_, err := q.Exec(ctx)
	return wrap("set workspace build result", err)
}

// finishWorkspaceBuild settles a build row as its job completes. A
// successful build costs the sum of its resources' daily_cost, and a start
// with a max_deadline stops by then: its deadline is capped at the max
// deadline, or is the max deadline when the TTL gave none. A build that
// failed or was canceled has neither deadline.
func (s *Store) finishWorkspaceBuild(ctx context.Context, jobID uuid.UUID, succeeded bool) error {
	_, err := s.db.NewRaw(`UPDATE workspace_builds b SET
		daily_cost = CASE WHEN ?0 THEN (SELECT coalesce(sum(r.daily_cost), 0) FROM workspace_resources r WHERE r.job_id = b.job_id)
			ELSE b.daily_cost END,
		deadline = CASE WHEN NOT ?0 THEN NULL
			WHEN b.max_deadline IS NOT NULL AND (b.deadline IS NULL OR b.deadline > b.max_deadline) THEN b.max_deadline
			ELSE b.deadline END,
		max_deadline = CASE WHEN ?0 THEN b.max_deadline END
		WHERE b.job_id = ?1`, succeeded, jobID).Exec(ctx)
	return wrap("finish workspace build", err)
}

// MarkWorkspaceDeleted marks a workspace deleted; its name becomes free.
func (s *Store) MarkWorkspaceDeleted(ctx context.Context, id uuid.UUID) error {
	if _, err := s.db.NewUpdate().Model((*Workspace)(nil)).Set("deleted = true").Set("updated_at = ?", Now()).
		Where("id = ?", id).Exec(ctx); err != nil {
		return wrap("mark workspace deleted", err)
	}
	return s.NotifyWorkspace(ctx, id)
}

// InsertWorkspaceBuildParameters stores a build's resolved parameters.
func (s *Store) InsertWorkspaceBuildParameters(ctx context.Context, ps []WorkspaceBuildParameter) error {
	if len(ps) == 0 {
		return nil
	}
	_, err := s.db.NewInsert().Model(&ps).Exec(ctx)
	return wrap("insert workspace build parameters", err)
}

// GetWorkspaceBuildParameters returns a build's parameters by name.
func (s *Store) GetWorkspaceBuildParameters(ctx context.Context, buildID uuid.UUID) ([]WorkspaceBuildParameter, error) {
	ps := []WorkspaceBuildParameter{}
	err := s.db.NewSelect().Model(&ps).Where("workspace_build_id = ?", buildID).OrderExpr("name").Scan(ctx)
	return ps, wrap("get workspace build parameters", err)
}

// GetBuildAndPreviousParameters returns the parameters of a workspace's
// build number n and of its build n-1, in one query.
func (s *Store) GetBuildAndPreviousParameters(ctx context.Context, workspaceID uuid.UUID, n int) (current, previous []WorkspaceBuildParameter, err error) {
	var rows []struct {
		WorkspaceBuildParameter
		Current bool `bun:"current"`
	}
	err = s.db.NewRaw(`SELECT p.*, b.build_number = ? AS current
		FROM workspace_build_parameters p JOIN workspace_builds b ON b.id = p.workspace_build_id
		WHERE b.workspace_id = ? AND b.build_number IN (?, ?) ORDER BY p.name`, n, workspaceID, n, n-1).Scan(ctx, &rows)
	if err != nil {
		return nil, nil, wrap("get workspace build parameters", err)
	}
	for _, r := range rows {
		if r.Current {
			current = append(current, r.WorkspaceBuildParameter)
		} else {
			previous = append(previous, r.WorkspaceBuildParameter)
		}
	}
	return current, previous, nil
}

// IsFavorite reports whether a user marked a workspace as a favorite.
func (s *Store) IsFavorite(ctx context.Context, userID, workspaceID uuid.UUID) (bool, error) {
	ok, err := s.db.NewSelect().Table("workspace_favorites").Where("user_id = ?", userID).
		Where("workspace_id = ?", workspaceID).Exists(ctx)
	return ok, wrap("get favorite", err)
}

// WorkspaceFavoriters returns the users who marked a workspace a favorite.
func (s *Store) WorkspaceFavoriters(ctx context.Context, workspaceID uuid.UUID) ([]uuid.UUID, error) {
	ids := []uuid.UUID{}
	err := s.db.NewSelect().Table("workspace_favorites").Column("user_id").
		Where("workspace_id = ?", workspaceID).Scan(ctx, &ids)
	return ids, wrap("get workspace favoriters", err)
}

// UpdateWorkspaceBuildState replaces a build's provisioner state (coder
// state push --no-build); the next build starts from it if this is the
// latest build.
func (s *Store) UpdateWorkspaceBuildState(ctx context.Context, id uuid.UUID, state []byte) error {
	if state == nil {
		state = []byte{}
	}
	_, err := s.db.NewUpdate().Model((*WorkspaceBuild)(nil)).Set("provisioner_state = ?", state).
		Set("updated_at = ?", Now()).Where("id = ?", id).Exec(ctx)
	return wrap("update workspace build state", err)
}
