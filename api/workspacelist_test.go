package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/logctx"
)

// queryCounter counts the queries API requests run on a database while it
// is on: those whose context carries a request ID, so background work (the
// worker's scans and heartbeats) never counts. It sees what goes through
// bun; the store's prepared statements (db.Store.queryPrepared) bypass bun's
// hooks and are not counted.
type queryCounter struct {
	mu      sync.Mutex
	on      bool
	queries []string
}

func (q *queryCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (q *queryCounter) AfterQuery(ctx context.Context, ev *bun.QueryEvent) {
	if !slices.ContainsFunc(logctx.Attrs(ctx), func(a slog.Attr) bool { return a.Key == "request_id" }) {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.on {
		q.queries = append(q.queries, ev.Query)
	}
}

// during returns the queries run while fn ran.
func (q *queryCounter) during(fn func()) []string {
	q.mu.Lock()
	q.on, q.queries = true, nil
	q.mu.Unlock()
	fn()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.on = false
	return q.queries
}

// listWorld is a deployment with workspaces in every state, most of them
// inserted straight through the Store.
type listWorld struct {
	t        *testing.T
	ctx      context.Context
	d        *berthtest.Deployment
	owner    berthtest.Owner
	member   *sdk.Client
	memberID uuid.UUID
	zed      *db.User
	acme     *db.Organization
	alpha    sdk.Template
	alphaOld uuid.UUID // alpha's previous version
	beta     sdk.Template
	fileID   uuid.UUID
	daemonID uuid.UUID
	queries  *queryCounter
	ids      map[string]uuid.UUID
}

// lw describes one inserted workspace.
type lw struct {
	owner      uuid.UUID
	name       string
	tpl        sdk.Template
	version    uuid.UUID // default: the template's active version
	org        uuid.UUID // default: the template's
	job        string
	transition string
	dormant    bool
	deleted    bool
	lastUsed   time.Time
	params     map[string]string
}

func newListWorld(t *testing.T) *listWorld {
	t.Helper()
	ctx := t.Context()
	bdb := testinfra.DB(t)
	qc := &queryCounter{}
	bdb.AddQueryHook(qc) // before the deployment runs any query
	d := berthtest.New(t, berthtest.Options{DB: bdb, NoWorker: true})
	w := &listWorld{t: t, ctx: ctx, d: d, queries: qc, ids: map[string]uuid.UUID{}}
	w.owner = d.CreateFirstUser(ctx)
	w.daemonID, _ = d.StartWorker(nil)
	// The inserted jobs' queue has a poller (that runs nothing), so the
	// worker never adopts the pending ones on its periodic scan
	// (worker.DaemonRefreshInterval), however slow the run.
	seen := db.Now()
	_, err := d.DB.NewInsert().Model(&db.ProvisionerDaemon{
		ID: uuid.New(), OrganizationID: w.owner.OrganizationID, Name: "inserted", Provisioners: []string{},
		Tags: map[string]string{}, TaskQueue: "inserted", CreatedAt: seen, LastSeenAt: seen.Add(24 * time.Hour),
	}).Exec(ctx)
	require.NoError(t, err)

	v1 := berthtest.WaitJob(ctx, t, w.owner.Client, createVersion(ctx, t, w.owner, workspaceSpec).ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v1.Job.Status, v1.Job.Error)
	w.alpha, err = w.owner.Client.CreateTemplate(ctx, w.owner.OrganizationID, sdk.CreateTemplateRequest{Name: "alpha", VersionID: v1.ID})
	require.NoError(t, err)
	v2 := berthtest.WaitJob(ctx, t, w.owner.Client, createVersion(ctx, t, w.owner, workspaceSpec, func(r *sdk.CreateTemplateVersionRequest) {
		r.TemplateID = w.alpha.ID
	}).ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v2.Job.Status, v2.Job.Error)
	require.NoError(t, w.owner.Client.UpdateActiveTemplateVersion(ctx, w.alpha.ID, sdk.UpdateActiveTemplateVersion{ID: v2.ID}))
	w.alpha.ActiveVersionID, w.alphaOld, w.fileID = v2.ID, v1.ID, v1.Job.FileID
	w.beta, err = w.owner.Client.CreateTemplate(ctx, w.owner.OrganizationID, sdk.CreateTemplateRequest{
		Name: "beta", VersionID: berthtest.WaitJob(ctx, t, w.owner.Client, createVersion(ctx, t, w.owner, `{"version":1}`).ID).ID,
	})
	require.NoError(t, err)

	// A real workspace, built by the worker.
	real, err := w.owner.Client.CreateWorkspace(ctx, w.owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{
		TemplateID: w.alpha.ID, Name: "real", RichParameterValues: []sdk.WorkspaceBuildParameter{{Name: "size", Value: "large"}},
	})
	require.NoError(t, err)
	b := berthtest.WaitBuild(t, w.owner.Client, real.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	w.ids["real"] = real.ID

	member, err := w.owner.Client.CreateUser(ctx, sdk.CreateUserRequest{
		Email: "member@example.com", Username: "member", Password: berthtest.OwnerPassword, LoginType: sdk.LoginTypePassword,
	})
	require.NoError(t, err)
	w.memberID = member.ID
	w.member = d.Client()
	login, err := w.member.LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "member@example.com", Password: berthtest.OwnerPassword})
	require.NoError(t, err)
	w.member.SetSessionToken(login.SessionToken)

	now := db.Now()
	w.zed = &db.User{
		ID: uuid.New(), Email: "zed@example.com", Username: "Zed", HashedPassword: []byte("x"), Status: "active",
		LoginType: "password", RBACRoles: []string{}, CreatedAt: now, UpdatedAt: now, LastSeenAt: now,
	}
	require.NoError(t, d.Store.InsertUser(ctx, w.zed))
	w.acme = &db.Organization{ID: uuid.New(), Name: "acme", DisplayName: "Acme", CreatedAt: now, UpdatedAt: now}
	_, err = d.DB.NewInsert().Model(w.acme).Exec(ctx)
	require.NoError(t, err)
	return w
}

// insert adds a workspace with one build whose job is in the given state.
func (w *listWorld) insert(s lw) uuid.UUID {
	w.t.Helper()
	ctx := w.ctx
	now := db.Now()
	if s.version == uuid.Nil {
		s.version = s.tpl.ActiveVersionID
	}
	if s.org == uuid.Nil {
		s.org = s.tpl.OrganizationID
	}
	if s.lastUsed.IsZero() {
		s.lastUsed = now
	}
	ws := &db.Workspace{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OwnerID: s.owner, OrganizationID: s.org, TemplateID: s.tpl.ID,
		Name: s.name, Deleted: s.deleted, LastUsedAt: s.lastUsed, AutomaticUpdates: "never",
	}
	if s.dormant {
		ws.DormantAt = &now
	}
	build := &db.WorkspaceBuild{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, WorkspaceID: ws.ID, TemplateVersionID: s.version, BuildNumber: 1,
		Transition: s.transition, InitiatorID: w.owner.UserID, Reason: "initiator",
	}
	input, err := json.Marshal(db.JobInput{WorkspaceBuildID: uuid.NullUUID{UUID: build.ID, Valid: true}})
	require.NoError(w.t, err)
	job := &db.ProvisionerJob{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OrganizationID: s.org, InitiatorID: w.owner.UserID,
		Provisioner: "echo", StorageMethod: "file", Type: db.JobTypeWorkspaceBuild, Input: input, Tags: db.UntaggedTags(),
		FileID: w.fileID, TaskQueue: "inserted", WorkspaceID: uuid.NullUUID{UUID: ws.ID, Valid: true},
	}
	worker := uuid.NullUUID{UUID: w.daemonID, Valid: true}
	switch s.job {
	case db.JobPending:
	case db.JobRunning:
		job.StartedAt, job.WorkerID = &now, worker
	case db.JobSucceeded:
		job.StartedAt, job.CompletedAt, job.WorkerID = &now, &now, worker
	case db.JobFailed:
		job.StartedAt, job.CompletedAt, job.Error, job.WorkerID = &now, &now, "boom", worker
	case db.JobCanceling:
		job.StartedAt, job.CanceledAt, job.WorkerID = &now, &now, worker
	case db.JobCanceled:
		job.CanceledAt, job.CompletedAt = &now, &now
	default:
		w.t.Fatalf("unknown job status %q", s.job)
	}
	build.JobID = job.ID
	var params []db.WorkspaceBuildParameter
	for k, v := range s.params {
		params = append(params, db.WorkspaceBuildParameter{WorkspaceBuildID: build.ID, Name: k, Value: v})
	}
	require.NoError(w.t, w.d.Store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.InsertWorkspace(ctx, ws); err != nil {
			return err
		}
		if err := tx.InsertJob(ctx, job); err != nil {
			return err
		}
		if err := tx.InsertWorkspaceBuild(ctx, build); err != nil {
			return err
		}
		return tx.InsertWorkspaceBuildParameters(ctx, params)
	}))
	w.ids[s.name] = ws.ID
	return ws.ID
}

