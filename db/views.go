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

// BuildView is a workspace build and what its JSON shows beside it. The
// API's reads (GetBuildView, GetLatestBuildView, GetBuildViews) fill only
// the columns buildSelection names of the rows beside the build;
// GetBuildViewForRun fills them all.
type BuildView struct {
	Build      WorkspaceBuild  `bun:"embed:b__"`
	Workspace  Workspace       `bun:"embed:w__"`
	Owner      User            `bun:"embed:o__"`
	Initiator  User            `bun:"embed:i__"`
	Version    TemplateVersion `bun:"embed:v__"`
	Template   Template        `bun:"embed:t__"`
	Job        ProvisionerJob  `bun:"embed:j__"`
	WorkerName string          `bun:"worker_name"`
	// OrganizationName is the workspace's organization's.
	OrganizationName string       `bun:"organization_name"`
	Queue            queueDaemons `bun:"queue"`
}

// JobQueue returns the job's queue figures (GetJobQueue's).
func (v *BuildView) JobQueue() *JobQueue { return v.Queue.jobQueue() }

// buildViewQuery selects BuildViews (narrowed by sel, if not nil), and
// extra columns if any, of the builds b that meet its WHERE condition,
// which goes at the end ($1: the online cutoff of the queue figures).
func (s *Store) buildViewQuery(extra string, sel *viewSelection) string {
	return `SELECT ` + s.columns(new(BuildView), sel) + `, coalesce(d.name, '') AS worker_name,
		org.name AS organization_name, ` + jobQueueColumn + ` AS queue` + extra + `
		FROM workspace_builds b
		JOIN workspaces w ON w.id = b.workspace_id
		JOIN organizations org ON org.id = w.organization_id
		JOIN users o ON o.id = w.owner_id
		JOIN users i ON i.id = b.initiator_id
		JOIN template_versions v ON v.id = b.template_version_id
		JOIN templates t ON t.id = w.template_id
		JOIN provisioner_jobs j ON j.id = b.job_id
		LEFT JOIN provisioner_daemons d ON d.id = j.worker_id
		WHERE `
}

// GetBuildView reads a build with its job, what the API shows of its
// workspace, owner, initiator, version and template (buildSelection;
// deleted templates too), the organization's name, the name of the worker
// that ran it and the job's queue figures.
func (s *Store) GetBuildView(ctx context.Context, buildID uuid.UUID) (*BuildView, error) {
	return s.getBuildView(ctx, buildID, buildSelection)
}

// GetBuildViewForRun is GetBuildView with every column of the rows beside
// the build (but its state, which the build row has), for the worker that
// runs it.
func (s *Store) GetBuildViewForRun(ctx context.Context, buildID uuid.UUID) (*BuildView, error) {
	return s.getBuildView(ctx, buildID, nil)
}

func (s *Store) getBuildView(ctx context.Context, buildID uuid.UUID, sel *viewSelection) (*BuildView, error) {
	v := new(BuildView)
	err := s.queryPrepared(ctx, v, s.buildViewQuery("", sel)+`b.id = $2`, Now().Add(-DaemonOnlineWindow), buildID)
	return v, wrap("get workspace build view", err)
}

// GetLatestBuildView reads GetBuildView's view of a workspace's latest
// build, and whether the caller marked the workspace a favorite.
func (s *Store) GetLatestBuildView(ctx context.Context, workspaceID, callerID uuid.UUID) (*BuildView, bool, error) {
	var v struct {
		BuildView `bun:",extend"`
		Favorite  bool `bun:"favorite"`
	}
	err := s.queryPrepared(ctx, &v,
		s.buildViewQuery(`, EXISTS (SELECT 1 FROM workspace_favorites f WHERE f.workspace_id = w.id AND f.user_id = $3) AS favorite`, buildSelection)+
			`b.id = (SELECT id FROM workspace_builds WHERE workspace_id = $2 ORDER BY build_number DESC LIMIT 1)`,
		Now().Add(-DaemonOnlineWindow), workspaceID, callerID)
	return &v.BuildView, v.Favorite, wrap("get latest workspace build view", err)
}

// buildSelection is what the API's build and workspace JSON shows of the
// models beside a build (the workspace's JSON comes from its own row):
// clients poll a build every few milliseconds while it runs, and a list
// reads a page of them; scanning the ~130 columns of the full view was
// most of the CPU of both. A worker running the build reads it in full
// (GetBuildViewForRun).
var buildSelection = &viewSelection{name: "build", only: map[string][]string{
	"w__": {"id", "name", "owner_id", "organization_id", "template_id", "deleted"},
	"o__": {"id", "username", "avatar_url"},
	"i__": {"id", "username"},
	"v__": {"id", "name"},
	"t__": {"id", "name", "display_name", "icon", "allow_user_cancel_workspace_jobs", "active_version_id", "require_active_version", "deleted"},
}}

