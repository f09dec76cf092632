package db_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/testinfra"
)

// wlWorld is a database with the default organization, a file and helpers
// that bulk-insert workspaces with their latest build and job in any state.
// It takes a testing.TB so benchmarks can seed with it too.
type wlWorld struct {
	tb    testing.TB
	ctx   context.Context
	db    *bun.DB
	store *db.Store
	org   *db.Organization
	admin *db.User
	file  *db.File
}

// wlTemplate is a template with an active version and an older one.
type wlTemplate struct {
	*db.Template
	old *db.TemplateVersion
}

func newWLWorld(tb testing.TB) *wlWorld {
	tb.Helper()
	bdb := testinfra.DB(tb)
	w := &wlWorld{tb: tb, ctx: tb.Context(), db: bdb, store: db.NewStore(bdb)}
	org, err := w.store.GetDefaultOrganization(w.ctx)
	require.NoError(tb, err)
	w.org = org
	w.admin = w.user("admin")
	f := newFile(w.admin.ID, []byte("archive"))
	got, _, err := w.store.InsertFile(w.ctx, f)
	require.NoError(tb, err)
	w.file = got
	return w
}

func (w *wlWorld) user(username string) *db.User {
	w.tb.Helper()
	now := db.Now()
	u := &db.User{
		ID: uuid.New(), Email: strings.ToLower(username) + "@example.com", Username: username, HashedPassword: []byte("x"),
		Status: "active", LoginType: "password", RBACRoles: []string{}, CreatedAt: now, UpdatedAt: now, LastSeenAt: now,
	}
	require.NoError(w.tb, w.store.InsertUser(w.ctx, u))
	require.NoError(w.tb, w.store.InsertOrganizationMember(w.ctx, &db.OrganizationMember{
		UserID: u.ID, OrganizationID: w.org.ID, Roles: []string{}, CreatedAt: now, UpdatedAt: now,
	}))
	return u
}

// job returns a build job (not inserted) of a workspace in the given §3.1
// status.
func (w *wlWorld) job(workspaceID uuid.UUID, status string, created time.Time) *db.ProvisionerJob {
	input, err := json.Marshal(db.JobInput{WorkspaceBuildID: uuid.NullUUID{UUID: uuid.New(), Valid: true}})
	require.NoError(w.tb, err)
	j := &db.ProvisionerJob{
		ID: uuid.New(), CreatedAt: created, UpdatedAt: created, OrganizationID: w.org.ID, InitiatorID: w.admin.ID,
		Provisioner: "echo", StorageMethod: "file", Type: db.JobTypeWorkspaceBuild, Input: input,
		Tags: db.UntaggedTags(), FileID: w.file.ID, TaskQueue: "berth-prov-test",
		WorkspaceID: uuid.NullUUID{UUID: workspaceID, Valid: true},
	}
	t := created.Add(time.Second)
	switch status {
	case db.JobPending:
	case db.JobRunning:
		j.StartedAt = &t
	case db.JobSucceeded:
		j.StartedAt, j.CompletedAt = &t, &t
	case db.JobFailed:
		j.StartedAt, j.CompletedAt, j.Error = &t, &t, "boom"
	case db.JobCanceling:
		j.StartedAt, j.CanceledAt = &t, &t
	case db.JobCanceled:
		j.StartedAt, j.CanceledAt, j.CompletedAt = &t, &t, &t
	default:
		w.tb.Fatalf("unknown job status %q", status)
	}
	return j
}

