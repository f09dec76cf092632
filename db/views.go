package db

import (
	"context"
	"reflect"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// The API's hottest reads (clients poll a job's version or build every few
// milliseconds) take one query each: the row with every row it shows
// beside it, joined, read in one snapshot (so a job read as finished comes
// with the results its completion wrote).

// BuildView is a workspace build and what its JSON shows beside it.
type BuildView struct {
	Build      WorkspaceBuild  `bun:"embed:b__"`
	Workspace  Workspace       `bun:"embed:w__"`
	Owner      User            `bun:"embed:o__"`
	Initiator  User            `bun:"embed:i__"`
	Version    TemplateVersion `bun:"embed:v__"`
	Template   Template        `bun:"embed:t__"`
	Job        ProvisionerJob  `bun:"embed:j__"`
	WorkerName string          `bun:"worker_name"`
	Queue      queueDaemons    `bun:"queue"`
}

// JobQueue returns the job's queue figures (GetJobQueue's).
func (v *BuildView) JobQueue() *JobQueue { return v.Queue.jobQueue() }

// GetBuildView reads a build with its workspace, owner, initiator, version,
// template (deleted ones too), job, the name of the worker that ran it and
// the job's queue figures.
func (s *Store) GetBuildView(ctx context.Context, buildID uuid.UUID) (*BuildView, error) {
	v := new(BuildView)
	err := s.queryPrepared(ctx, v, `SELECT `+s.columns(v)+`, coalesce(d.name, '') AS worker_name, `+jobQueueColumn+` AS queue
		FROM workspace_builds b
		JOIN workspaces w ON w.id = b.workspace_id
		JOIN users o ON o.id = w.owner_id
		JOIN users i ON i.id = b.initiator_id
		JOIN template_versions v ON v.id = b.template_version_id
		JOIN templates t ON t.id = w.template_id
		JOIN provisioner_jobs j ON j.id = b.job_id
		LEFT JOIN provisioner_daemons d ON d.id = j.worker_id
		WHERE b.id = $2`, Now().Add(-DaemonOnlineWindow), buildID)
	return v, wrap("get workspace build view", err)
}

// VersionView is a template version and what its JSON shows beside it.
// Template and Creator are zero when the version has no template yet, or
// its creator no longer exists.
type VersionView struct {
	Version    TemplateVersion `bun:"embed:v__"`
	Job        ProvisionerJob  `bun:"embed:j__"`
	Template   Template        `bun:"embed:t__"`
	Creator    User            `bun:"embed:u__"`
	WorkerName string          `bun:"worker_name"`
	Queue      queueDaemons    `bun:"queue"`
}

// JobQueue returns the job's queue figures (GetJobQueue's).
func (v *VersionView) JobQueue() *JobQueue { return v.Queue.jobQueue() }

// GetVersionView reads a template version with its import job, its
// template (if it has one yet, deleted or not), its creator, the name of
// the worker that ran the job and the job's queue figures.
func (s *Store) GetVersionView(ctx context.Context, versionID uuid.UUID) (*VersionView, error) {
	v := new(VersionView)
	err := s.queryPrepared(ctx, v, `SELECT `+s.columns(v)+`, coalesce(d.name, '') AS worker_name, `+jobQueueColumn+` AS queue
		FROM template_versions v
		JOIN provisioner_jobs j ON j.id = v.job_id
		LEFT JOIN templates t ON t.id = v.template_id
		LEFT JOIN users u ON u.id = v.created_by
		LEFT JOIN provisioner_daemons d ON d.id = j.worker_id
		WHERE v.id = $2`, Now().Add(-DaemonOnlineWindow), versionID)
	return v, wrap("get template version view", err)
}

// columns lists the columns of a view's embedded models for a select: each
// model's table is joined under the alias its prefix names (b__ → b), and
// every column is selected as "<prefix><column>".
func (s *Store) columns(view any) string {
	t := reflect.TypeOf(view).Elem()
	s.prep.mu.Lock()
	defer s.prep.mu.Unlock()
	if c, ok := s.prep.cols[t]; ok {
		return c
	}
	var cols []string
	for i := range t.NumField() {
		f := t.Field(i)
		prefix, ok := strings.CutPrefix(f.Tag.Get("bun"), "embed:")
		if !ok {
			continue
		}
		alias := strings.TrimSuffix(prefix, "__")
		table := s.db.Dialect().Tables().Get(f.Type)
		names := make([]string, 0, len(table.FieldMap))
		for name := range table.FieldMap {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			cols = append(cols, alias+`."`+name+`" AS "`+prefix+name+`"`)
		}
	}
	s.prep.cols[t] = strings.Join(cols, ", ")
	return s.prep.cols[t]
}
