package api_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

const workspaceSpec = `{"version": 1,
 "parameters": [{"name": "size", "type": "string", "default_value": "small", "mutable": true,
                 "options": [{"name": "Small", "value": "small"}, {"name": "Large", "value": "large"}]},
                {"name": "region", "type": "string", "default_value": "eu", "mutable": false}],
 "resources": [{"name": "dev", "type": "echo_instance", "transitions": ["start"],
                "metadata": [{"key": "size", "value": "${param:size}"}],
                "agents": [{"name": "main", "operating_system": "linux", "architecture": "amd64"}]},
               {"name": "home", "type": "echo_volume", "transitions": ["start", "stop"]}],
 "steps": {"apply:start": {"logs": [{"output": "booting ${workspace_name}"}], "state": "started"},
           "apply:stop": {"state": "stopped"}}}`

func TestWorkspaceLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, workspaceSpec).ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	ttl := int64(3600000)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "ws", VersionID: v.ID, DefaultTTLMillis: &ttl})
	require.NoError(t, err)

	ws, err := owner.Client.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{
		TemplateID: tpl.ID, Name: "dev1", RichParameterValues: []sdk.WorkspaceBuildParameter{{Name: "size", Value: "large"}},
	})
	require.NoError(t, err)
	require.Equal(t, "dev1", ws.Name)
	require.Equal(t, "owner", ws.OwnerName)
	require.Equal(t, int32(1), ws.LatestBuild.BuildNumber)
	require.Equal(t, sdk.WorkspaceTransition("start"), ws.LatestBuild.Transition)
	require.Equal(t, "ws", ws.TemplateName)
	require.False(t, ws.Outdated)
	require.Equal(t, sdk.AutomaticUpdates("never"), ws.AutomaticUpdates)

	b := berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	require.Equal(t, sdk.WorkspaceStatus("running"), b.Status)
	require.NotNil(t, b.Deadline, "a start with a TTL has a deadline: %+v", b)
	require.Len(t, b.Resources, 2)
	params, err := owner.Client.WorkspaceBuildParameters(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, []sdk.WorkspaceBuildParameter{{Name: "region", Value: "eu"}, {Name: "size", Value: "large"}}, params)
	state, err := owner.Client.WorkspaceBuildState(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, "started", string(state))
	logs, err := owner.Client.WorkspaceBuildLogsAfter(ctx, b.ID, 0)
	require.NoError(t, err)
	require.Contains(t, outputs(logs), "booting dev1")
	var stages []string
	for _, l := range logs {
		if l.Source == sdk.LogSourceProvisionerDaemon && l.Output == "" {
			stages = append(stages, l.Stage)
		}
	}
	require.Equal(t, []string{"Setting up", "Planning Infrastructure", "Starting workspace", "Cleaning Up"}, stages)

	// The immutable parameter cannot change.
	_, err = owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{
		Transition: "start", RichParameterValues: []sdk.WorkspaceBuildParameter{{Name: "region", Value: "us"}},
	})
	requireStatus(t, err, http.StatusBadRequest, `Parameter "region" is not mutable, so it can't be updated after creating a workspace.`)
	_, err = owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{
		Transition: "start", RichParameterValues: []sdk.WorkspaceBuildParameter{{Name: "size", Value: "huge"}},
	})
	requireStatus(t, err, http.StatusBadRequest, `Unable to validate parameter "size"`)

	stop, err := owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "stop"})
	require.NoError(t, err)
	require.Equal(t, int32(2), stop.BuildNumber)
	stop = berthtest.WaitBuild(t, owner.Client, stop.ID)
	require.Equal(t, sdk.WorkspaceStatus("stopped"), stop.Status)
	require.Nil(t, stop.Deadline)
	params, err = owner.Client.WorkspaceBuildParameters(ctx, stop.ID)
	require.NoError(t, err)
	require.Equal(t, "large", params[1].Value, "values carry over from the previous build")

	start, err := owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "start"})
	require.NoError(t, err)
	start = berthtest.WaitBuild(t, owner.Client, start.ID)
	require.Equal(t, sdk.WorkspaceStatus("running"), start.Status)

	byNumber, err := owner.Client.WorkspaceBuildByNumber(ctx, "owner", "dev1", "2")
	require.NoError(t, err)
	require.Equal(t, stop.ID, byNumber.ID)
	_, err = owner.Client.WorkspaceBuildByNumber(ctx, "owner", "dev1", "x")
	requireStatus(t, err, http.StatusBadRequest, "Failed to parse build number as integer.")
	_, err = owner.Client.WorkspaceBuildByNumber(ctx, "owner", "dev1", "9")
	requireStatus(t, err, http.StatusNotFound, `Workspace "dev1" Build 9 does not exist.`)
	builds, err := owner.Client.WorkspaceBuilds(ctx, ws.ID)
	require.NoError(t, err)
	require.Len(t, builds, 3)
	require.Equal(t, int32(3), builds[0].BuildNumber)

	got, err := owner.Client.WorkspaceByOwnerAndName(ctx, "me", "dev1")
	require.NoError(t, err)
	require.Equal(t, ws.ID, got.ID)
	require.Equal(t, int32(3), got.LatestBuild.BuildNumber)

	_, err = owner.Client.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "dev1"})
	requireStatus(t, err, http.StatusConflict, `Workspace "dev1" already exists.`)
	err = owner.Client.DeleteTemplate(ctx, tpl.ID)
	requireStatus(t, err, http.StatusBadRequest, "All workspaces must be deleted before a template can be removed.")

	del, err := owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "delete"})
	require.NoError(t, err)
	del = berthtest.WaitBuild(t, owner.Client, del.ID)
	require.Equal(t, sdk.WorkspaceStatus("deleted"), del.Status)
	_, err = owner.Client.Workspace(ctx, ws.ID)
	requireStatus(t, err, http.StatusGone, "")
	gone, err := owner.Client.Workspace(ctx, ws.ID, sdk.WithQueryParam("include_deleted", "true"))
	require.NoError(t, err)
	require.Equal(t, ws.ID, gone.ID)
	_, err = owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "start"})
	requireStatus(t, err, http.StatusConflict, "Cannot start a deleted workspace!")

	// The template's build times come from the successful builds.
	stats := func(got sdk.Template) {
		t.Helper()
		s := got.BuildTimeStats
		for _, ts := range []sdk.TransitionStats{s.Start, s.Stop, s.Delete} {
			require.NotNil(t, ts.P50)
			require.NotNil(t, ts.P95)
			require.GreaterOrEqual(t, *ts.P95, *ts.P50)
		}
	}
	got2, err := owner.Client.Template(ctx, tpl.ID)
	require.NoError(t, err)
	stats(got2)
	list, err := owner.Client.Templates(ctx, "")
	require.NoError(t, err)
	stats(list[0])
	require.NoError(t, owner.Client.DeleteTemplate(ctx, tpl.ID))
}

