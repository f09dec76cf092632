package db

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// InsertTemplateVersion inserts a template version.
func (s *Store) InsertTemplateVersion(ctx context.Context, v *TemplateVersion) error {
	if v.ExternalAuthProviders == nil {
		v.ExternalAuthProviders = []byte("[]")
	}
	_, err := s.db.NewInsert().Model(v).Exec(ctx)
	return wrap("insert template version", err)
}

// GetTemplateVersionByID returns a template version.
func (s *Store) GetTemplateVersionByID(ctx context.Context, id uuid.UUID) (*TemplateVersion, error) {
	v := new(TemplateVersion)
	err := s.db.NewSelect().Model(v).Where("id = ?", id).Scan(ctx)
	return v, wrap("get template version", err)
}

// GetTemplateVersionByJobID returns the template version a job imports.
func (s *Store) GetTemplateVersionByJobID(ctx context.Context, jobID uuid.UUID) (*TemplateVersion, error) {
	v := new(TemplateVersion)
	err := s.db.NewSelect().Model(v).Where("job_id = ?", jobID).Scan(ctx)
	return v, wrap("get template version by job", err)
}

// GetTemplateVersionsByTemplate lists a template's versions oldest first.
func (s *Store) GetTemplateVersionsByTemplate(ctx context.Context, templateID uuid.UUID) ([]*TemplateVersion, error) {
	var vs []*TemplateVersion
	err := s.db.NewSelect().Model(&vs).Where("template_id = ?", templateID).OrderExpr("created_at, id").Scan(ctx)
	return vs, wrap("list template versions", err)
}

// ImportResults are what an import stores with its completion, beside its
// variables (stored whatever the outcome).
type ImportResults struct {
	VersionID    uuid.UUID
	Resources    []WorkspaceResource // of the start and stop plans
	Parameters   []TemplateVersionParameter
	Presets      []TemplateVersionPreset
	Readme       string
	ExternalAuth []byte // JSON array
}

// InsertImportResults stores an import's results in one round trip.
func (s *Store) InsertImportResults(ctx context.Context, r ImportResults) error {
	version := s.db.NewUpdate().Model((*TemplateVersion)(nil)).Set("readme = ?", r.Readme).Set("updated_at = ?", Now()).
		Where("id = ?", r.VersionID)
	if r.ExternalAuth != nil {
		version = version.Set("external_auth_providers = ?", string(r.ExternalAuth))
	}
	return s.execAll(ctx, "store import results",
		insertQuery(s, r.Resources), insertQuery(s, r.Parameters), insertQuery(s, r.Presets), version)
}