func (w *listWorld) favorite(userID uuid.UUID, name string) {
	w.t.Helper()
	_, err := w.d.DB.ExecContext(w.ctx, "INSERT INTO workspace_favorites (user_id, workspace_id) VALUES (?, ?)", userID, w.ids[name])
	require.NoError(w.t, err)
}

// seed inserts the workspaces the list tests share. With the API-built
// "real", the caller owner sees, in list order:
//
//	fig (favorite) | m-one apple real zeta (running) | m-two banana cherry date elder grape
func (w *listWorld) seed() {
	o, m := w.owner.UserID, w.memberID
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range []lw{
		{owner: o, name: "apple", tpl: w.alpha, version: w.alphaOld, job: db.JobSucceeded, transition: "start", params: map[string]string{"region": "us"}},
		{owner: o, name: "banana", tpl: w.alpha, job: db.JobSucceeded, transition: "stop", dormant: true},
		{owner: o, name: "cherry", tpl: w.beta, job: db.JobPending, transition: "start"},
		{owner: o, name: "date", tpl: w.beta, job: db.JobRunning, transition: "stop", lastUsed: old},
		{owner: o, name: "elder", tpl: w.alpha, job: db.JobFailed, transition: "start"},
		{owner: o, name: "fig", tpl: w.alpha, job: db.JobCanceled, transition: "start"},
		{owner: o, name: "grape", tpl: w.alpha, job: db.JobCanceling, transition: "delete"},
		{owner: o, name: "gone", tpl: w.alpha, job: db.JobSucceeded, transition: "delete", deleted: true},
		{owner: m, name: "m-one", tpl: w.alpha, job: db.JobSucceeded, transition: "start"},
		{owner: m, name: "m-two", tpl: w.alpha, job: db.JobRunning, transition: "start"},
		{owner: w.zed.ID, name: "zeta", tpl: w.beta, org: w.acme.ID, job: db.JobSucceeded, transition: "start"},
	} {
		w.insert(s)
	}
	w.favorite(o, "fig")
	w.favorite(m, "m-two")
	w.favorite(m, "gone")
}

