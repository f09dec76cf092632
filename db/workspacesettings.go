package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Writes behind the workspace settings endpoints. Each one bumps the
// workspace's updated_at and wakes its watchers (NotifyWorkspace).

// RenameWorkspace renames a live workspace. A name another live workspace of
// the owner holds gives a *ConflictError; a deleted workspace gives
// ErrNotFound.
func (s *Store) RenameWorkspace(ctx context.Context, id uuid.UUID, name string) error {
	res, err := s.db.NewUpdate().Model((*Workspace)(nil)).Set("name = ?", name).Set("updated_at = ?", Now()).
		Where("id = ?", id).Where("NOT deleted").Exec(ctx)
	if err != nil {
		return wrap("rename workspace", err)
	}
	if err := affectedOrNotFound(res.RowsAffected()); err != nil {
		return err
	}
	return s.NotifyWorkspace(ctx, id)
}

// UpdateWorkspaceAutostart sets (or, with nil, clears) the autostart schedule
// and the next autostart time.
func (s *Store) UpdateWorkspaceAutostart(ctx context.Context, id uuid.UUID, schedule *string, nextStartAt *time.Time) error {
	_, err := s.db.NewUpdate().Model((*Workspace)(nil)).
		Set("autostart_schedule = ?", schedule).Set("next_start_at = ?", nextStartAt).Set("updated_at = ?", Now()).
		Where("id = ?", id).Exec(ctx)
	return s.changed(ctx, id, "update workspace autostart", err)
}

// UpdateWorkspaceAutomaticUpdates sets automatic_updates (always|never).
func (s *Store) UpdateWorkspaceAutomaticUpdates(ctx context.Context, id uuid.UUID, value string) error {
	_, err := s.db.NewUpdate().Model((*Workspace)(nil)).
		Set("automatic_updates = ?", value).Set("updated_at = ?", Now()).
		Where("id = ?", id).Exec(ctx)
	return s.changed(ctx, id, "update workspace automatic updates", err)
}

// UpdateWorkspaceTTL sets the autostop delay. A nil ttl turns autostop off
// and, as Coder does, also clears the deadline of the latest build if that
// build is a start.
func (s *Store) UpdateWorkspaceTTL(ctx context.Context, id uuid.UUID, ttlMillis *int64) error {
	return s.InTx(ctx, func(tx *Store) error {
		if _, err := tx.LockWorkspace(ctx, id); err != nil {
			return err
		}
		now := Now()
		if _, err := tx.db.NewUpdate().Model((*Workspace)(nil)).
			Set("ttl_ms = ?", ttlMillis).Set("updated_at = ?", now).
			Where("id = ?", id).Exec(ctx); err != nil {
			return wrap("update workspace ttl", err)
		}
		if ttlMillis == nil {
			if _, err := tx.db.NewUpdate().Model((*WorkspaceBuild)(nil)).
				Set("deadline = NULL").Set("updated_at = ?", now).
				Where("id = (SELECT id FROM workspace_builds WHERE workspace_id = ? ORDER BY build_number DESC LIMIT 1)", id).
				Where("transition = 'start'").Where("deadline IS NOT NULL").
				Exec(ctx); err != nil {
				return wrap("clear workspace build deadline", err)
			}
		}
		return tx.NotifyWorkspace(ctx, id)
	})
}