func (w *wlWorld) template(name string) *wlTemplate {
	w.tb.Helper()
	now := db.Now()
	version := func(name string, tplID uuid.UUID) *db.TemplateVersion {
		j := &db.ProvisionerJob{
			ID: uuid.New(), CreatedAt: now, UpdatedAt: now, StartedAt: &now, CompletedAt: &now, OrganizationID: w.org.ID,
			InitiatorID: w.admin.ID, Provisioner: "echo", StorageMethod: "file", Type: db.JobTypeTemplateVersionImport,
			Input: []byte("{}"), Tags: db.UntaggedTags(), FileID: w.file.ID, TaskQueue: "berth-prov-test",
		}
		require.NoError(w.tb, w.store.InsertJob(w.ctx, j))
		return &db.TemplateVersion{
			ID: uuid.New(), TemplateID: uuid.NullUUID{UUID: tplID, Valid: true}, OrganizationID: w.org.ID, Name: name,
			JobID: j.ID, CreatedBy: w.admin.ID, CreatedAt: now, UpdatedAt: now,
		}
	}
	t := &db.Template{
		ID: uuid.New(), OrganizationID: w.org.ID, Name: name, Provisioner: "echo", CreatedBy: w.admin.ID,
		CreatedAt: now, UpdatedAt: now, AutostopRequirementDaysOfWeek: []string{}, AutostopRequirementWeeks: 1,
		AutostartRequirementDaysOfWeek: []string{"monday"}, MaxPortShareLevel: "owner", CORSBehavior: "simple",
	}
	old, active := version(name+"-v1", t.ID), version(name+"-v2", t.ID)
	t.ActiveVersionID = active.ID
	require.NoError(w.tb, w.store.InTx(w.ctx, func(tx *db.Store) error {
		if err := tx.InsertTemplate(w.ctx, t); err != nil {
			return err
		}
		if err := tx.InsertTemplateVersion(w.ctx, old); err != nil {
			return err
		}
		return tx.InsertTemplateVersion(w.ctx, active)
	}))
	return &wlTemplate{Template: t, old: old}
}

// wlSpec describes one workspace to insert.
type wlSpec struct {
	owner      *db.User
	name       string
	template   *wlTemplate
	jobStatus  string // of the latest build; default succeeded
	transition string // of the latest build; default start
	outdated   bool   // the latest build uses the template's old version
	dormant    bool
	deleted    bool
	lastUsed   time.Time
	params     map[string]string // of the latest build
	// oldParams are the parameters of an earlier build (build 1); with
	// them, the workspace has two builds.
	oldParams map[string]string
}

// insert bulk-inserts workspaces, builds, jobs and parameters, a thousand
// rows per statement.
func (w *wlWorld) insert(specs ...wlSpec) []*db.Workspace {
	w.tb.Helper()
	base := db.Now().Add(-time.Hour)
	var (
		wss    []*db.Workspace
		jobs   []*db.ProvisionerJob
		builds []*db.WorkspaceBuild
		params []db.WorkspaceBuildParameter
	)
	addBuild := func(ws *db.Workspace, n int32, s wlSpec, status, transition string, ps map[string]string) {
		j := w.job(ws.ID, status, base)
		version := s.template.ActiveVersionID
		if s.outdated {
			version = s.template.old.ID
		}
		b := &db.WorkspaceBuild{
			ID: uuid.New(), CreatedAt: base, UpdatedAt: base, WorkspaceID: ws.ID, TemplateVersionID: version,
			BuildNumber: n, Transition: transition, InitiatorID: w.admin.ID, JobID: j.ID, Reason: "initiator",
		}
		jobs, builds = append(jobs, j), append(builds, b)
		for k, v := range ps {
			params = append(params, db.WorkspaceBuildParameter{WorkspaceBuildID: b.ID, Name: k, Value: v})
		}
	}
	for i, s := range specs {
		if s.jobStatus == "" {
			s.jobStatus = db.JobSucceeded
		}
		if s.transition == "" {
			s.transition = "start"
		}
		if s.lastUsed.IsZero() {
			s.lastUsed = base
		}
		ws := &db.Workspace{
			ID: uuid.New(), CreatedAt: base, UpdatedAt: base, OwnerID: s.owner.ID, OrganizationID: w.org.ID,
			TemplateID: s.template.ID, Name: s.name, Deleted: s.deleted, LastUsedAt: s.lastUsed, AutomaticUpdates: "never",
		}
		if s.dormant {
			ws.DormantAt = &base
		}
		wss = append(wss, ws)
		n := int32(1)
		if s.oldParams != nil {
			addBuild(ws, n, s, db.JobSucceeded, "start", s.oldParams)
			n++
		}
		addBuild(ws, n, s, s.jobStatus, s.transition, s.params)
		base = base.Add(time.Duration(i%7) * time.Microsecond)
	}
	bulk := func(rows any, n int) {
		_, err := w.db.NewInsert().Model(rows).Exec(w.ctx)
		require.NoError(w.tb, err, "bulk insert %d rows", n)
	}
	for _, chunk := range chunks(wss) {
		bulk(&chunk, len(chunk))
	}
	for _, chunk := range chunks(jobs) {
		bulk(&chunk, len(chunk))
	}
	for _, chunk := range chunks(builds) {
		bulk(&chunk, len(chunk))
	}
	for _, chunk := range chunks(params) {
		bulk(&chunk, len(chunk))
	}
	return wss
}