// names lists with c and returns the names in order and the count.
func names(t *testing.T, c *sdk.Client, q string, limit, offset int) ([]string, int) {
	t.Helper()
	res, err := c.Workspaces(t.Context(), q, limit, offset)
	require.NoError(t, err, "q=%q", q)
	out := []string{}
	for _, ws := range res.Workspaces {
		out = append(out, ws.Name)
	}
	return out, res.Count
}

var everyone = []string{"fig", "m-one", "apple", "real", "zeta", "m-two", "banana", "cherry", "date", "elder", "grape"}

func without(all []string, drop ...string) []string {
	out := []string{}
	for _, n := range all {
		keep := true
		for _, d := range drop {
			keep = keep && n != d
		}
		if keep {
			out = append(out, n)
		}
	}
	return out
}

func TestListWorkspacesFilters(t *testing.T) {
	t.Parallel()
	w := newListWorld(t)
	w.seed()
	cases := []struct {
		q    string
		want []string
	}{
		{"", everyone},
		{"owner:me", []string{"fig", "apple", "real", "banana", "cherry", "date", "elder", "grape"}},
		{"owner:member", []string{"m-one", "m-two"}},
		{"owner:ZED", []string{"zeta"}},
		{"owner:ghost", []string{}},
		{"member/m-", []string{"m-one", "m-two"}},
		{"ppl", []string{"apple"}},
		{"name:E", []string{"m-one", "apple", "real", "zeta", "cherry", "date", "elder", "grape"}},
		{"name:_", []string{}},
		{"template:BETA", []string{"zeta", "cherry", "date"}},
		{"template:gamma", []string{}},
		{"status:running", []string{"m-one", "apple", "real", "zeta"}},
		{"status:stopped", []string{"banana"}},
		{"status:pending", []string{"cherry"}},
		{"status:starting", []string{"m-two"}},
		{"status:stopping", []string{"date"}},
		{"status:failed", []string{"elder"}},
		{"status:canceled", []string{"fig"}},
		{"status:canceling", []string{"grape"}},
		{"status:deleting", []string{}},
		{"status:deleted", []string{}},
		{"outdated:true", []string{"apple"}},
		{"outdated:false", without(everyone, "apple")},
		{"dormant:true", []string{"banana"}},
		{"dormant:false", everyone},
		{"id:" + w.ids["zeta"].String() + "," + w.ids["real"].String(), []string{"real", "zeta"}},
		{"id:" + w.ids["gone"].String(), []string{}},
		{"organization:acme", []string{"zeta"}},
		{"organization:" + w.acme.ID.String(), []string{"zeta"}},
		{"organization:coder", without(everyone, "zeta")},
		{"organization:nope", []string{}},
		{`last_used_before:"2021-01-01T00:00:00Z"`, []string{"date"}},
		{`last_used_after:"2021-01-01T00:00:00Z"`, without(everyone, "date")},
		{"param:region", []string{"apple", "real"}},
		{"param:region=EU", []string{"real"}},
		{"param:size=large param:region", []string{"real"}},
		{"param:nope", []string{}},
		{"has-agent:connected", []string{}},
		{"has-agent:false", everyone},
		{"shared:true", []string{}},
		{"has_external_agent:false has-ai-task:false", everyone},
		{`owner:me status:running template:"alpha"`, []string{"apple", "real"}},
	}
	for _, c := range cases {
		got, count := names(t, w.owner.Client, c.q, 0, 0)
		require.Equal(t, c.want, got, "q=%q", c.q)
		require.Equal(t, len(c.want), count, "q=%q", c.q)
	}

	// Each listed workspace's status is the Go mapping of its latest build.
	for _, status := range []string{"running", "stopped", "pending", "starting", "stopping", "failed", "canceled", "canceling"} {
		res, err := w.owner.Client.Workspaces(t.Context(), "status:"+status, 0, 0)
		require.NoError(t, err)
		for _, ws := range res.Workspaces {
			require.Equal(t, sdk.WorkspaceStatus(status), ws.LatestBuild.Status, ws.Name)
		}
	}
}

