package api_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// autobuildDeployment runs the lifecycle executor every 50 ms and has a
// template whose workspaces stop after an hour.
func autobuildDeployment(t *testing.T) (*berthtest.Deployment, berthtest.Owner, sdk.Template) {
	t.Helper()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{AutobuildInterval: 50 * time.Millisecond})
	owner := d.CreateFirstUser(ctx)
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, workspaceSpec).ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	ttl := int64(time.Hour / time.Millisecond)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "auto", VersionID: v.ID, DefaultTTLMillis: &ttl})
	require.NoError(t, err)
	return d, owner, tpl
}

// TestAutobuild runs the lifecycle executor against a workspace: a start
// past its deadline is stopped (autostop), a stopped workspace whose
// autostart time has come is started (autostart), and a due autostart of
// a running workspace only moves on to the next start time.
func TestAutobuild(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d, owner, tpl := autobuildDeployment(t)
	c := owner.Client
	ws, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "auto"})
	require.NoError(t, err)
	first := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, first.Job.Status, first.Job.Error)
	require.NotNil(t, first.Deadline)

	exec := func(query string, args ...any) {
		t.Helper()
		_, err := d.Store.DB().NewRaw(query, args...).Exec(ctx)
		require.NoError(t, err)
	}
	latest := func(ct *assert.CollectT) sdk.WorkspaceBuild {
		w, err := c.Workspace(ctx, ws.ID)
		require.NoError(ct, err)
		return w.LatestBuild
	}
	// waitLatest waits for build number n and for it to end, and checks
	// what started it.
	waitLatest := func(n int32, transition sdk.WorkspaceTransition, reason sdk.BuildReason) sdk.WorkspaceBuild {
		t.Helper()
		var b sdk.WorkspaceBuild
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			b = latest(ct)
			require.Equal(ct, n, b.BuildNumber)
			assert.False(ct, b.Job.Status.Active())
		}, time.Minute, 20*time.Millisecond)
		require.Equal(t, transition, b.Transition)
		require.Equal(t, reason, b.Reason)
		require.Equal(t, owner.UserID, b.InitiatorID, "lifecycle builds are initiated by the owner")
		require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
		return b
	}

	// Autostop: the deadline passes.
	exec("UPDATE workspace_builds SET deadline = now() - interval '1 second' WHERE id = ?", first.ID)
	stop := waitLatest(2, "stop", sdk.BuildReasonAutostop)
	require.Nil(t, stop.Deadline)

	// Autostart: a schedule whose next start has come.
	schedule := "CRON_TZ=UTC 30 9 * * *"
	require.NoError(t, c.UpdateWorkspaceAutostart(ctx, ws.ID, sdk.UpdateWorkspaceAutostartRequest{Schedule: &schedule}))
	exec("UPDATE workspaces SET next_start_at = now() - interval '1 second' WHERE id = ?", ws.ID)
	start := waitLatest(3, "start", sdk.BuildReasonAutostart)
	require.NotNil(t, start.Deadline, "an autostarted workspace gets its TTL again")
	got, err := c.Workspace(ctx, ws.ID)
	require.NoError(t, err)
	require.NotNil(t, got.NextStartAt)
	require.True(t, got.NextStartAt.After(time.Now()), "the next start moved on to the schedule's next time")
	require.Equal(t, 30, got.NextStartAt.Minute())

	// A due autostart of a running workspace builds nothing; the next
	// start time still moves on.
	exec("UPDATE workspaces SET next_start_at = now() - interval '1 second' WHERE id = ?", ws.ID)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		w, err := c.Workspace(ctx, ws.ID)
		require.NoError(ct, err)
		require.NotNil(ct, w.NextStartAt)
		assert.True(ct, w.NextStartAt.After(time.Now()))
	}, time.Minute, 20*time.Millisecond)
	builds, err := c.WorkspaceBuilds(ctx, ws.ID)
	require.NoError(t, err)
	require.Len(t, builds, 3)
	require.Equal(t, start.ID, builds[0].ID)
}

// TestAutostopSkipsWhatChanged: a workspace that is not running, is
// dormant, or was deleted is not stopped by its old deadline.
func TestAutostopSkipsWhatChanged(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d, owner, tpl := autobuildDeployment(t)
	c := owner.Client

	newWorkspace := func(name string) sdk.WorkspaceBuild {
		ws, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: name})
		require.NoError(t, err)
		b := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)
		require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
		return b
	}
	dormant := newWorkspace("dormant")
	_, err := c.UpdateWorkspaceDormancy(ctx, dormant.WorkspaceID, sdk.UpdateWorkspaceDormancy{Dormant: true})
	require.NoError(t, err)
	// A canary that is due as well: once it is stopped, the executor has
	// looked at the others too.
	canary := newWorkspace("canary")
	_, err = d.Store.DB().NewRaw("UPDATE workspace_builds SET deadline = now() - interval '1 second' WHERE id IN (?, ?)",
		dormant.ID, canary.ID).Exec(ctx)
	require.NoError(t, err)

	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		w, err := c.Workspace(ctx, canary.WorkspaceID)
		require.NoError(ct, err)
		assert.Equal(ct, sdk.WorkspaceTransition("stop"), w.LatestBuild.Transition)
	}, time.Minute, 20*time.Millisecond)
	builds, err := c.WorkspaceBuilds(ctx, dormant.WorkspaceID)
	require.NoError(t, err)
	require.Len(t, builds, 1, "a dormant workspace is left alone")
	require.NotEqual(t, uuid.Nil, builds[0].ID)
}