func chunks[T any](s []T) [][]T {
	var out [][]T
	for c := range slices.Chunk(s, 1000) {
		out = append(out, c)
	}
	return out
}

func (w *wlWorld) favorite(u *db.User, ws *db.Workspace) {
	w.tb.Helper()
	_, err := w.db.ExecContext(w.ctx, "INSERT INTO workspace_favorites (user_id, workspace_id) VALUES (?, ?)", u.ID, ws.ID)
	require.NoError(w.tb, err)
}

func (w *wlWorld) list(f db.WorkspaceListFilter) ([]string, int) {
	w.tb.Helper()
	page, err := w.store.ListWorkspaces(w.ctx, f)
	require.NoError(w.tb, err)
	names := []string{}
	for _, r := range page.Rows {
		names = append(names, r.Name)
	}
	return names, page.Count
}

func TestListWorkspacesStatus(t *testing.T) {
	t.Parallel()
	w := newWLWorld(t)
	tpl := w.template("tpl")
	// Every job status with every transition, and the §4.3 status it maps to.
	want := map[string]string{}
	var specs []wlSpec
	for _, js := range []string{db.JobPending, db.JobRunning, db.JobSucceeded, db.JobFailed, db.JobCanceling, db.JobCanceled} {
		for _, tr := range []string{"start", "stop", "delete"} {
			name := js + "-" + tr
			specs = append(specs, wlSpec{owner: w.admin, name: name, template: tpl, jobStatus: js, transition: tr})
			switch {
			case js == db.JobPending:
				want[name] = "pending"
			case js == db.JobRunning:
				want[name] = map[string]string{"start": "starting", "stop": "stopping", "delete": "deleting"}[tr]
			case js == db.JobSucceeded:
				want[name] = map[string]string{"start": "running", "stop": "stopped", "delete": "deleted"}[tr]
			default:
				want[name] = js
			}
		}
	}
	w.insert(specs...)
	for _, status := range []string{"pending", "starting", "running", "stopping", "stopped", "failed", "canceling", "canceled", "deleting", "deleted"} {
		var expect []string
		for name, s := range want {
			if s == status {
				expect = append(expect, name)
			}
		}
		got, count := w.list(db.WorkspaceListFilter{CallerID: w.admin.ID, Status: status})
		require.ElementsMatch(t, expect, got, status)
		require.Equal(t, len(expect), count, status)
	}
}

func TestListWorkspacesOrderAndPaging(t *testing.T) {
	t.Parallel()
	w := newWLWorld(t)
	tpl := w.template("tpl")
	zed, bob := w.user("Zed"), w.user("bob")
	wss := w.insert(
		wlSpec{owner: zed, name: "a-stopped", template: tpl, transition: "stop"},
		wlSpec{owner: zed, name: "B-running", template: tpl},
		wlSpec{owner: bob, name: "c-running", template: tpl},
		wlSpec{owner: bob, name: "a-failed", template: tpl, jobStatus: db.JobFailed},
		wlSpec{owner: w.admin, name: "fav-stopped", template: tpl, transition: "stop"},
		wlSpec{owner: bob, name: "deleted", template: tpl, deleted: true},
	)
	w.favorite(w.admin, wss[4])
	w.favorite(bob, wss[0]) // someone else's favorite does not count

	all := []string{"fav-stopped", "c-running", "B-running", "a-failed", "a-stopped"}
	got, count := w.list(db.WorkspaceListFilter{CallerID: w.admin.ID})
	require.Equal(t, all, got, "favorites, running, owner username, name; deleted never")
	require.Equal(t, 5, count)

	got, count = w.list(db.WorkspaceListFilter{CallerID: w.admin.ID, Limit: 2, Offset: 1})
	require.Equal(t, all[1:3], got)
	require.Equal(t, 5, count, "count is before paging")
	got, count = w.list(db.WorkspaceListFilter{CallerID: w.admin.ID, Offset: 4})
	require.Equal(t, all[4:], got)
	require.Equal(t, 5, count)
	got, count = w.list(db.WorkspaceListFilter{CallerID: w.admin.ID, Limit: 10, Offset: 50})
	require.Empty(t, got)
	require.Equal(t, 5, count, "past the end, the count is still reported")
	got, count = w.list(db.WorkspaceListFilter{CallerID: w.admin.ID, NameContains: "nothing"})
	require.Empty(t, got)
	require.Zero(t, count)

	got, _ = w.list(db.WorkspaceListFilter{CallerID: bob.ID})
	require.Equal(t, []string{"a-stopped", "c-running", "B-running", "fav-stopped", "a-failed"}, got, "bob's favorite first")
	got, _ = w.list(db.WorkspaceListFilter{CallerID: bob.ID, VisibleOwnerID: uuid.NullUUID{UUID: bob.ID, Valid: true}})
	require.Equal(t, []string{"c-running", "a-failed"}, got, "only bob's own")
	got, _ = w.list(db.WorkspaceListFilter{CallerID: w.admin.ID, OwnerUsername: "zed"})
	require.Equal(t, []string{"B-running", "a-stopped"}, got, "owner username is case-insensitive")
	got, _ = w.list(db.WorkspaceListFilter{CallerID: w.admin.ID, NameContains: "b-"})
	require.Equal(t, []string{"B-running"}, got, "name is a case-insensitive substring")
	got, _ = w.list(db.WorkspaceListFilter{CallerID: w.admin.ID, NameContains: "%"})
	require.Empty(t, got, "LIKE wildcards are literal")
}