// AttachTemplateVersion makes a template the owner of a version that had none.
// It returns ErrNotFound when the version already belongs to a template.
func (s *Store) AttachTemplateVersion(ctx context.Context, versionID, templateID uuid.UUID) error {
	res, err := s.db.NewUpdate().Model((*TemplateVersion)(nil)).
		Set("template_id = ?", templateID).Set("updated_at = ?", Now()).
		Where("id = ?", versionID).Where("template_id IS NULL").Exec(ctx)
	if err != nil {
		return wrap("attach template version", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// insertRows inserts rows, if any.
func insertRows[T any](ctx context.Context, s *Store, rows []T, action string) error {
	return s.execAll(ctx, action, insertQuery(s, rows))
}

// insertQuery is the insert of rows, nil for none (execAll skips it).
func insertQuery[T any](s *Store, rows []T) bun.Query {
	if len(rows) == 0 {
		return nil
	}
	return s.db.NewInsert().Model(&rows)
}

// InsertTemplateVersionVariables stores a version's variables. Like every
// result of a job, they are written once, by the transaction that
// completes the job (db.CompleteJob), so there are none to replace.
func (s *Store) InsertTemplateVersionVariables(ctx context.Context, vs []TemplateVersionVariable) error {
	return insertRows(ctx, s, vs, "insert template version variables")
}

// GetTemplateVersionVariables lists a version's variables in template order.
func (s *Store) GetTemplateVersionVariables(ctx context.Context, versionID uuid.UUID) ([]TemplateVersionVariable, error) {
	vs := []TemplateVersionVariable{}
	err := s.db.NewSelect().Model(&vs).Where("template_version_id = ?", versionID).OrderExpr("position").Scan(ctx)
	return vs, wrap("get template version variables", err)
}

// GetTemplateVersionParameters lists a version's rich parameters by order, then name.
func (s *Store) GetTemplateVersionParameters(ctx context.Context, versionID uuid.UUID) ([]TemplateVersionParameter, error) {
	ps := []TemplateVersionParameter{}
	err := s.db.NewSelect().Model(&ps).Where("template_version_id = ?", versionID).OrderExpr("display_order, name").Scan(ctx)
	return ps, wrap("get template version parameters", err)
}

// InsertJobResources stores the resources a job reported (once, as
// InsertTemplateVersionVariables).
func (s *Store) InsertJobResources(ctx context.Context, rs []WorkspaceResource) error {
	return insertRows(ctx, s, rs, "insert job resources")
}

// GetJobResources lists the resources a job reported.
func (s *Store) GetJobResources(ctx context.Context, jobID uuid.UUID) ([]WorkspaceResource, error) {
	rs := []WorkspaceResource{}
	err := s.queryPrepared(ctx, &rs, `SELECT * FROM workspace_resources WHERE job_id = $1 ORDER BY transition, position`, jobID)
	return rs, wrap("get job resources", err)
}

// InsertTemplate inserts a template.
func (s *Store) InsertTemplate(ctx context.Context, t *Template) error {
	_, err := s.db.NewInsert().Model(t).Exec(ctx)
	return wrap("insert template", err)
}

// GetTemplateByID returns a non-deleted template.
func (s *Store) GetTemplateByID(ctx context.Context, id uuid.UUID) (*Template, error) {
	t := new(Template)
	err := s.db.NewSelect().Model(t).Where("id = ?", id).Where("NOT deleted").Scan(ctx)
	return t, wrap("get template", err)
}

// GetTemplateByIDAny returns a template even if it was deleted.
func (s *Store) GetTemplateByIDAny(ctx context.Context, id uuid.UUID) (*Template, error) {
	t := new(Template)
	err := s.db.NewSelect().Model(t).Where("id = ?", id).Scan(ctx)
	return t, wrap("get template", err)
}

// GetTemplateByOrgAndName returns a non-deleted template by name.
func (s *Store) GetTemplateByOrgAndName(ctx context.Context, orgID uuid.UUID, name string) (*Template, error) {
	t := new(Template)
	err := s.db.NewSelect().Model(t).Where("organization_id = ?", orgID).Where("lower(name) = lower(?)", name).
		Where("NOT deleted").Scan(ctx)
	return t, wrap("get template by name", err)
}

// TemplateFilter narrows ListTemplates. Zero values do not filter.
type TemplateFilter struct {
	OrganizationIDs  []uuid.UUID
	IDs              []uuid.UUID
	ExactName        string
	NameContains     string // case-insensitive
	ExactDisplayName string
	// DisplayNameContains matches display_name, or name when it is empty.
	DisplayNameContains string
	AuthorID            uuid.NullUUID
	// With Deprecated nil, deprecated templates are hidden; true shows only
	// them; false shows only the others.
	Deprecated *bool
	Deleted    bool // list deleted templates instead of live ones
}

// ListTemplates lists templates ordered by name, id.
func (s *Store) ListTemplates(ctx context.Context, f TemplateFilter) ([]*Template, error) {
	ts := []*Template{}
	q := s.db.NewSelect().Model(&ts).Where("deleted = ?", f.Deleted)
	if len(f.OrganizationIDs) > 0 {
		q = q.Where("organization_id IN (?)", bun.List(f.OrganizationIDs))
	}
	if len(f.IDs) > 0 {
		q = q.Where("id IN (?)", bun.List(f.IDs))
	}
	if f.ExactName != "" {
		q = q.Where("lower(name) = lower(?)", f.ExactName)
	}
	if f.NameContains != "" {
		q = q.Where("name ILIKE ?", "%"+likeEscape(f.NameContains)+"%")
	}
	if f.ExactDisplayName != "" {
		q = q.Where("lower(display_name) = lower(?)", f.ExactDisplayName)
	}
	if f.DisplayNameContains != "" {
		q = q.Where("(CASE WHEN display_name = '' THEN name ELSE display_name END) ILIKE ?", "%"+likeEscape(f.DisplayNameContains)+"%")
	}
	if f.AuthorID.Valid {
		q = q.Where("created_by = ?", f.AuthorID.UUID)
	}
	switch {
	case f.Deprecated == nil || !*f.Deprecated:
		q = q.Where("deprecation_message = ''")
	default:
		q = q.Where("deprecation_message <> ''")
	}
	err := q.OrderExpr("lower(name), id").Scan(ctx)
	return ts, wrap("list templates", err)
}

// likeEscape escapes LIKE wildcards in s.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// UpdateTemplate writes a template's settings and moves updated_at.
func (s *Store) UpdateTemplate(ctx context.Context, t *Template) error {
	t.UpdatedAt = Now()
	_, err := s.db.NewUpdate().Model(t).WherePK().Where("NOT deleted").Exec(ctx)
	return wrap("update template", err)
}

// SoftDeleteTemplate marks a template deleted; its name becomes free.
func (s *Store) SoftDeleteTemplate(ctx context.Context, id uuid.UUID) error {
	_, err := s.db.NewUpdate().Model((*Template)(nil)).Set("deleted = true").Set("updated_at = ?", Now()).
		Where("id = ?", id).Exec(ctx)
	return wrap("delete template", err)
}

// SetActiveTemplateVersion makes a version the template's active one.
func (s *Store) SetActiveTemplateVersion(ctx context.Context, templateID, versionID uuid.UUID) error {
	_, err := s.db.NewUpdate().Model((*Template)(nil)).Set("active_version_id = ?", versionID).
		Set("updated_at = ?", Now()).Where("id = ?", templateID).Exec(ctx)
	return wrap("set active template version", err)
}

// VersionPage selects a page of a template's versions, oldest first.
type VersionPage struct {
	AfterID         uuid.UUID // keyset: versions created after this one
	Limit, Offset   int       // Limit 0: no limit
	IncludeArchived bool
}

// ListTemplateVersions lists a template's versions with their jobs, so a
// page costs one query.
func (s *Store) ListTemplateVersions(ctx context.Context, templateID uuid.UUID, p VersionPage) ([]*TemplateVersion, error) {
	var vs []*TemplateVersion
	q := s.db.NewSelect().Model(&vs).Where("template_id = ?", templateID)
	if !p.IncludeArchived {
		q = q.Where("NOT archived")
	}
	if p.AfterID != uuid.Nil {
		q = q.Where("(created_at, id) > (SELECT created_at, id FROM template_versions WHERE id = ?)", p.AfterID)
	}
	q = q.OrderExpr("created_at, id").Offset(p.Offset)
	if p.Limit > 0 {
		q = q.Limit(p.Limit)
	}
	err := q.Scan(ctx)
	return vs, wrap("list template versions", err)
}

// GetTemplateVersionByTemplateAndName returns a template's version by name.
func (s *Store) GetTemplateVersionByTemplateAndName(ctx context.Context, templateID uuid.UUID, name string) (*TemplateVersion, error) {
	v := new(TemplateVersion)
	err := s.db.NewSelect().Model(v).Where("template_id = ?", templateID).Where("lower(name) = lower(?)", name).Scan(ctx)
	return v, wrap("get template version by name", err)
}

// UpdateTemplateVersionNameMessage renames a version and sets its message.
func (s *Store) UpdateTemplateVersionNameMessage(ctx context.Context, id uuid.UUID, name, message string) error {
	_, err := s.db.NewUpdate().Model((*TemplateVersion)(nil)).Set("name = ?", name).Set("message = ?", message).
		Set("updated_at = ?", Now()).Where("id = ?", id).Exec(ctx)
	return wrap("update template version", err)
}

// GetTemplateVersionsByIDs returns template versions by ID.
func (s *Store) GetTemplateVersionsByIDs(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*TemplateVersion, error) {
	out := make(map[uuid.UUID]*TemplateVersion, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var vs []*TemplateVersion
	if err := s.db.NewSelect().Model(&vs).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, wrap("get template versions", err)
	}
	for _, v := range vs {
		out[v.ID] = v
	}
	return out, nil
}

// TransitionTimes are the median and 95th percentile of a transition's
// build times in milliseconds; nil without builds.
type TransitionTimes struct {
	P50 *int64
	P95 *int64
}

// BuildTimeStats are a template's build times per transition.
type BuildTimeStats struct {
	Start, Stop, Delete TransitionTimes
}

// GetTemplateBuildTimeStats computes, as Coder does, the build time
// percentiles of each template's last 100 successful builds started after
// since (completed_at − started_at).
func (s *Store) GetTemplateBuildTimeStats(ctx context.Context, templateIDs []uuid.UUID, since time.Time) (map[uuid.UUID]BuildTimeStats, error) {
	out := make(map[uuid.UUID]BuildTimeStats, len(templateIDs))
	if len(templateIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		TemplateID uuid.UUID `bun:"template_id"`
		StartP50   *float64  `bun:"start_p50"`
		StartP95   *float64  `bun:"start_p95"`
		StopP50    *float64  `bun:"stop_p50"`
		StopP95    *float64  `bun:"stop_p95"`
		DeleteP50  *float64  `bun:"delete_p50"`
		DeleteP95  *float64  `bun:"delete_p95"`
	}
	err := s.db.NewRaw(`WITH b AS (
		SELECT w.template_id, wb.transition, extract(epoch FROM j.completed_at - j.started_at) * 1000 AS ms,
			row_number() OVER (PARTITION BY w.template_id ORDER BY wb.created_at DESC) AS n
		FROM workspace_builds wb
		JOIN workspaces w ON w.id = wb.workspace_id
		JOIN provisioner_jobs j ON j.id = wb.job_id
		WHERE w.template_id IN (?) AND j.started_at > ? AND j.completed_at IS NOT NULL
			AND j.canceled_at IS NULL AND j.error = '')
	SELECT template_id,
		percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE transition = 'start') AS start_p50,
		percentile_disc(0.95) WITHIN GROUP (ORDER BY ms) FILTER (WHERE transition = 'start') AS start_p95,
		percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE transition = 'stop') AS stop_p50,
		percentile_disc(0.95) WITHIN GROUP (ORDER BY ms) FILTER (WHERE transition = 'stop') AS stop_p95,
		percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE transition = 'delete') AS delete_p50,
		percentile_disc(0.95) WITHIN GROUP (ORDER BY ms) FILTER (WHERE transition = 'delete') AS delete_p95
	FROM b WHERE n <= 100 GROUP BY template_id`, bun.List(templateIDs), since).Scan(ctx, &rows)
	if err != nil {
		return nil, wrap("get template build time stats", err)
	}
	ms := func(f *float64) *int64 {
		if f == nil {
			return nil
		}
		v := int64(*f)
		return &v
	}
	for _, r := range rows {
		out[r.TemplateID] = BuildTimeStats{
			Start:  TransitionTimes{P50: ms(r.StartP50), P95: ms(r.StartP95)},
			Stop:   TransitionTimes{P50: ms(r.StopP50), P95: ms(r.StopP95)},
			Delete: TransitionTimes{P50: ms(r.DeleteP50), P95: ms(r.DeleteP95)},
		}
	}
	return out, nil
}

// VersionFacts are what a provisioner is told about an import's or a
// dry-run's template version and the user who started it.
type VersionFacts struct {
	VersionName  string        `bun:"version_name"`
	TemplateID   uuid.NullUUID `bun:"template_id,type:uuid"`
	TemplateName string        `bun:"template_name"`
	Username     string        `bun:"username"`
	Name         string        `bun:"name"`
	Email        string        `bun:"email"`
}

// GetVersionFacts reads a version, its template (if it has one yet) and a
// user in one query.
func (s *Store) GetVersionFacts(ctx context.Context, versionID, userID uuid.UUID) (*VersionFacts, error) {
	f := new(VersionFacts)
	err := s.queryPrepared(ctx, f, `SELECT v.name AS version_name, v.template_id, coalesce(t.name, '') AS template_name,
		u.username, u.name, u.email
		FROM template_versions v LEFT JOIN templates t ON t.id = v.template_id JOIN users u ON u.id = $1
		WHERE v.id = $2`, userID, versionID)
	return f, wrap("get version facts", err)
}

// GetTemplateVersionPresets returns a version's presets in order.
func (s *Store) GetTemplateVersionPresets(ctx context.Context, versionID uuid.UUID) ([]TemplateVersionPreset, error) {
	ps := []TemplateVersionPreset{}
	err := s.db.NewSelect().Model(&ps).Where("template_version_id = ?", versionID).OrderExpr("position, name").Scan(ctx)
	return ps, wrap("get template version presets", err)
}

// GetTemplateVersionPresetByID returns a preset.
func (s *Store) GetTemplateVersionPresetByID(ctx context.Context, id uuid.UUID) (*TemplateVersionPreset, error) {
	p := new(TemplateVersionPreset)
	err := s.db.NewSelect().Model(p).Where("id = ?", id).Scan(ctx)
	return p, wrap("get template version preset", err)
}
