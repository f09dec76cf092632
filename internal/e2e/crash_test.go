package e2e

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
)

// TestFullCrashResumesBuilds: with builds in flight, every process is
// killed at once (berth server and worker with SIGKILL, Temporal with
// SIGKILL, berth's Postgres stopped in immediate mode, a crash to it),
// then all are started again, with a new worker process: each build
// resumes from its checkpoint and succeeds, saying so in its logs.
func TestFullCrashResumesBuilds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg := testinfra.StartPostgresCluster(t)
	dbURL := pg.BerthDB(t, "berth")
	ts := testinfra.StartTemporalServer(t)

	e := &env{t: t, dbURL: dbURL, temporal: ts.Addr, prefix: testinfra.TaskQueuePrefix(t)}
	store := e.store()
	server, c := e.startServerAt(freeAddr(e.t))
	w := e.startWorker(store, "before")
	owner := login(ctx, t, c)
	v := berthtest.WaitJob(ctx, t, c, createVersion(ctx, t, owner, resumableSpec).ID)
	tpl, err := c.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "lines", VersionID: v.ID})
	require.NoError(t, err)
	var builds []sdk.WorkspaceBuild
	for i := range 3 {
		ws, err := c.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: fmt.Sprintf("ws%d", i)})
		require.NoError(t, err)
		builds = append(builds, ws.LatestBuild)
	}
	for _, b := range builds {
		checkpointed(t, store, b.Job.ID, func(cp *db.JobCheckpoint) bool { return cp.Position != nil })
	}
	// The test cluster runs with synchronous_commit=off, which may lose the
	// last commits before a crash; make what the test waited for durable,
	// as a commit is with Postgres' default synchronous_commit=on.
	_, err = store.DB().ExecContext(ctx, "CHECKPOINT")
	require.NoError(t, err)

	// Everything dies at once.
	crashed := time.Now()
	w.signal(syscall.SIGKILL)
	server.signal(syscall.SIGKILL)
	ts.Kill()
	require.NoError(t, pg.Stop("immediate"))
	<-w.done
	<-server.done

	require.NoError(t, pg.Start())
	require.NoError(t, ts.Start())
	c = e.startServer()
	c.SetSessionToken(owner.Client.SessionToken())
	e.startWorker(store, "after")
	t.Logf("restarted in %s", time.Since(crashed).Round(time.Millisecond))

	for _, b := range builds {
		got := berthtest.WaitBuild(t, c, b.ID)
		require.Equal(t, sdk.ProvisionerJobSucceeded, got.Job.Status, got.Job.Error)
		require.Equal(t, "after", got.Job.WorkerName)
		resumed := resumeLine(outputs(t, c, b.ID))
		require.Regexp(t, `^Worker before lost at .*; resuming on worker after from the state of`, resumed)
		t.Log(resumed)
	}
	t.Logf("all builds succeeded %s after the crash", time.Since(crashed).Round(time.Millisecond))
}
