package api_test

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// watchedWorkspace makes a running workspace to watch.
func watchedWorkspace(ctx context.Context, t testing.TB, d *berthtest.Deployment, owner berthtest.Owner) sdk.Workspace {
	t.Helper()
	fileID := berthtest.UploadEcho(ctx, t, owner.Client, workspaceSpec)
	v, err := owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
		FileID: fileID, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file"})
	require.NoError(t, err)
	berthtest.WaitJob(ctx, t, owner.Client, v.ID)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "watched", VersionID: v.ID})
	require.NoError(t, err)
	ws, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "watched"})
	require.NoError(t, err)
	berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	return ws
}

// openWatches opens n watches of a workspace and reads each one's first
// event.
func openWatches(ctx context.Context, t testing.TB, c *sdk.Client, id uuid.UUID, n int) []<-chan sdk.Workspace {
	t.Helper()
	out := make([]<-chan sdk.Workspace, n)
	for i := range out {
		events, err := c.WatchWorkspace(ctx, id)
		require.NoError(t, err)
		select {
		case <-events:
		case <-time.After(30 * time.Second):
			t.Fatal("no first watch event within 30s")
		}
		out[i] = events
	}
	return out
}

// awaitAll waits until every watch has seen a workspace with the
// automatic-updates setting want.
func awaitAll(t testing.TB, watches []<-chan sdk.Workspace, want sdk.AutomaticUpdates) {
	t.Helper()
	var wg sync.WaitGroup
	for _, events := range watches {
		wg.Go(func() {
			for w := range events {
				if w.AutomaticUpdates == want {
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestWatchersShareReads opens 20 watches of one workspace and changes it:
// the watchers share the server's reads of it (one per change, plus the
// listener's periodic wake-ups) instead of reading it 20 times.
func TestWatchersShareReads(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	ws := watchedWorkspace(ctx, t, d, owner)
	const n = 20
	watches := openWatches(ctx, t, owner.Client, ws.ID, n)
	before := api.WatchReads(d.API)
	require.NoError(t, owner.Client.UpdateWorkspaceAutomaticUpdates(ctx, ws.ID, sdk.UpdateWorkspaceAutomaticUpdatesRequest{AutomaticUpdates: "always"}))
	awaitAll(t, watches, "always")
	require.Less(t, api.WatchReads(d.API)-before, int64(n/2), "reads for one change seen by %d watchers", n)
}

// TestStreamCapsPerUser opens watches up to the per-user cap: the next is
// refused with 429 until one closes.
func TestStreamCapsPerUser(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{API: api.Options{MaxStreamsPerUser: 2}})
	owner := d.CreateFirstUser(ctx)
	ws := watchedWorkspace(ctx, t, d, owner)
	wctx, closeFirst := context.WithCancel(ctx)
	_, err := owner.Client.WatchWorkspace(wctx, ws.ID)
	require.NoError(t, err)
	_, err = owner.Client.WatchWorkspace(ctx, ws.ID)
	require.NoError(t, err)
	_, err = owner.Client.WatchWorkspace(ctx, ws.ID)
	requireStatus(t, err, http.StatusTooManyRequests, "You have too many open streams.")
	// A log follow counts too.
	_, _, err = owner.Client.WorkspaceBuildLogsFollow(ctx, ws.LatestBuild.ID, 0)
	requireStatus(t, err, http.StatusTooManyRequests, "You have too many open streams.")
	closeFirst()
	require.Eventually(t, func() bool {
		_, err := owner.Client.WatchWorkspace(ctx, ws.ID)
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "a slot frees when a watch closes")
}

// BenchmarkWatchers2000 holds 2,000 watches of one workspace and, per
// iteration, changes the workspace and waits until every watcher has seen
// it, while timing a workspace list issued at the same moment: the pool
// (10 connections) stays free for other requests because the watchers share
// one read per change. Reports list-ms (that list's latency) and
// reads/op (the server's workspace reads for the watches).
func BenchmarkWatchers2000(b *testing.B) {
	ctx := b.Context()
	const n = 2000
	d := berthtest.New(b, berthtest.Options{API: api.Options{MaxStreamsPerUser: n + 10, MaxStreams: n + 10}})
	owner := d.CreateFirstUser(ctx)
	ws := watchedWorkspace(ctx, b, d, owner)
	watches := openWatches(ctx, b, owner.Client, ws.ID, n)
	settings := []sdk.AutomaticUpdates{"always", "never"}
	var lists []time.Duration
	reads := api.WatchReads(d.API)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		want := settings[i%2]
		require.NoError(b, owner.Client.UpdateWorkspaceAutomaticUpdates(ctx, ws.ID, sdk.UpdateWorkspaceAutomaticUpdatesRequest{AutomaticUpdates: want}))
		start := time.Now()
		_, err := owner.Client.Workspaces(ctx, "", 0, 0)
		require.NoError(b, err)
		lists = append(lists, time.Since(start))
		awaitAll(b, watches, want)
	}
	b.StopTimer()
	sort.Slice(lists, func(i, j int) bool { return lists[i] < lists[j] })
	b.ReportMetric(float64(lists[len(lists)/2].Microseconds())/1000, "list-p50-ms")
	b.ReportMetric(float64(lists[len(lists)-1].Microseconds())/1000, "list-max-ms")
	b.ReportMetric(float64(api.WatchReads(d.API)-reads)/float64(len(lists)), "reads/op")
}
