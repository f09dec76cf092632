package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// GetTemplateDAUs counts the distinct users of a template's workspaces per
// day since since, where days are those of the zone offsetHours from UTC.
// Days without users are missing from the map, keyed YYYY-MM-DD.
func (s *Store) GetTemplateDAUs(ctx context.Context, templateID uuid.UUID, since time.Time, offsetHours int) (map[string]int, error) {
	var rows []struct {
		Date   string `bun:"date"`
		Amount int    `bun:"amount"`
	}
	err := s.db.NewRaw(`SELECT to_char(hour AT TIME ZONE 'UTC' + ? * interval '1 hour', 'YYYY-MM-DD') AS date,
		count(DISTINCT user_id) AS amount
		FROM template_usage WHERE template_id = ? AND hour >= ? GROUP BY 1`,
		offsetHours, templateID, since).Scan(ctx, &rows)
	if err != nil {
		return nil, wrap("get template daus", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Date] = r.Amount
	}
	return out, nil
}

// TemplateUserCounts are a template's user figures.
type TemplateUserCounts struct {
	// ActiveUsers used the template's workspaces since the given time.
	ActiveUsers int `bun:"active_users"`
	// WorkspaceOwners own live workspaces of the template.
	WorkspaceOwners int `bun:"workspace_owners"`
}

// GetTemplateUserCounts returns the user figures of templates, with active
// users counted since since.
func (s *Store) GetTemplateUserCounts(ctx context.Context, ids []uuid.UUID, since time.Time) (map[uuid.UUID]TemplateUserCounts, error) {
	out := make(map[uuid.UUID]TemplateUserCounts, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		TemplateID uuid.UUID `bun:"template_id"`
		TemplateUserCounts
	}
	err := s.db.NewRaw(`SELECT t.id AS template_id,
		(SELECT count(DISTINCT u.user_id) FROM template_usage u WHERE u.template_id = t.id AND u.hour >= ?) AS active_users,
		(SELECT count(DISTINCT w.owner_id) FROM workspaces w WHERE w.template_id = t.id AND NOT w.deleted) AS workspace_owners
		FROM templates t WHERE t.id IN (?)`, since, bun.List(ids)).Scan(ctx, &rows)
	if err != nil {
		return nil, wrap("get template user counts", err)
	}
	for _, r := range rows {
		out[r.TemplateID] = r.TemplateUserCounts
	}
	return out, nil
}

// UpdateUserQuietHours sets a user's quiet-hours schedule ("" for the
// deployment's default).
func (s *Store) UpdateUserQuietHours(ctx context.Context, id uuid.UUID, schedule string) error {
	res, err := s.db.NewUpdate().Model((*User)(nil)).Set("quiet_hours_schedule = ?", schedule).Set("updated_at = ?", Now()).
		Where("id = ?", id).Exec(ctx)
	if err != nil {
		return wrap("update user quiet hours", err)
	}
	return affectedOrNotFound(res.RowsAffected())
}
