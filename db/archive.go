package db

import (
	"context"

	"github.com/google/uuid"
)

// ArchiveTemplateVersions archives a template's unarchived versions that
// nothing uses: not the active version, not the version of any workspace's
// latest build (unless that build deleted it), and not one whose import is
// still pending or running. versionID (when not Nil) archives only that
// version; onlyFailed only versions whose import failed. It returns the IDs
// it archived.
func (s *Store) ArchiveTemplateVersions(ctx context.Context, templateID, versionID uuid.UUID, onlyFailed bool) ([]uuid.UUID, error) {
	ids := []uuid.UUID{}
	err := s.db.NewRaw(`
		UPDATE template_versions AS v SET archived = true, updated_at = ?
		FROM provisioner_jobs AS j, templates AS t
		WHERE v.template_id = ? AND NOT v.archived
			AND (? = '00000000-0000-0000-0000-000000000000'::uuid OR v.id = ?)
			AND j.id = v.job_id AND t.id = v.template_id
			AND t.active_version_id <> v.id
			AND j.job_status NOT IN ('pending', 'running')
			AND (NOT ? OR j.job_status = 'failed')
			AND NOT EXISTS (
				SELECT 1 FROM workspaces w
				JOIN LATERAL (
					SELECT b.template_version_id, b.transition FROM workspace_builds b
					WHERE b.workspace_id = w.id ORDER BY b.build_number DESC LIMIT 1
				) latest ON true
				WHERE w.template_id = v.template_id AND latest.template_version_id = v.id
					AND latest.transition <> 'delete')
		RETURNING v.id`, Now(), templateID, versionID, versionID, onlyFailed).Scan(ctx, &ids)
	return ids, wrap("archive template versions", err)
}

// UnarchiveTemplateVersion makes an archived version usable again.
func (s *Store) UnarchiveTemplateVersion(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.NewUpdate().Model((*TemplateVersion)(nil)).Set("archived = false").Set("updated_at = ?", Now()).
		Where("id = ?", id).Exec(ctx)
	return wrap("unarchive template version", err)
}