func TestWorkspaceBuildConcurrencyAndCancel(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	d.StartWorker(nil)
	spec := `{"version":1,"steps":{"apply:start":{"outcome":"hang"}}}`
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, spec).ID)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "hang", VersionID: v.ID})
	require.NoError(t, err)
	ws, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "busy"})
	require.NoError(t, err)

	// 20 concurrent starts while build 1 is active: all 409.
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "start"})
			code := http.StatusCreated
			if e, ok := sdk.AsError(err); ok {
				code = e.StatusCode()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Equal(t, map[int]int{http.StatusConflict: 20}, codes)

	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		b, err := owner.Client.WorkspaceBuild(ctx, ws.LatestBuild.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobRunning, b.Job.Status)
	}, 30*time.Second, 20*time.Millisecond)
	err = owner.Client.CancelWorkspaceBuild(ctx, ws.LatestBuild.ID, sdk.CancelWorkspaceBuildParams{ExpectStatus: "pending"})
	requireStatus(t, err, http.StatusPreconditionFailed, "Job is not in the expected state.")
	require.NoError(t, owner.Client.CancelWorkspaceBuild(ctx, ws.LatestBuild.ID, sdk.CancelWorkspaceBuildParams{ExpectStatus: "running"}))
	b := berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobCanceled, b.Job.Status)
	require.Equal(t, sdk.WorkspaceStatus("canceled"), b.Status)

	// Now exactly one of 20 concurrent starts wins (its apply hangs, so it
	// stays active while the others arrive).
	codes = map[int]int{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "start"})
			code := http.StatusCreated
			if e, ok := sdk.AsError(err); ok {
				code = e.StatusCode()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: 19}, codes)

	// With no worker online, an orphan delete completes at once.
	other, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "orphan"})
	require.NoError(t, err)
	require.NoError(t, owner.Client.CancelWorkspaceBuild(ctx, other.LatestBuild.ID, sdk.CancelWorkspaceBuildParams{}))
	berthtest.WaitBuild(t, owner.Client, other.LatestBuild.ID)
	_, err = owner.Client.CreateWorkspaceBuild(ctx, other.ID, sdk.CreateWorkspaceBuildRequest{Transition: "start", Orphan: true})
	requireStatus(t, err, http.StatusBadRequest, "Orphan is only permitted when deleting a workspace.")
	_, err = owner.Client.CreateWorkspaceBuild(ctx, other.ID, sdk.CreateWorkspaceBuildRequest{Transition: "delete", Orphan: true})
	require.NoError(t, err)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		_, err := owner.Client.Workspace(ctx, other.ID)
		e, ok := sdk.AsError(err)
		assert.True(ct, ok && e.StatusCode() == http.StatusGone)
	}, 60*time.Second, 20*time.Millisecond)
}