func TestListWorkspacesParamsAndVersions(t *testing.T) {
	t.Parallel()
	w := newWLWorld(t)
	one, two := w.template("One"), w.template("two")
	w.insert(
		wlSpec{owner: w.admin, name: "p1", template: one, params: map[string]string{"Region": "EU", "size": "large"}},
		wlSpec{owner: w.admin, name: "p2", template: one, params: map[string]string{"region": "us"},
			oldParams: map[string]string{"size": "large"}},
		wlSpec{owner: w.admin, name: "p3", template: two, outdated: true, dormant: true,
			lastUsed: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
	)
	cases := []struct {
		name string
		f    db.WorkspaceListFilter
		want []string
	}{
		{"param name", db.WorkspaceListFilter{Params: []db.WorkspaceParamFilter{{Name: "region"}}}, []string{"p1", "p2"}},
		{"param value", db.WorkspaceListFilter{Params: []db.WorkspaceParamFilter{{Name: "region", Value: "eu", HasValue: true}}}, []string{"p1"}},
		{"latest build only", db.WorkspaceListFilter{Params: []db.WorkspaceParamFilter{{Name: "size"}}}, []string{"p1"}},
		{"all params", db.WorkspaceListFilter{Params: []db.WorkspaceParamFilter{{Name: "size"}, {Name: "region", Value: "us", HasValue: true}}}, []string{}},
		{"template", db.WorkspaceListFilter{TemplateName: "one"}, []string{"p1", "p2"}},
		{"outdated", db.WorkspaceListFilter{Outdated: new(true)}, []string{"p3"}},
		{"not outdated", db.WorkspaceListFilter{Outdated: new(false)}, []string{"p1", "p2"}},
		{"dormant", db.WorkspaceListFilter{Dormant: true}, []string{"p3"}},
		{"last used before", db.WorkspaceListFilter{LastUsedBefore: new(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}, []string{"p3"}},
		{"last used after", db.WorkspaceListFilter{LastUsedAfter: new(time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC))}, []string{"p1", "p2"}},
		{"organization", db.WorkspaceListFilter{OrganizationName: "coder"}, []string{"p1", "p2", "p3"}},
		{"unknown organization", db.WorkspaceListFilter{OrganizationName: "nope"}, []string{}},
		{"organization id", db.WorkspaceListFilter{OrganizationID: uuid.NullUUID{UUID: w.org.ID, Valid: true}}, []string{"p1", "p2", "p3"}},
		{"unknown owner", db.WorkspaceListFilter{OwnerUsername: "ghost"}, []string{}},
	}
	for _, c := range cases {
		c.f.CallerID = w.admin.ID
		got, count := w.list(c.f)
		require.Equal(t, c.want, got, c.name)
		require.Equal(t, len(c.want), count, c.name)
	}
	// Past the end, the count is still reported: with a parameter filter
	// (values inline) and without (prepared).
	for _, f := range []db.WorkspaceListFilter{
		{CallerID: w.admin.ID, Offset: 5, Params: []db.WorkspaceParamFilter{{Name: "region"}}},
		{CallerID: w.admin.ID, Offset: 5, TemplateName: "one"},
	} {
		got, count := w.list(f)
		require.Empty(t, got)
		require.Equal(t, 2, count)
	}
}

func TestBuildViewsQueueMatchesGetJobQueue(t *testing.T) {
	t.Parallel()
	w := newWLWorld(t)
	tpl := w.template("tpl")
	now := db.Now()
	for i, seen := range []time.Time{now, now.Add(-time.Second), now.Add(-time.Hour)} {
		d := &db.ProvisionerDaemon{
			ID: uuid.New(), OrganizationID: w.org.ID, Name: fmt.Sprintf("d%d", i), Provisioners: []string{"echo"},
			Tags: db.UntaggedTags(), TaskQueue: "q", CreatedAt: seen, LastSeenAt: seen,
		}
		require.NoError(t, w.store.UpsertDaemon(w.ctx, d))
	}
	var specs []wlSpec
	for i, js := range []string{db.JobPending, db.JobPending, db.JobRunning, db.JobSucceeded, db.JobPending, db.JobCanceled} {
		specs = append(specs, wlSpec{owner: w.admin, name: fmt.Sprintf("w%d", i), template: tpl, jobStatus: js})
	}
	w.insert(specs...)
	page, err := w.store.ListWorkspaces(w.ctx, db.WorkspaceListFilter{CallerID: w.admin.ID})
	require.NoError(t, err)
	var ids []uuid.UUID
	for _, r := range page.Rows {
		ids = append(ids, r.LatestBuildID)
	}
	views, err := w.store.GetBuildViews(w.ctx, append(ids, uuid.New())) // an unknown build is left out
	require.NoError(t, err)
	require.Len(t, views, len(ids))
	positions := []int{}
	for _, id := range ids {
		v := views[id]
		one, err := w.store.GetJobQueue(w.ctx, &v.Job)
		require.NoError(t, err)
		got := v.JobQueue()
		for _, q := range []*db.JobQueue{one, got} {
			slices.SortFunc(q.AvailableWorkers, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
		}
		require.Equal(t, one, got, "job %s (%s)", v.Job.ID, v.Job.Status)
		single, err := w.store.GetBuildView(w.ctx, id)
		require.NoError(t, err)
		require.Equal(t, v.Build, single.Build)
		require.Equal(t, v.Job.ID, single.Job.ID)
		if v.Job.Status == db.JobPending {
			positions = append(positions, got.Position)
		}
	}
	slices.Sort(positions)
	require.Equal(t, []int{1, 2, 3}, positions)
}

// TestListWorkspacesPreparedBound: list queries are prepared per set of
// filters, which users choose; once the store keeps as many statements as
// it may, further filter sets run unprepared with the same results.
func TestListWorkspacesPreparedBound(t *testing.T) {
	t.Parallel()
	w := newWLWorld(t)
	tpl := w.template("tpl")
	bob := w.user("bob")
	w.insert(
		wlSpec{owner: bob, name: "b-running", template: tpl},
		wlSpec{owner: bob, name: "a-stopped", template: tpl, transition: "stop"},
	)
	filters := []db.WorkspaceListFilter{
		{CallerID: w.admin.ID},
		{CallerID: w.admin.ID, NameContains: "running"},
		{CallerID: w.admin.ID, Status: "stopped"},
		{CallerID: w.admin.ID, OwnerUsername: "bob", Limit: 1, Offset: 1},
	}
	want := [][]string{{"b-running", "a-stopped"}, {"b-running"}, {"a-stopped"}, {"a-stopped"}}
	bound := db.PreparedCount(w.store) + 1
	db.SetMaxPrepared(w.store, bound)
	for round := range 2 {
		for i, f := range filters {
			got, count := w.list(f)
			require.Equal(t, want[i], got, "round %d, filter %d", round, i)
			require.Equal(t, len(want[i])+f.Offset, count, "round %d, filter %d", round, i)
		}
	}
	require.Equal(t, bound, db.PreparedCount(w.store), "one filter set prepared, the others unprepared")
}

// TestListWorkspacesPlan checks the page query's plan on 5,000 workspaces:
// the latest build and its parameters are index lookups per workspace
// (never a scan of every build or parameter), and a member's list reads
// only their workspaces through an index.
func TestListWorkspacesPlan(t *testing.T) {
	t.Parallel()
	w := newWLWorld(t)
	s := w.seed(5000, 100, 7)
	for name, f := range map[string]db.WorkspaceListFilter{
		"owner, no filter": {CallerID: w.admin.ID, Limit: 25},
		"member":           {CallerID: s.member.ID, VisibleOwnerID: uuid.NullUUID{UUID: s.member.ID, Valid: true}, Limit: 25},
		"name and param": {CallerID: w.admin.ID, Limit: 25, NameContains: "77",
			Params: []db.WorkspaceParamFilter{{Name: "region", Value: "eu", HasValue: true}, {Name: "size"}}},
	} {
		plan := w.explain(f)
		t.Logf("%s:\n%s", name, plan)
		require.NotContains(t, plan, "Seq Scan on workspace_builds", name)
		require.NotContains(t, plan, "Seq Scan on workspace_build_parameters", name)
		if f.VisibleOwnerID.Valid {
			require.NotContains(t, plan, "Seq Scan on workspaces", name)
		}
	}
}

// explain returns the EXPLAIN ANALYZE of f's page query as ListWorkspaces
// runs it: prepared (with the generic plan berth's connections use) or with
// its values inline.
func (w *wlWorld) explain(f db.WorkspaceListFilter) string {
	w.tb.Helper()
	query, args := db.WorkspaceListSQL(w.store, f)
	var lines []string
	if len(args) == 0 {
		require.NoError(w.tb, w.db.NewRaw("EXPLAIN (ANALYZE, COSTS OFF) "+query).Scan(w.ctx, &lines))
		return strings.Join(lines, "\n")
	}
	conn, err := w.db.Conn(w.ctx)
	require.NoError(w.tb, err)
	defer conn.Close()
	_, err = conn.ExecContext(w.ctx, "PREPARE wl AS "+query)
	require.NoError(w.tb, err)
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	require.NoError(w.tb, conn.NewRaw("EXPLAIN (ANALYZE, COSTS OFF) EXECUTE wl("+marks+")", args...).Scan(w.ctx, &lines))
	_, err = conn.ExecContext(w.ctx, "DEALLOCATE wl")
	require.NoError(w.tb, err)
	return strings.Join(lines, "\n")
}

// wlSeeded is what seed inserted.
type wlSeeded struct {
	templates []*wlTemplate
	users     []*db.User
	member    *db.User // owns about n/users workspaces
}

// seed inserts n workspaces spread over users owners and templates
// templates, with a realistic mix of states: mostly running or stopped,
// some pending, starting, failed or canceled, some outdated or dormant, two
// parameters on each latest build, an earlier build for every other
// workspace, a few favorites and an online daemon.
func (w *wlWorld) seed(n, users, templates int) wlSeeded {
	w.tb.Helper()
	var s wlSeeded
	for i := range templates {
		s.templates = append(s.templates, w.template(fmt.Sprintf("tpl%d", i)))
	}
	now := db.Now()
	us := make([]*db.User, 0, users)
	for i := range users {
		us = append(us, &db.User{
			ID: uuid.New(), Email: fmt.Sprintf("u%d@example.com", i), Username: fmt.Sprintf("user%03d", i),
			HashedPassword: []byte("x"), Status: "active", LoginType: "password", RBACRoles: []string{},
			CreatedAt: now, UpdatedAt: now, LastSeenAt: now,
		})
	}
	_, err := w.db.NewInsert().Model(&us).Exec(w.ctx)
	require.NoError(w.tb, err)
	s.users, s.member = us, us[7]
	states := []struct{ job, transition string }{
		{db.JobSucceeded, "start"}, {db.JobSucceeded, "start"}, {db.JobSucceeded, "start"}, {db.JobSucceeded, "stop"},
		{db.JobSucceeded, "stop"}, {db.JobPending, "start"}, {db.JobRunning, "start"}, {db.JobFailed, "start"},
		{db.JobCanceled, "stop"}, {db.JobRunning, "stop"}, {db.JobSucceeded, "start"},
	}
	specs := make([]wlSpec, 0, n)
	for i := range n {
		st := states[i%len(states)]
		specs = append(specs, wlSpec{
			owner: us[i%users], name: fmt.Sprintf("ws%05d", i), template: s.templates[i%templates],
			jobStatus: st.job, transition: st.transition, outdated: i%13 == 0, dormant: i%17 == 0,
			lastUsed: now.Add(-time.Duration(i) * time.Minute),
			params:   map[string]string{"region": []string{"eu", "us", "ap"}[i%3], "size": fmt.Sprint(i % 4)},
		})
		if i%2 == 0 { // some history: an earlier build
			specs[i].oldParams = map[string]string{"region": "old"}
		}
	}
	wss := w.insert(specs...)
	for i := 0; i < len(wss); i += 97 {
		w.favorite(w.admin, wss[i])
	}
	d := &db.ProvisionerDaemon{
		ID: uuid.New(), OrganizationID: w.org.ID, Name: "d", Provisioners: []string{"echo"},
		Tags: db.UntaggedTags(), TaskQueue: "q", CreatedAt: now, LastSeenAt: now.Add(time.Hour), // online throughout
	}
	require.NoError(w.tb, w.store.UpsertDaemon(w.ctx, d))
	_, err = w.db.ExecContext(w.ctx, "ANALYZE")
	require.NoError(w.tb, err)
	return s
}

// listPage is the store side of GET /workspaces: the page query plus the
// loads the API's converter makes, in the same order. It returns the
// page size and how long the page query took.
func listPage(ctx context.Context, s *db.Store, f db.WorkspaceListFilter) (int, time.Duration, error) {
	start := time.Now()
	page, err := s.ListWorkspaces(ctx, f)
	if err != nil {
		return 0, 0, err
	}
	pageTime := time.Since(start)
	var jobIDs, buildIDs []uuid.UUID
	for _, r := range page.Rows {
		jobIDs, buildIDs = append(jobIDs, r.LatestJobID), append(buildIDs, r.LatestBuildID)
	}
	if _, err := s.GetBuildViews(ctx, buildIDs); err != nil {
		return 0, 0, err
	}
	if _, err := s.GetResourcesByJobIDs(ctx, jobIDs); err != nil {
		return 0, 0, err
	}
	return len(page.Rows), pageTime, nil
}

// BenchmarkListWorkspaces measures the store side of one GET /workspaces
// page (limit 25) over 10,000 workspaces of 100 owners: the page query with
// its count, then the batch loads. It reports p50 and p99 besides ns/op.
func BenchmarkListWorkspaces(b *testing.B) {
	w := newWLWorld(b)
	s := w.seed(10000, 100, 7)
	cases := []struct {
		name string
		f    db.WorkspaceListFilter
	}{
		{"all", db.WorkspaceListFilter{CallerID: w.admin.ID}},
		{"all-offset-5000", db.WorkspaceListFilter{CallerID: w.admin.ID, Offset: 5000}},
		{"filter-template-status", db.WorkspaceListFilter{CallerID: w.admin.ID, TemplateName: "tpl3", Status: "running"}},
		{"filter-owner", db.WorkspaceListFilter{CallerID: w.admin.ID, OwnerUsername: "user042"}},
		{"filter-name-param", db.WorkspaceListFilter{CallerID: w.admin.ID, NameContains: "77",
			Params: []db.WorkspaceParamFilter{{Name: "region", Value: "eu", HasValue: true}}}},
		{"member-owner-me", db.WorkspaceListFilter{CallerID: s.member.ID,
			VisibleOwnerID: uuid.NullUUID{UUID: s.member.ID, Valid: true}, OwnerID: uuid.NullUUID{UUID: s.member.ID, Valid: true}}},
	}
	for _, c := range cases {
		c.f.Limit = 25
		b.Run(c.name, func(b *testing.B) {
			ctx := b.Context()
			var total, pageOnly []time.Duration
			for b.Loop() {
				start := time.Now()
				n, pageTime, err := listPage(ctx, w.store, c.f)
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					b.Fatal("empty page")
				}
				total, pageOnly = append(total, time.Since(start)), append(pageOnly, pageTime)
			}
			pct := func(ds []time.Duration, p float64) float64 {
				slices.Sort(ds)
				return float64(ds[int(p*float64(len(ds)-1))].Nanoseconds())
			}
			b.ReportMetric(pct(total, 0.50), "p50-ns")
			b.ReportMetric(pct(total, 0.99), "p99-ns")
			b.ReportMetric(pct(pageOnly, 0.50), "page-p50-ns")
		})
	}
}