func TestListWorkspacesPagingAndVisibility(t *testing.T) {
	t.Parallel()
	w := newListWorld(t)
	w.seed()
	for _, c := range []struct{ limit, offset int }{{3, 0}, {3, 2}, {4, 9}, {0, 5}, {100, 0}} {
		got, count := names(t, w.owner.Client, "", c.limit, c.offset)
		end := len(everyone)
		if c.limit > 0 {
			end = min(end, c.offset+c.limit)
		}
		require.Equal(t, everyone[c.offset:end], got, "limit %d offset %d", c.limit, c.offset)
		require.Equal(t, len(everyone), count, "count is before paging")
	}
	got, count := names(t, w.owner.Client, "", 5, 50)
	require.Empty(t, got)
	require.Equal(t, len(everyone), count, "past the end, the count is still reported")
	got, count = names(t, w.owner.Client, "status:running", 1, 1)
	require.Equal(t, []string{"apple"}, got)
	require.Equal(t, 4, count)

	// Members see only their own workspaces, their favorites first.
	got, count = names(t, w.member, "", 0, 0)
	require.Equal(t, []string{"m-two", "m-one"}, got)
	require.Equal(t, 2, count)
	for _, q := range []string{"owner:owner", "id:" + w.ids["real"].String(), "template:beta", "name:apple"} {
		got, count = names(t, w.member, q, 0, 0)
		require.Empty(t, got, q)
		require.Zero(t, count, q)
	}
	got, _ = names(t, w.member, "owner:me status:starting", 0, 0)
	require.Equal(t, []string{"m-two"}, got)
	res, err := w.member.Workspaces(t.Context(), "", 0, 0)
	require.NoError(t, err)
	require.True(t, res.Workspaces[0].Favorite)
	require.False(t, res.Workspaces[1].Favorite)
}