// TestWorkspaceBuildCancelPending cancels a build no worker has taken: it
// ends canceled at once, never runs, and the workspace can build again.
func TestWorkspaceBuildCancelPending(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, workspaceSpec).ID)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "pending", VersionID: v.ID})
	require.NoError(t, err)
	ws, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "queued"})
	require.NoError(t, err)
	berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)

	// Route the next build to a tag set no worker has, so it stays pending.
	_, err = d.DB.ExecContext(ctx, `UPDATE provisioner_jobs SET tags = '{"scope":"organization","owner":"","pool":"none"}'::jsonb, task_queue = 'nobody' WHERE id = ?`, v.Job.ID)
	require.NoError(t, err)
	stop, err := owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "stop"})
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobPending, stop.Job.Status)
	require.Equal(t, sdk.WorkspaceStatus("pending"), stop.Status)
	require.Equal(t, 0, stop.MatchedProvisioners.Available)

	require.NoError(t, owner.Client.CancelWorkspaceBuild(ctx, stop.ID, sdk.CancelWorkspaceBuildParams{ExpectStatus: "pending"}))
	got, err := owner.Client.WorkspaceBuild(ctx, stop.ID)
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobCanceled, got.Job.Status, "a pending build is canceled at once")
	require.Nil(t, got.Job.StartedAt)
	err = owner.Client.CancelWorkspaceBuild(ctx, stop.ID, sdk.CancelWorkspaceBuildParams{})
	requireStatus(t, err, http.StatusBadRequest, "Job has already completed!")
	err = owner.Client.CancelWorkspaceBuild(ctx, stop.ID, sdk.CancelWorkspaceBuildParams{ExpectStatus: "bogus"})
	requireStatus(t, err, http.StatusBadRequest, `Invalid expect_status "bogus". Only 'running' or 'pending' are allowed.`)

	// The canceled build kept the running build's state; the next one runs.
	state, err := owner.Client.WorkspaceBuildState(ctx, got.ID)
	require.NoError(t, err)
	require.Equal(t, "started", string(state))
}