// GetBuildViews reads GetBuildView's views of several builds in one query.
func (s *Store) GetBuildViews(ctx context.Context, buildIDs []uuid.UUID) (map[uuid.UUID]*BuildView, error) {
	out := make(map[uuid.UUID]*BuildView, len(buildIDs))
	if len(buildIDs) == 0 {
		return out, nil
	}
	var vs []*BuildView
	if err := s.queryPrepared(ctx, &vs, s.buildViewQuery("", buildSelection)+`b.id = ANY($2::uuid[])`,
		Now().Add(-DaemonOnlineWindow), uuidArray(buildIDs)); err != nil {
		return nil, wrap("get workspace build views", err)
	}
	for _, v := range vs {
		out[v.Build.ID] = v
	}
	return out, nil
}

// uuidArray is a uuid[] argument of a prepared statement.
func uuidArray(ids []uuid.UUID) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id.String())
	}
	b.WriteByte('}')
	return b.String()
}

// VersionView is a template version and what its JSON shows beside it.
// Template and Creator hold only the columns versionSelection names, and
// are zero when the version has no template yet, or its creator no longer
// exists.
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

// versionSelection is what a template version's JSON shows of its template
// and creator: clients poll it every few milliseconds.
var versionSelection = &viewSelection{name: "version", only: map[string][]string{
	"t__": {"id", "name", "display_name", "icon", "deleted"},
	"u__": {"id", "username", "name", "avatar_url"},
}}

// GetVersionView reads a template version with its import job, what its
// JSON shows of its template (if it has one yet, deleted or not) and of
// its creator (versionSelection), the name of the worker that ran the job
// and, while the job is pending, its queue figures.
func (s *Store) GetVersionView(ctx context.Context, versionID uuid.UUID) (*VersionView, error) {
	v := new(VersionView)
	err := s.queryPrepared(ctx, v, `SELECT `+s.columns(v, versionSelection)+`, coalesce(d.name, '') AS worker_name, `+pendingQueueColumn+` AS queue
		FROM template_versions v
		JOIN provisioner_jobs j ON j.id = v.job_id
		LEFT JOIN templates t ON t.id = v.template_id
		LEFT JOIN users u ON u.id = v.created_by
		LEFT JOIN provisioner_daemons d ON d.id = j.worker_id
		WHERE v.id = $2`, Now().Add(-DaemonOnlineWindow), versionID)
	return v, wrap("get template version view", err)
}

// viewOmits are columns no view selects: what its JSON never shows and
// only one reader needs (a build's Terraform state, which can run to
// megabytes and would be read on every poll and for every workspace of a
// list; the worker reads it with the build, GetWorkspaceBuildByID), or what
// must never travel (password hashes).
var viewOmits = map[string]bool{"provisioner_state": true, "hashed_password": true}

// columns lists the columns of a view's embedded models for a select: each
// model's table is joined under the alias its prefix names (b__ → b), and
// every column but viewOmits is selected as "<prefix><column>", or, for a
// model the selection names, only the columns it lists.
func (s *Store) columns(view any, sel *viewSelection) string {
	t := reflect.TypeOf(view).Elem()
	key := colsKey{t, ""}
	if sel != nil {
		key.sel = sel.name
	}
	s.prep.mu.Lock()
	defer s.prep.mu.Unlock()
	if c, ok := s.prep.cols[key]; ok {
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
		names, narrowed := []string(nil), false
		if sel != nil {
			names, narrowed = sel.only[prefix]
		}
		if narrowed {
			for _, name := range names {
				if _, ok := table.FieldMap[name]; !ok {
					panic("view selection " + sel.name + ": " + table.Name + " has no column " + name)
				}
			}
		} else {
			for name := range table.FieldMap {
				if !viewOmits[name] {
					names = append(names, name)
				}
			}
			slices.Sort(names)
		}
		for _, name := range names {
			cols = append(cols, alias+`."`+name+`" AS "`+prefix+name+`"`)
		}
	}
	s.prep.cols[key] = strings.Join(cols, ", ")
	return s.prep.cols[key]
}

// colsKey keys the cached select lists: a view type and a selection.
type colsKey struct {
	t   reflect.Type
	sel string
}

// A viewSelection narrows a view's select list for a reader that shows
// only part of it: for each embedded model it names (by prefix, "o__"),
// only the listed columns are read (none for an empty list) and the rest
// of the model stays zero.
type viewSelection struct {
	name string
	only map[string][]string
}