func TestListWorkspacesErrors(t *testing.T) {
	t.Parallel()
	w := newListWorld(t)
	c := w.owner.Client
	for _, tc := range []struct{ q, field string }{
		{"bogus:1", "bogus"},
		{"status:bogus", "status"},
		{"dormant:maybe", "dormant"},
		{"outdated:sure", "outdated"},
		{"last_used_after:yesterday", "last_used_after"},
		{`last_used_before:"2026-01-01"`, "last_used_before"},
		{"id:nope", "id"},
		{"param:=x", "param"},
		{":x", "q"},
		{"a:b:c", "q"},
	} {
		_, err := c.Workspaces(t.Context(), tc.q, 0, 0)
		apiErr := requireStatus(t, err, http.StatusBadRequest, "Invalid workspace search query.")
		require.NotEmpty(t, apiErr.Response.Validations, tc.q)
		require.Equal(t, tc.field, apiErr.Response.Validations[0].Field, tc.q)
	}
	_, err := c.Workspaces(t.Context(), "bogus:1", 0, 0)
	apiErr := requireStatus(t, err, http.StatusBadRequest, "")
	require.Equal(t, `"bogus" is not a valid query param`, apiErr.Response.Validations[0].Detail)

	_, err = c.Workspaces(t.Context(), "", -1, 0)
	apiErr = requireStatus(t, err, http.StatusBadRequest, "Query parameters have invalid values.")
	require.Equal(t, "limit", apiErr.Response.Validations[0].Field)
	for _, param := range []string{"limit", "offset"} {
		res, err := c.Request(t.Context(), http.MethodGet, "/api/v2/workspaces", nil, sdk.WithQueryParam(param, "x"))
		require.NoError(t, err)
		apiErr = requireStatus(t, sdk.ReadBodyAsError(res), http.StatusBadRequest, "Query parameters have invalid values.")
		res.Body.Close()
		require.Equal(t, param, apiErr.Response.Validations[0].Field)
	}
	_, err = w.d.Client().Workspaces(t.Context(), "", 0, 0)
	requireStatus(t, err, http.StatusUnauthorized, "")
}

// TestListWorkspacesMatchesGet checks that the batch converter gives, for
// every workspace, exactly what GET /workspaces/{id} gives, and that the
// request runs the same number of queries whatever the page size.
func TestListWorkspacesMatchesGet(t *testing.T) {
	t.Parallel()
	w := newListWorld(t)
	w.seed()
	ctx := t.Context()
	res, err := w.owner.Client.Workspaces(ctx, "", 0, 0)
	require.NoError(t, err)
	require.Len(t, res.Workspaces, len(everyone))
	normalize := func(ws *sdk.Workspace) {
		// The worker's heartbeat moves last_seen_at between the two reads.
		if mp := ws.LatestBuild.MatchedProvisioners; mp != nil {
			mp.MostRecentlySeen = nil
		}
	}
	for _, listed := range res.Workspaces {
		got, err := w.owner.Client.Workspace(ctx, listed.ID)
		require.NoError(t, err)
		normalize(&listed)
		normalize(&got)
		require.Equal(t, got, listed, listed.Name)
	}
	var cherry sdk.Workspace
	for _, ws := range res.Workspaces {
		if ws.Name == "cherry" {
			cherry = ws
		}
	}
	require.Equal(t, 1, cherry.LatestBuild.Job.QueuePosition, "queue figures of pending jobs are computed on read")
	require.Equal(t, 1, cherry.LatestBuild.MatchedProvisioners.Available)

	// The fewest queries seen over a few tries must not depend on the page
	// size: the API key, the page and count, then one batch each (all of
	// them prepared today, so the counter sees none of them; what it sees
	// must not grow with the page either).
	fewest := func(limit int) []string {
		var best []string
		for range 3 {
			qs := w.queries.during(func() {
				_, err := w.owner.Client.Workspaces(ctx, "", limit, 0)
				require.NoError(t, err)
			})
			if best == nil || len(qs) < len(best) {
				best = qs
			}
		}
		return best
	}
	one, all := fewest(1), fewest(0)
	require.Equal(t, len(one), len(all), "page of 1:\n%q\nall:\n%q", one, all)
	require.LessOrEqual(t, len(all), 12, "%q", all)
	t.Logf("queries per GET /workspaces: %d", len(all))
}
