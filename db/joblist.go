package db

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// JobListFilter selects an organization's jobs for
// GET /organizations/{org}/provisionerjobs. Zero values do not filter.
type JobListFilter struct {
	OrganizationID uuid.UUID
	// Statuses keeps jobs in any of these statuses.
	Statuses []string
	// IDs keeps jobs with any of these IDs.
	IDs []uuid.UUID
	// Tags keeps jobs whose tags contain all of these.
	Tags map[string]string
	// InitiatorID keeps jobs one user started.
	InitiatorID uuid.UUID
	// Limit caps the list (0: no limit).
	Limit int
}

// JobWithMetadata is a job with the names of what it works on.
type JobWithMetadata struct {
	ProvisionerJob `bun:",extend"`

	VersionName         string        `bun:"md_version_name,scanonly"`
	TemplateID          uuid.NullUUID `bun:"md_template_id,scanonly,type:uuid"`
	TemplateName        string        `bun:"md_template_name,scanonly"`
	TemplateDisplayName string        `bun:"md_template_display_name,scanonly"`
	TemplateIcon        string        `bun:"md_template_icon,scanonly"`
	WorkspaceID         uuid.NullUUID `bun:"md_workspace_id,scanonly,type:uuid"`
	WorkspaceName       string        `bun:"md_workspace_name,scanonly"`
}

// ListJobs returns an organization's jobs, newest first, with their
// template, version and workspace names, in one query.
func (s *Store) ListJobs(ctx context.Context, f JobListFilter) ([]*JobWithMetadata, error) {
	var out []*JobWithMetadata
	q := s.db.NewSelect().Model(&out).ColumnExpr("j.*").
		ColumnExpr("coalesce(tv.name, '') AS md_version_name").
		ColumnExpr("t.id AS md_template_id").
		ColumnExpr("coalesce(t.name, '') AS md_template_name").
		ColumnExpr("coalesce(t.display_name, '') AS md_template_display_name").
		ColumnExpr("coalesce(t.icon, '') AS md_template_icon").
		ColumnExpr("w.id AS md_workspace_id").
		ColumnExpr("coalesce(w.name, '') AS md_workspace_name").
		ModelTableExpr("provisioner_jobs AS j").
		Join("LEFT JOIN workspace_builds AS b ON b.job_id = j.id").
		Join("LEFT JOIN template_versions AS tv ON tv.id = coalesce(b.template_version_id, (j.input->>'template_version_id')::uuid)").
		Join("LEFT JOIN templates AS t ON t.id = tv.template_id").
		Join("LEFT JOIN workspaces AS w ON w.id = b.workspace_id").
		Where("j.organization_id = ?", f.OrganizationID)
	if len(f.Statuses) > 0 {
		q = q.Where("j.job_status IN (?)", bun.List(f.Statuses))
	}
	if len(f.IDs) > 0 {
		q = q.Where("j.id IN (?)", bun.List(f.IDs))
	}
	if len(f.Tags) > 0 {
		raw, err := json.Marshal(f.Tags)
		if err != nil {
			return nil, err
		}
		q = q.Where("j.tags @> ?::jsonb", string(raw))
	}
	if f.InitiatorID != uuid.Nil {
		q = q.Where("j.initiator_id = ?", f.InitiatorID)
	}
	q = q.OrderExpr("j.created_at DESC, j.id")
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap("list provisioner jobs", err)
	}
	if out == nil {
		out = []*JobWithMetadata{}
	}
	return out, nil
}
