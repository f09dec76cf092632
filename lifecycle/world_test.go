package lifecycle_test

import (
	"os"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/jobs"
	"github.com/berth-dev/berth/lifecycle"
)

func TestMain(m *testing.M) { os.Exit(testinfra.Main(m)) }

// echoSpec is a template whose workspaces start and stop at once;
// others replace its steps.
const echoSpec = `{"version": 1,
 "resources": [{"name": "dev", "type": "echo_instance", "transitions": ["start"], "daily_cost": 3},
               {"name": "disk", "type": "echo_volume", "transitions": ["start", "stop"], "daily_cost": 2}]}`

// world is a deployment (real Postgres, Temporal and worker) whose
// lifecycle executor runs on a mock clock, one pass at a time.
type world struct {
	t     testing.TB
	d     *berthtest.Deployment
	owner berthtest.Owner
	clock *quartz.Mock
	jobs  *jobs.Creator
	exec  *lifecycle.Executor
}

func newWorld(t testing.TB, opts berthtest.Options) *world {
	t.Helper()
	d := berthtest.New(t, opts)
	w := &world{t: t, d: d, owner: d.CreateFirstUser(t.Context()), clock: quartz.NewMock(t)}
	w.clock.Set(time.Now())
	w.jobs, w.exec = w.executor()
	return w
}

// executor returns another server's executor on the same database.
func (w *world) executor() (*jobs.Creator, *lifecycle.Executor) {
	w.t.Helper()
	creator, err := jobs.New(jobs.Options{Store: w.d.Store, Queues: w.d.Queues, Clock: w.clock, Log: w.d.Log})
	require.NoError(w.t, err)
	exec, err := lifecycle.New(lifecycle.Options{Store: w.d.Store, Jobs: creator, Clock: w.clock, Log: w.d.Log})
	require.NoError(w.t, err)
	return creator, exec
}

// template imports spec and makes it a template; mut adjusts the request.
func (w *world) template(spec string, mut func(*sdk.CreateTemplateRequest)) sdk.Template {
	w.t.Helper()
	ctx, c := w.t.Context(), w.owner.Client
	v, err := c.CreateTemplateVersion(ctx, w.owner.OrganizationID, sdk.CreateTemplateVersionRequest{
		FileID: berthtest.UploadEcho(ctx, w.t, c, spec), Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
	})
	require.NoError(w.t, err)
	v = berthtest.WaitJob(ctx, w.t, c, v.ID)
	require.Equal(w.t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	req := sdk.CreateTemplateRequest{Name: "t" + uuid.NewString()[:8], VersionID: v.ID}
	if mut != nil {
		mut(&req)
	}
	tpl, err := c.CreateTemplate(ctx, w.owner.OrganizationID, req)
	require.NoError(w.t, err)
	return tpl
}

// workspace creates a workspace of tpl for user and waits for build 1.
func (w *world) workspace(tpl sdk.Template, user, name string) sdk.WorkspaceBuild {
	w.t.Helper()
	ws, err := w.owner.Client.CreateWorkspace(w.t.Context(), w.owner.OrganizationID, user, sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: name})
	require.NoError(w.t, err)
	return berthtest.WaitBuild(w.t, w.owner.Client, ws.LatestBuild.ID)
}

// build runs a transition through the API and waits for it.
func (w *world) build(id uuid.UUID, transition sdk.WorkspaceTransition) sdk.WorkspaceBuild {
	w.t.Helper()
	b, err := w.owner.Client.CreateWorkspaceBuild(w.t.Context(), id, sdk.CreateWorkspaceBuildRequest{Transition: transition})
	require.NoError(w.t, err)
	return berthtest.WaitBuild(w.t, w.owner.Client, b.ID)
}

// pass sets the clock to at and runs one pass.
func (w *world) pass(at time.Time) lifecycle.Stats {
	w.t.Helper()
	w.clock.Set(at).MustWait(w.t.Context())
	stats, err := w.exec.RunOnce(w.t.Context())
	require.NoError(w.t, err)
	require.Zero(w.t, stats.Failed, "no lifecycle action failed")
	return stats
}

// latest waits for the workspace's latest build to end and returns it.
func (w *world) latest(id uuid.UUID) sdk.WorkspaceBuild {
	w.t.Helper()
	ws, err := w.owner.Client.Workspace(w.t.Context(), id)
	require.NoError(w.t, err)
	return berthtest.WaitBuild(w.t, w.owner.Client, ws.LatestBuild.ID)
}

// row reads a workspace as stored.
func (w *world) row(id uuid.UUID) *db.Workspace {
	w.t.Helper()
	ws, err := w.d.Store.GetWorkspaceByID(w.t.Context(), id)
	require.NoError(w.t, err)
	return ws
}

// exec runs SQL against the deployment's database.
func (w *world) sql(query string, args ...any) {
	w.t.Helper()
	_, err := w.d.DB.NewRaw(query, args...).Exec(w.t.Context())
	require.NoError(w.t, err)
}

func ms(d time.Duration) *int64 { v := d.Milliseconds(); return &v }
