package api_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// TestWatchWorkspaceAcrossServers watches a workspace on one API server
// while its builds are started through another that shares the database.
func TestWatchWorkspaceAcrossServers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d1 := berthtest.New(t, berthtest.Options{})
	d2 := berthtest.New(t, berthtest.Options{DB: d1.DB, QueuePrefix: d1.Queues.Prefix, NoWorker: true})
	owner := d1.CreateFirstUser(ctx)
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, workspaceSpec).ID)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "watched", VersionID: v.ID})
	require.NoError(t, err)
	ws, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "watched"})
	require.NoError(t, err)
	berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)

	watcher := sdk.New(d2.URL)
	watcher.SetSessionToken(owner.Client.SessionToken())
	events, err := watcher.WatchWorkspace(ctx, ws.ID)
	require.NoError(t, err)
	next := func() sdk.Workspace {
		t.Helper()
		select {
		case w, ok := <-events:
			require.True(t, ok, "the stream ended")
			return w
		case <-time.After(30 * time.Second):
			t.Fatal("no watch event within 30s")
		}
		return sdk.Workspace{}
	}
	first := next()
	require.Equal(t, ws.ID, first.ID)
	require.Equal(t, sdk.WorkspaceStatus("running"), first.LatestBuild.Status)

	stop, err := owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "stop"})
	require.NoError(t, err)
	seen := map[sdk.WorkspaceStatus]bool{}
	for !seen["stopped"] {
		w := next()
		if w.LatestBuild.ID == stop.ID {
			seen[w.LatestBuild.Status] = true
		}
	}
	require.True(t, seen["stopped"])

	// A settings change through the other server arrives too.
	require.NoError(t, owner.Client.UpdateWorkspaceAutomaticUpdates(ctx, ws.ID, sdk.UpdateWorkspaceAutomaticUpdatesRequest{AutomaticUpdates: "always"}))
	for {
		if w := next(); w.AutomaticUpdates == "always" {
			break
		}
	}
}