// SetWorkspaceDormant marks a workspace dormant (dormant_at = now, and
// deleting_at = now + autoDelete when autoDelete > 0) or wakes it
// (dormant_at and deleting_at null, last_used_at = now). It reports false,
// and writes nothing, when the workspace was already in that state.
func (s *Store) SetWorkspaceDormant(ctx context.Context, id uuid.UUID, dormant bool, autoDelete time.Duration) (bool, error) {
	now := Now()
	var dormantAt, deletingAt *time.Time
	if dormant {
		dormantAt = &now
		if autoDelete > 0 {
			d := now.Add(autoDelete)
			deletingAt = &d
		}
	}
	q := s.db.NewUpdate().Model((*Workspace)(nil)).
		Set("dormant_at = ?", dormantAt).Set("deleting_at = ?", deletingAt).Set("updated_at = ?", now).
		Where("id = ?", id).Where("(dormant_at IS NOT NULL) <> ?", dormant)
	if !dormant {
		// Waking a workspace counts as a use, so it does not go dormant
		// again at once.
		q = q.Set("last_used_at = GREATEST(last_used_at, ?)", now)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, wrap("set workspace dormant", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("set workspace dormant: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	return true, s.NotifyWorkspace(ctx, id)
}

// SetWorkspaceBuildDeadline moves a build's deadline and bumps the updated_at
// of the build and its workspace. Call it in the transaction that locked the
// workspace.
func (s *Store) SetWorkspaceBuildDeadline(ctx context.Context, b *WorkspaceBuild, deadline time.Time) error {
	now := Now()
	if _, err := s.db.NewUpdate().Model((*WorkspaceBuild)(nil)).
		Set("deadline = ?", deadline).Set("updated_at = ?", now).
		Where("id = ?", b.ID).Exec(ctx); err != nil {
		return wrap("set workspace build deadline", err)
	}
	return s.touchWorkspace(ctx, b.WorkspaceID, now)
}

// SetFavorite marks (or unmarks) a workspace as one of the user's favorites.
// It is idempotent.
func (s *Store) SetFavorite(ctx context.Context, userID, workspaceID uuid.UUID, favorite bool) error {
	return s.InTx(ctx, func(tx *Store) error {
		var err error
		if favorite {
			_, err = tx.db.NewRaw(
				"INSERT INTO workspace_favorites (user_id, workspace_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
				userID, workspaceID).Exec(ctx)
		} else {
			_, err = tx.db.NewDelete().Table("workspace_favorites").
				Where("user_id = ?", userID).Where("workspace_id = ?", workspaceID).Exec(ctx)
		}
		if err != nil {
			return wrap("set favorite", err)
		}
		return tx.touchWorkspace(ctx, workspaceID, Now())
	})
}

// RecordWorkspaceUsage notes that user used a workspace of a template at
// at: last_used_at moves forward, and the template's usage (its DAUs and
// active users) counts the user for that hour.
func (s *Store) RecordWorkspaceUsage(ctx context.Context, workspaceID, templateID, userID uuid.UUID, at time.Time) error {
	if _, err := s.db.NewRaw(`INSERT INTO template_usage (template_id, user_id, hour)
		VALUES (?, ?, date_trunc('hour', ?::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') ON CONFLICT DO NOTHING`,
		templateID, userID, at).Exec(ctx); err != nil {
		return wrap("record template usage", err)
	}
	_, err := s.db.NewUpdate().Model((*Workspace)(nil)).
		Set("last_used_at = GREATEST(last_used_at, ?)", at).Set("updated_at = ?", Now()).
		Where("id = ?", workspaceID).Exec(ctx)
	return s.changed(ctx, workspaceID, "mark workspace used", err)
}

// WorkspaceHasAgent reports whether any build of the workspace reported an
// agent with that ID.
func (s *Store) WorkspaceHasAgent(ctx context.Context, workspaceID, agentID uuid.UUID) (bool, error) {
	probe, err := json.Marshal([]map[string]string{{"id": agentID.String()}})
	if err != nil {
		return false, fmt.Errorf("encode agent probe: %w", err)
	}
	ok, err := s.db.NewSelect().TableExpr("workspace_resources AS r").
		Join("JOIN workspace_builds AS b ON b.job_id = r.job_id").
		Where("b.workspace_id = ?", workspaceID).
		Where("r.agents @> ?::jsonb", string(probe)).
		Exists(ctx)
	return ok, wrap("find workspace agent", err)
}

// StageStart is the first log line of a run of a job's log lines with the
// same stage.
type StageStart struct {
	Stage     string    `bun:"stage"`
	CreatedAt time.Time `bun:"created_at"`
}

// GetJobStageStarts returns, in log order, where each stage of a job's logs
// begins: every line whose stage differs from the line before it.
func (s *Store) GetJobStageStarts(ctx context.Context, jobID uuid.UUID) ([]StageStart, error) {
	out := []StageStart{}
	err := s.db.NewRaw(`SELECT stage, created_at FROM (
		SELECT id, stage, created_at, lag(stage) OVER (ORDER BY id) AS prev
		FROM provisioner_job_logs WHERE job_id = ?
	) AS l WHERE prev IS DISTINCT FROM stage ORDER BY id`, jobID).Scan(ctx, &out)
	if err != nil {
		return nil, wrap("get job stage starts", err)
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}

// touchWorkspace bumps updated_at and wakes the watchers.
func (s *Store) touchWorkspace(ctx context.Context, id uuid.UUID, now time.Time) error {
	_, err := s.db.NewUpdate().Model((*Workspace)(nil)).Set("updated_at = ?", now).Where("id = ?", id).Exec(ctx)
	return s.changed(ctx, id, "touch workspace", err)
}

// changed finishes a workspace write: it wraps err, or notifies watchers.
func (s *Store) changed(ctx context.Context, id uuid.UUID, action string, err error) error {
	if err != nil {
		return wrap(action, err)
	}
	return s.NotifyWorkspace(ctx, id)
}

func affectedOrNotFound(n int64, err error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
