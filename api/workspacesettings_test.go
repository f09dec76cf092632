package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/schedule"
)

// settingsTemplate imports spec and makes it a template with the given
// default TTL (0 for none).
func settingsTemplate(ctx context.Context, t *testing.T, owner berthtest.Owner, name, spec string, ttlMillis int64) sdk.Template {
	t.Helper()
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, spec).ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	req := sdk.CreateTemplateRequest{Name: name, VersionID: v.ID}
	if ttlMillis > 0 {
		req.DefaultTTLMillis = &ttlMillis
	}
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, req)
	require.NoError(t, err)
	return tpl
}

// settingsWorkspace creates a workspace for user and waits for build 1.
func settingsWorkspace(ctx context.Context, t *testing.T, owner berthtest.Owner, user string, tpl sdk.Template, name string) sdk.Workspace {
	t.Helper()
	ws, err := owner.Client.CreateWorkspace(ctx, owner.OrganizationID, user, sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: name})
	require.NoError(t, err)
	b := berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	ws, err = owner.Client.Workspace(ctx, ws.ID)
	require.NoError(t, err)
	return ws
}

// rawCall sends a request with a raw body and returns the status and body.
func rawCall(ctx context.Context, t *testing.T, c *sdk.Client, method, path string, body []byte) (int, []byte) {
	t.Helper()
	var b any
	if body != nil {
		b = body
	}
	res, err := c.Request(ctx, method, path, b, sdk.WithHeader("Content-Type", "application/json"))
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, data
}

// bumped reads the workspace and checks its updated_at moved past *prev.
func bumped(ctx context.Context, t *testing.T, c *sdk.Client, id uuid.UUID, prev *time.Time) sdk.Workspace {
	t.Helper()
	ws, err := c.Workspace(ctx, id)
	require.NoError(t, err)
	require.True(t, ws.UpdatedAt.After(*prev), "updated_at %s not after %s", ws.UpdatedAt, *prev)
	*prev = ws.UpdatedAt
	return ws
}

func requireValidation(t *testing.T, e *sdk.Error, field, detail string) {
	t.Helper()
	require.Len(t, e.Response.Validations, 1, e.Error())
	require.Equal(t, field, e.Response.Validations[0].Field)
	if detail != "" {
		require.Equal(t, detail, e.Response.Validations[0].Detail)
	}
}

func TestWorkspaceSettingsUpdates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{API: api.Options{AllowWorkspaceRenames: true}})
	owner := d.CreateFirstUser(ctx)
	tpl := settingsTemplate(ctx, t, owner, "settings", workspaceSpec, 3600000)
	ws := settingsWorkspace(ctx, t, owner, "me", tpl, "dev1")
	settingsWorkspace(ctx, t, owner, "me", tpl, "dev2")
	c := owner.Client
	prev := ws.UpdatedAt

	t.Run("Rename", func(t *testing.T) {
		require.True(t, ws.AllowRenames)
		require.NoError(t, c.UpdateWorkspace(ctx, ws.ID, sdk.UpdateWorkspaceRequest{Name: "renamed"}))
		got := bumped(ctx, t, c, ws.ID, &prev)
		require.Equal(t, "renamed", got.Name)
		byName, err := c.WorkspaceByOwnerAndName(ctx, "me", "renamed")
		require.NoError(t, err)
		require.Equal(t, ws.ID, byName.ID)
		_, err = c.WorkspaceByOwnerAndName(ctx, "me", "dev1")
		requireStatus(t, err, http.StatusNotFound, "")

		// Unchanged and empty names change nothing.
		require.NoError(t, c.UpdateWorkspace(ctx, ws.ID, sdk.UpdateWorkspaceRequest{Name: "renamed"}))
		require.NoError(t, c.UpdateWorkspace(ctx, ws.ID, sdk.UpdateWorkspaceRequest{}))

		err = c.UpdateWorkspace(ctx, ws.ID, sdk.UpdateWorkspaceRequest{Name: "not valid!"})
		e := requireStatus(t, err, http.StatusBadRequest, "Validation failed.")
		requireValidation(t, e, "name", `Validation failed for tag "workspace_name" with value: "not valid!"`)
		err = c.UpdateWorkspace(ctx, ws.ID, sdk.UpdateWorkspaceRequest{Name: "new"})
		requireStatus(t, err, http.StatusBadRequest, "Validation failed.")

		err = c.UpdateWorkspace(ctx, ws.ID, sdk.UpdateWorkspaceRequest{Name: "dev2"})
		e = requireStatus(t, err, http.StatusConflict, `Workspace "dev2" already exists.`)
		requireValidation(t, e, "name", "This value is already in use and should be unique.")
		err = c.UpdateWorkspace(ctx, ws.ID, sdk.UpdateWorkspaceRequest{Name: "DEV2"})
		requireStatus(t, err, http.StatusConflict, `Workspace "DEV2" already exists.`)

		// The old name is free again.
		require.NoError(t, c.UpdateWorkspace(ctx, ws.ID, sdk.UpdateWorkspaceRequest{Name: "dev1"}))
		require.Equal(t, "dev1", bumped(ctx, t, c, ws.ID, &prev).Name)

		code, body := rawCall(ctx, t, c, http.MethodPatch, "/api/v2/workspaces/"+ws.ID.String(), []byte(`{"name":`))
		require.Equal(t, http.StatusBadRequest, code)
		require.Contains(t, string(body), "Request body must be valid JSON.")
	})

	t.Run("AutomaticUpdates", func(t *testing.T) {
		require.NoError(t, c.UpdateWorkspaceAutomaticUpdates(ctx, ws.ID, sdk.UpdateWorkspaceAutomaticUpdatesRequest{AutomaticUpdates: "always"}))
		require.Equal(t, sdk.AutomaticUpdatesAlways, bumped(ctx, t, c, ws.ID, &prev).AutomaticUpdates)
		for _, bad := range []sdk.AutomaticUpdates{"sometimes", ""} {
			err := c.UpdateWorkspaceAutomaticUpdates(ctx, ws.ID, sdk.UpdateWorkspaceAutomaticUpdatesRequest{AutomaticUpdates: bad})
			e := requireStatus(t, err, http.StatusBadRequest, "Invalid request")
			requireValidation(t, e, "automatic_updates", "must be always or never")
		}
		require.NoError(t, c.UpdateWorkspaceAutomaticUpdates(ctx, ws.ID, sdk.UpdateWorkspaceAutomaticUpdatesRequest{AutomaticUpdates: "never"}))
		require.Equal(t, sdk.AutomaticUpdatesNever, bumped(ctx, t, c, ws.ID, &prev).AutomaticUpdates)
	})

	t.Run("Autostart", func(t *testing.T) {
		for _, tc := range []struct {
			schedule string
			check    func(t *testing.T, next time.Time)
		}{
			{"CRON_TZ=Europe/Berlin 30 9 * * 1-5", func(t *testing.T, next time.Time) {
				berlin, err := time.LoadLocation("Europe/Berlin")
				require.NoError(t, err)
				local := next.In(berlin)
				require.Equal(t, []int{9, 30}, []int{local.Hour(), local.Minute()})
				require.NotContains(t, []time.Weekday{time.Saturday, time.Sunday}, local.Weekday())
			}},
			{"*/15 * * * *", func(t *testing.T, next time.Time) {
				require.Zero(t, next.Minute()%15)
				require.LessOrEqual(t, time.Until(next), 15*time.Minute)
			}},
			{"0 3 * * sun", func(t *testing.T, next time.Time) {
				require.Equal(t, time.Sunday, next.Weekday())
				require.Equal(t, []int{3, 0}, []int{next.Hour(), next.Minute()})
			}},
			{"5,10-12/2 22 * * MON,wed", func(t *testing.T, next time.Time) {
				require.Contains(t, []int{5, 10, 12}, next.Minute())
				require.Contains(t, []time.Weekday{time.Monday, time.Wednesday}, next.Weekday())
			}},
		} {
			before := time.Now()
			s := tc.schedule
			require.NoError(t, c.UpdateWorkspaceAutostart(ctx, ws.ID, sdk.UpdateWorkspaceAutostartRequest{Schedule: &s}))
			got := bumped(ctx, t, c, ws.ID, &prev)
			require.NotNil(t, got.AutostartSchedule)
			require.Equal(t, s, *got.AutostartSchedule)
			require.NotNil(t, got.NextStartAt, s)
			next := *got.NextStartAt
			require.Equal(t, time.UTC, next.Location())
			require.True(t, next.After(before), "%s: next %s is not after %s", s, next, before)
			require.Less(t, time.Until(next), 7*24*time.Hour+time.Minute, s)
			require.Zero(t, next.Second())
			requireNextStart(t, s, before, next)
			tc.check(t, next)
		}

		for _, bad := range []string{"bogus", "75 9 * * *", "0 24 * * *", "0 9 * * 8", "0 9 1 * *", "0 9 * * fri-mon", "*/0 9 * * *", "CRON_TZ=Nowhere/City 0 9 * * *"} {
			err := c.UpdateWorkspaceAutostart(ctx, ws.ID, sdk.UpdateWorkspaceAutostartRequest{Schedule: &bad})
			e := requireStatus(t, err, http.StatusBadRequest, "Invalid autostart schedule.")
			requireValidation(t, e, "schedule", "")
		}

		// Days the template's autostart requirement leaves out are skipped.
		_, err := c.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{
			DefaultTTLMillis: 3600000, AllowUserAutostart: true, AllowUserAutostop: true,
			AutostartRequirement: &sdk.TemplateAutostartRequirement{DaysOfWeek: []string{"saturday"}},
		})
		require.NoError(t, err)
		daily := "CRON_TZ=America/New_York 0 9 * * *"
		require.NoError(t, c.UpdateWorkspaceAutostart(ctx, ws.ID, sdk.UpdateWorkspaceAutostartRequest{Schedule: &daily}))
		got := bumped(ctx, t, c, ws.ID, &prev)
		require.NotNil(t, got.NextStartAt)
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		require.Equal(t, time.Saturday, got.NextStartAt.In(ny).Weekday())
		require.Equal(t, 9, got.NextStartAt.In(ny).Hour())
		require.Less(t, time.Until(*got.NextStartAt), 7*24*time.Hour)
		weekdays := "0 9 * * 1-5"
		require.NoError(t, c.UpdateWorkspaceAutostart(ctx, ws.ID, sdk.UpdateWorkspaceAutostartRequest{Schedule: &weekdays}))
		got = bumped(ctx, t, c, ws.ID, &prev)
		require.Equal(t, weekdays, *got.AutostartSchedule)
		require.Nil(t, got.NextStartAt, "the schedule never lands on an allowed day")
		_, err = c.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{
			DefaultTTLMillis: 3600000, AllowUserAutostart: true, AllowUserAutostop: true,
			AutostartRequirement: &sdk.TemplateAutostartRequirement{DaysOfWeek: []string{
				"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
			}},
		})
		require.NoError(t, err)

		// Empty and null disable autostart.
		empty := ""
		require.NoError(t, c.UpdateWorkspaceAutostart(ctx, ws.ID, sdk.UpdateWorkspaceAutostartRequest{Schedule: &empty}))
		got = bumped(ctx, t, c, ws.ID, &prev)
		require.Nil(t, got.AutostartSchedule)
		require.Nil(t, got.NextStartAt)
		s := "0 9 * * *"
		require.NoError(t, c.UpdateWorkspaceAutostart(ctx, ws.ID, sdk.UpdateWorkspaceAutostartRequest{Schedule: &s}))
		require.NotNil(t, bumped(ctx, t, c, ws.ID, &prev).NextStartAt)
		require.NoError(t, c.UpdateWorkspaceAutostart(ctx, ws.ID, sdk.UpdateWorkspaceAutostartRequest{}))
		got = bumped(ctx, t, c, ws.ID, &prev)
		require.Nil(t, got.AutostartSchedule)
		require.Nil(t, got.NextStartAt)
		code, body := rawCall(ctx, t, c, http.MethodGet, "/api/v2/workspaces/"+ws.ID.String(), nil)
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, string(body), `"next_start_at":null`)
	})

	t.Run("TTL", func(t *testing.T) {
		ttl := func(v int64) *int64 { return &v }
		for _, tc := range []struct {
			in, want int64
		}{
			{2 * 3600000, 2 * 3600000},
			{90000, 60000}, // truncated to whole minutes
			{30 * 24 * 3600000, 30 * 24 * 3600000},
		} {
			require.NoError(t, c.UpdateWorkspaceTTL(ctx, ws.ID, sdk.UpdateWorkspaceTTLRequest{TTLMillis: ttl(tc.in)}))
			got := bumped(ctx, t, c, ws.ID, &prev)
			require.NotNil(t, got.TTLMillis)
			require.Equal(t, tc.want, *got.TTLMillis)
		}
		for _, tc := range []struct {
			in     int64
			detail string
		}{
			{30000, "time until shutdown must be at least one minute"},
			{-60000, "time until shutdown must be at least one minute"},
			{30*24*3600000 + 60000, "time until shutdown must be less than 30 days"},
			{1 << 62, "time until shutdown must be less than 30 days"},
		} {
			err := c.UpdateWorkspaceTTL(ctx, ws.ID, sdk.UpdateWorkspaceTTLRequest{TTLMillis: ttl(tc.in)})
			e := requireStatus(t, err, http.StatusBadRequest, "Error updating workspace time until shutdown.")
			requireValidation(t, e, "ttl_ms", tc.detail)
		}

		// Disabling autostop clears the running build's deadline.
		require.NotNil(t, ws.LatestBuild.Deadline, "the template's TTL gave build 1 a deadline")
		require.NoError(t, c.UpdateWorkspaceTTL(ctx, ws.ID, sdk.UpdateWorkspaceTTLRequest{TTLMillis: ttl(0)}))
		got := bumped(ctx, t, c, ws.ID, &prev)
		require.Nil(t, got.TTLMillis)
		require.Nil(t, got.LatestBuild.Deadline)
		require.NoError(t, c.UpdateWorkspaceTTL(ctx, ws.ID, sdk.UpdateWorkspaceTTLRequest{TTLMillis: ttl(3600000)}))
		require.NoError(t, c.UpdateWorkspaceTTL(ctx, ws.ID, sdk.UpdateWorkspaceTTLRequest{}))
		require.Nil(t, bumped(ctx, t, c, ws.ID, &prev).TTLMillis)
	})

	t.Run("Favorite", func(t *testing.T) {
		require.False(t, ws.Favorite)
		for range 2 { // idempotent
			require.NoError(t, c.FavoriteWorkspace(ctx, ws.ID))
		}
		require.True(t, bumped(ctx, t, c, ws.ID, &prev).Favorite)
		list, err := c.Workspaces(ctx, "", 0, 0)
		require.NoError(t, err)
		for _, w := range list.Workspaces {
			require.Equal(t, w.ID == ws.ID, w.Favorite, w.Name)
		}
		for range 2 {
			require.NoError(t, c.UnfavoriteWorkspace(ctx, ws.ID))
		}
		require.False(t, bumped(ctx, t, c, ws.ID, &prev).Favorite)
	})

	t.Run("Usage", func(t *testing.T) {
		before, err := c.Workspace(ctx, ws.ID)
		require.NoError(t, err)
		path := "/api/v2/workspaces/" + ws.ID.String() + "/usage"
		code, body := rawCall(ctx, t, c, http.MethodPost, path, nil)
		require.Equal(t, http.StatusNoContent, code, string(body))
		require.Empty(t, body)
		got := bumped(ctx, t, c, ws.ID, &prev)
		require.True(t, got.LastUsedAt.After(before.LastUsedAt), "last_used_at %s not after %s", got.LastUsedAt, before.LastUsedAt)

		code, _ = rawCall(ctx, t, c, http.MethodPost, path, []byte(" \n"))
		require.Equal(t, http.StatusNoContent, code)
		require.NoError(t, c.PostWorkspaceUsage(ctx, ws.ID, sdk.PostWorkspaceUsageRequest{}))
		last := bumped(ctx, t, c, ws.ID, &prev).LastUsedAt
		require.False(t, last.Before(got.LastUsedAt))

		agentID := ws.LatestBuild.Resources[0].Agents[0].ID
		require.NoError(t, c.PostWorkspaceUsage(ctx, ws.ID, sdk.PostWorkspaceUsageRequest{AgentID: agentID, AppName: "ssh"}))
		bumped(ctx, t, c, ws.ID, &prev)

		err = c.PostWorkspaceUsage(ctx, ws.ID, sdk.PostWorkspaceUsageRequest{AppName: "vscode"})
		e := requireStatus(t, err, http.StatusBadRequest, "Invalid request")
		requireValidation(t, e, "agent_id", "must be set when app_name is set")
		err = c.PostWorkspaceUsage(ctx, ws.ID, sdk.PostWorkspaceUsageRequest{AgentID: agentID})
		e = requireStatus(t, err, http.StatusBadRequest, "Invalid request")
		requireValidation(t, e, "app_name", "must be set when agent_id is set")
		err = c.PostWorkspaceUsage(ctx, ws.ID, sdk.PostWorkspaceUsageRequest{AgentID: agentID, AppName: "emacs"})
		e = requireStatus(t, err, http.StatusBadRequest, "Invalid request")
		requireValidation(t, e, "app_name", "must be one of [vscode jetbrains reconnecting-pty ssh]")
		err = c.PostWorkspaceUsage(ctx, ws.ID, sdk.PostWorkspaceUsageRequest{AgentID: uuid.New(), AppName: "ssh"})
		requireStatus(t, err, http.StatusNotFound, "")
		code, body = rawCall(ctx, t, c, http.MethodPost, path, []byte(`{"agent_id":`))
		require.Equal(t, http.StatusBadRequest, code)
		require.Contains(t, string(body), "Request body must be valid JSON.")
	})
}

// requireNextStart checks that got is the schedule's first time after
// from (or the one after it, if that passed while the request was in
// flight). The schedule package's own tests pin the times down.
func requireNextStart(t *testing.T, spec string, from, got time.Time) {
	t.Helper()
	s, err := schedule.Weekly(spec)
	require.NoError(t, err)
	first := s.Next(from)
	if !first.Equal(got) {
		require.True(t, s.Next(first).Equal(got), "%s: next start %s, want %s", spec, got, first)
	}
}

func TestWorkspaceSettingsDormant(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, workspaceSpec).ID)
	week := int64(7 * 24 * 3600000)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{
		Name: "dormancy", VersionID: v.ID, TimeTilDormantAutoDeleteMillis: &week,
	})
	require.NoError(t, err)
	ws := settingsWorkspace(ctx, t, owner, "me", tpl, "sleepy")
	c := owner.Client
	prev := ws.UpdatedAt

	before := time.Now().Add(-time.Second)
	got, err := c.UpdateWorkspaceDormancy(ctx, ws.ID, sdk.UpdateWorkspaceDormancy{Dormant: true})
	require.NoError(t, err)
	require.Equal(t, ws.ID, got.ID)
	require.NotNil(t, got.DormantAt)
	require.True(t, got.DormantAt.After(before))
	require.NotNil(t, got.DeletingAt)
	require.Equal(t, got.DormantAt.Add(7*24*time.Hour), *got.DeletingAt)
	require.True(t, got.UpdatedAt.After(prev))
	require.Equal(t, got.DormantAt, bumped(ctx, t, c, ws.ID, &prev).DormantAt)

	// Already dormant: 304 with no body, nothing written.
	_, err = c.UpdateWorkspaceDormancy(ctx, ws.ID, sdk.UpdateWorkspaceDormancy{Dormant: true})
	require.ErrorIs(t, err, sdk.ErrNotModified)
	code, body := rawCall(ctx, t, c, http.MethodPut, "/api/v2/workspaces/"+ws.ID.String()+"/dormant", []byte(`{"dormant":true}`))
	require.Equal(t, http.StatusNotModified, code)
	require.Empty(t, body)
	same, err := c.Workspace(ctx, ws.ID)
	require.NoError(t, err)
	require.Equal(t, prev, same.UpdatedAt)

	got, err = c.UpdateWorkspaceDormancy(ctx, ws.ID, sdk.UpdateWorkspaceDormancy{Dormant: false})
	require.NoError(t, err)
	require.Nil(t, got.DormantAt)
	require.Nil(t, got.DeletingAt)
	require.True(t, got.LastUsedAt.After(ws.LastUsedAt), "waking counts as a use")
	bumped(ctx, t, c, ws.ID, &prev)
	code, body = rawCall(ctx, t, c, http.MethodPut, "/api/v2/workspaces/"+ws.ID.String()+"/dormant", []byte(`{"dormant":false}`))
	require.Equal(t, http.StatusNotModified, code)
	require.Empty(t, body)

	code, body = rawCall(ctx, t, c, http.MethodPut, "/api/v2/workspaces/"+ws.ID.String()+"/dormant", []byte(`nope`))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, string(body), "Request body must be valid JSON.")
}

func TestWorkspaceSettingsExtend(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	tpl := settingsTemplate(ctx, t, owner, "extend", workspaceSpec, 3600000)
	ws := settingsWorkspace(ctx, t, owner, "me", tpl, "ext")
	require.NotNil(t, ws.LatestBuild.Deadline)
	prev := ws.UpdatedAt
	path := "/api/v2/workspaces/" + ws.ID.String() + "/extend"

	extend := func(deadline time.Time) (int, sdk.Response) {
		t.Helper()
		res, err := c.Request(ctx, http.MethodPut, path, sdk.PutExtendWorkspaceRequest{Deadline: deadline})
		require.NoError(t, err)
		defer res.Body.Close()
		var out sdk.Response
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return res.StatusCode, out
	}

	want := time.Now().Add(3 * time.Hour).Round(time.Second).In(time.FixedZone("X", 2*3600))
	code, resp := extend(want)
	require.Equal(t, http.StatusOK, code, resp.Message)
	require.Equal(t, "Deadline updated to "+want.UTC().Format(time.RFC3339)+".", resp.Message)
	got := bumped(ctx, t, c, ws.ID, &prev)
	require.NotNil(t, got.LatestBuild.Deadline)
	require.True(t, want.Equal(*got.LatestBuild.Deadline), "%s != %s", want, got.LatestBuild.Deadline)
	require.True(t, got.LatestBuild.UpdatedAt.After(ws.LatestBuild.UpdatedAt))
	require.NoError(t, c.PutExtendWorkspace(ctx, ws.ID, sdk.PutExtendWorkspaceRequest{Deadline: time.Now().Add(time.Hour)}))

	for _, soon := range []time.Time{time.Now().Add(10 * time.Minute), time.Now().Add(-time.Hour), {}} {
		code, resp = extend(soon)
		require.Equal(t, http.StatusBadRequest, code)
		require.Equal(t, "Cannot extend workspace: new deadline must be at least 30 minutes in the future", resp.Message)
	}
	code, resp = extend(time.Now().Add(29*time.Minute + 30*time.Second))
	require.Equal(t, http.StatusOK, code, "29 minutes is enough: %s", resp.Message)
	code, body := rawCall(ctx, t, c, http.MethodPut, path, []byte(`{"deadline":"tomorrow"}`))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, string(body), "Request body must be valid JSON.")

	// No deadline: manual shutdown.
	require.NoError(t, c.UpdateWorkspaceTTL(ctx, ws.ID, sdk.UpdateWorkspaceTTLRequest{}))
	code, resp = extend(time.Now().Add(2 * time.Hour))
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, "Workspace shutdown is manual.", resp.Message)

	// A stopped workspace.
	stop, err := c.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "stop"})
	require.NoError(t, err)
	berthtest.WaitBuild(t, c, stop.ID)
	code, resp = extend(time.Now().Add(2 * time.Hour))
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, "Workspace must be started, current status: stop", resp.Message)

	// A start that is still running, then one that was canceled.
	hang := settingsTemplate(ctx, t, owner, "hang", `{"version":1,"steps":{"apply:start":{"outcome":"hang"}}}`, 3600000)
	busy, err := c.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: hang.ID, Name: "busy"})
	require.NoError(t, err)
	err = c.PutExtendWorkspace(ctx, busy.ID, sdk.PutExtendWorkspaceRequest{Deadline: time.Now().Add(2 * time.Hour)})
	requireStatus(t, err, http.StatusConflict, "Workspace is still building!")
	require.NoError(t, c.CancelWorkspaceBuild(ctx, busy.LatestBuild.ID, sdk.CancelWorkspaceBuildParams{}))
	b := berthtest.WaitBuild(t, c, busy.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobCanceled, b.Job.Status)
	err = c.PutExtendWorkspace(ctx, busy.ID, sdk.PutExtendWorkspaceRequest{Deadline: time.Now().Add(2 * time.Hour)})
	requireStatus(t, err, http.StatusConflict, "Workspace must be started, current status: canceled")
}

func TestWorkspaceSettingsResolveAutostart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	tpl := settingsTemplate(ctx, t, owner, "resolve", workspaceSpec, 0)
	ws := settingsWorkspace(ctx, t, owner, "me", tpl, "res")
	resolve := func() bool {
		t.Helper()
		r, err := c.ResolveAutostart(ctx, ws.ID)
		require.NoError(t, err)
		return r.ParameterMismatch
	}
	promote := func(spec string) {
		t.Helper()
		v := createVersion(ctx, t, owner, spec, func(r *sdk.CreateTemplateVersionRequest) { r.TemplateID = tpl.ID })
		v = berthtest.WaitJob(ctx, t, c, v.ID)
		require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
		require.NoError(t, c.UpdateActiveTemplateVersion(ctx, tpl.ID, sdk.UpdateActiveTemplateVersion{ID: v.ID}))
	}
	require.False(t, resolve(), "the latest build is on the active version")

	// The new active version adds a required parameter the build lacks.
	promote(strings.Replace(workspaceSpec, `"parameters": [`,
		`"parameters": [{"name": "zone", "type": "string", "required": true, "mutable": true},`, 1))
	require.False(t, resolve(), "automatic updates are off")
	_, err := c.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{RequireActiveVersion: true})
	require.NoError(t, err)
	require.True(t, resolve(), "the template requires the active version")
	_, err = c.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{})
	require.NoError(t, err)
	require.False(t, resolve())
	require.NoError(t, c.UpdateWorkspaceAutomaticUpdates(ctx, ws.ID, sdk.UpdateWorkspaceAutomaticUpdatesRequest{AutomaticUpdates: "always"}))
	require.True(t, resolve())

	// A previous value that is no longer valid is a mismatch too.
	promote(strings.Replace(workspaceSpec, `{"name": "Large", "value": "large"}`, `{"name": "Huge", "value": "huge"}`, 1))
	require.False(t, resolve(), "size=small is still an option")
	large := createVersion(ctx, t, owner, workspaceSpec, func(r *sdk.CreateTemplateVersionRequest) { r.TemplateID = tpl.ID })
	berthtest.WaitJob(ctx, t, c, large.ID)
	var b sdk.WorkspaceBuild
	b, err = c.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{
		Transition: "start", TemplateVersionID: large.ID, RichParameterValues: []sdk.WorkspaceBuildParameter{{Name: "size", Value: "large"}},
	})
	require.NoError(t, err)
	berthtest.WaitBuild(t, c, b.ID)
	require.True(t, resolve(), "size=large is not an option of the active version")

	// With a default for the new parameter nothing is missing.
	promote(strings.Replace(workspaceSpec, `"parameters": [`,
		`"parameters": [{"name": "zone", "type": "string", "default_value": "a", "mutable": true},`, 1))
	require.False(t, resolve())
}

func TestWorkspaceSettingsTimings(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	tpl := settingsTemplate(ctx, t, owner, "timings", workspaceSpec, 0)
	ws := settingsWorkspace(ctx, t, owner, "me", tpl, "timed")

	tm, err := c.WorkspaceTimings(ctx, ws.ID)
	require.NoError(t, err)
	var stages []string
	var kinds []sdk.TimingStage
	for i, p := range tm.ProvisionerTimings {
		stages = append(stages, p.Resource)
		kinds = append(kinds, p.Stage)
		require.Equal(t, ws.LatestBuild.Job.ID, p.JobID)
		require.Equal(t, "echo", p.Source)
		require.Equal(t, "start", p.Action)
		require.False(t, p.EndedAt.Before(p.StartedAt))
		if i > 0 {
			require.Equal(t, tm.ProvisionerTimings[i-1].EndedAt, p.StartedAt, "stages are contiguous")
		}
	}
	require.Equal(t, []string{"Setting up", "Planning Infrastructure", "Starting workspace", "Cleaning Up"}, stages)
	require.Equal(t, []sdk.TimingStage{"init", "plan", "apply", "apply"}, kinds)
	require.NotNil(t, ws.LatestBuild.Job.CompletedAt)
	require.Equal(t, *ws.LatestBuild.Job.CompletedAt, tm.ProvisionerTimings[3].EndedAt)
	logs, err := c.WorkspaceBuildLogsAfter(ctx, ws.LatestBuild.ID, 0)
	require.NoError(t, err)
	require.Equal(t, logs[0].CreatedAt, tm.ProvisionerTimings[0].StartedAt)

	code, body := rawCall(ctx, t, c, http.MethodGet, "/api/v2/workspaces/"+ws.ID.String()+"/timings", nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(body), `"agent_script_timings":[]`)
	require.Contains(t, string(body), `"agent_connection_timings":[]`)

	// While the build runs, the stage it is in is left out.
	hang := settingsTemplate(ctx, t, owner, "hang", `{"version":1,"steps":{"apply:start":{"outcome":"hang"}}}`, 0)
	busy, err := c.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: hang.ID, Name: "busy"})
	require.NoError(t, err)
	tm, err = c.WorkspaceTimings(ctx, busy.ID)
	require.NoError(t, err)
	require.NotNil(t, tm.ProvisionerTimings)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		logs, err := c.WorkspaceBuildLogsAfter(ctx, busy.LatestBuild.ID, 0)
		if assert.NoError(ct, err) && assert.NotEmpty(ct, logs) {
			assert.Equal(ct, "Starting workspace", logs[len(logs)-1].Stage)
		}
	}, 60*time.Second, 20*time.Millisecond)
	tm, err = c.WorkspaceTimings(ctx, busy.ID)
	require.NoError(t, err)
	stages = nil
	for _, p := range tm.ProvisionerTimings {
		stages = append(stages, p.Resource)
	}
	require.Equal(t, []string{"Setting up", "Planning Infrastructure"}, stages)
	require.NoError(t, c.CancelWorkspaceBuild(ctx, busy.LatestBuild.ID, sdk.CancelWorkspaceBuildParams{}))
	berthtest.WaitBuild(t, c, busy.LatestBuild.ID)
}

// TestWorkspaceSettingsAccess checks path resolution on every endpoint: bad
// UUID 400, unknown or another user's workspace 404, deleted 410; and that
// only the owner marks favorites.
func TestWorkspaceSettingsAccess(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{API: api.Options{AllowWorkspaceRenames: true}})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	tpl := settingsTemplate(ctx, t, owner, "access", workspaceSpec, 0)

	_, err := c.CreateUser(ctx, sdk.CreateUserRequest{
		Email: "m@example.com", Username: "member", Password: berthtest.OwnerPassword, LoginType: sdk.LoginTypePassword,
		OrganizationIDs: []uuid.UUID{owner.OrganizationID},
	})
	require.NoError(t, err)
	mc := d.Client()
	login, err := mc.LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "m@example.com", Password: berthtest.OwnerPassword})
	require.NoError(t, err)
	mc.SetSessionToken(login.SessionToken)

	mine := settingsWorkspace(ctx, t, owner, "me", tpl, "mine")
	theirs := settingsWorkspace(ctx, t, owner, "member", tpl, "theirs")
	gone := settingsWorkspace(ctx, t, owner, "me", tpl, "gone")
	del, err := c.CreateWorkspaceBuild(ctx, gone.ID, sdk.CreateWorkspaceBuildRequest{Transition: "delete"})
	require.NoError(t, err)
	berthtest.WaitBuild(t, c, del.ID)

	endpoints := []struct {
		method, suffix, body string
		want                 int // on the caller's own workspace
	}{
		{http.MethodPatch, "", `{"name":"x"}`, http.StatusNoContent},
		{http.MethodPut, "/autostart", `{"schedule":"0 9 * * *"}`, http.StatusNoContent},
		{http.MethodPut, "/autoupdates", `{"automatic_updates":"always"}`, http.StatusNoContent},
		{http.MethodPut, "/ttl", `{"ttl_ms":3600000}`, http.StatusNoContent},
		{http.MethodPut, "/dormant", `{"dormant":true}`, http.StatusOK},
		{http.MethodPut, "/extend", `{"deadline":"2099-01-01T00:00:00Z"}`, http.StatusConflict}, // no deadline
		{http.MethodPut, "/favorite", ``, http.StatusNoContent},
		{http.MethodDelete, "/favorite", ``, http.StatusNoContent},
		{http.MethodGet, "/resolve-autostart", ``, http.StatusOK},
		{http.MethodGet, "/timings", ``, http.StatusOK},
		{http.MethodPost, "/usage", ``, http.StatusNoContent},
	}
	errBody := func(data []byte) sdk.Response {
		var r sdk.Response
		require.NoError(t, json.Unmarshal(data, &r), string(data))
		return r
	}
	for _, e := range endpoints {
		name := e.method + " " + e.suffix
		var body []byte
		if e.body != "" {
			body = []byte(e.body)
		}
		code, data := rawCall(ctx, t, c, e.method, "/api/v2/workspaces/nope"+e.suffix, body)
		require.Equal(t, http.StatusBadRequest, code, name)
		require.Equal(t, `Invalid UUID "nope".`, errBody(data).Message, name)

		// Path parameters come first: a bad body does not matter.
		code, data = rawCall(ctx, t, c, e.method, "/api/v2/workspaces/"+uuid.NewString()+e.suffix, []byte("{"))
		require.Equal(t, http.StatusNotFound, code, name)
		require.Equal(t, "Resource not found or you do not have access to this resource", errBody(data).Message, name)

		code, _ = rawCall(ctx, t, mc, e.method, "/api/v2/workspaces/"+mine.ID.String()+e.suffix, body)
		require.Equal(t, http.StatusNotFound, code, name)

		code, data = rawCall(ctx, t, c, e.method, "/api/v2/workspaces/"+gone.ID.String()+e.suffix, body)
		require.Equal(t, http.StatusGone, code, name)
		require.Contains(t, errBody(data).Message, "was deleted", name)

		code, data = rawCall(ctx, t, c, e.method, "/api/v2/workspaces/"+mine.ID.String()+e.suffix, body)
		require.Equal(t, e.want, code, "%s: %s", name, data)
	}

	// The member manages their own workspace; the site owner may change it
	// but not mark it as a favorite.
	require.NoError(t, mc.UpdateWorkspaceTTL(ctx, theirs.ID, sdk.UpdateWorkspaceTTLRequest{}))
	require.NoError(t, mc.FavoriteWorkspace(ctx, theirs.ID))
	got, err := mc.Workspace(ctx, theirs.ID)
	require.NoError(t, err)
	require.True(t, got.Favorite)
	got, err = c.Workspace(ctx, theirs.ID)
	require.NoError(t, err)
	require.False(t, got.Favorite, "favorites are per user")
	require.NoError(t, c.UpdateWorkspaceAutomaticUpdates(ctx, theirs.ID, sdk.UpdateWorkspaceAutomaticUpdatesRequest{AutomaticUpdates: "always"}))
	err = c.FavoriteWorkspace(ctx, theirs.ID)
	requireStatus(t, err, http.StatusForbidden, "You can only favorite workspaces that you own.")
	err = c.UnfavoriteWorkspace(ctx, theirs.ID)
	requireStatus(t, err, http.StatusForbidden, "You can only un-favorite workspaces that you own.")
}

// TestWorkspaceSettingsWatch checks that settings changes wake /watch.
func TestWorkspaceSettingsWatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{API: api.Options{AllowWorkspaceRenames: true}})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	tpl := settingsTemplate(ctx, t, owner, "watch", workspaceSpec, 3600000)
	ws := settingsWorkspace(ctx, t, owner, "me", tpl, "watched")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := c.WatchWorkspace(wctx, ws.ID)
	require.NoError(t, err)
	next := func(cond func(sdk.Workspace) bool) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case w, ok := <-events:
				require.True(t, ok, "watch ended")
				if cond(w) {
					return
				}
			case <-timeout:
				t.Fatal("no matching watch event")
			}
		}
	}
	next(func(w sdk.Workspace) bool { return w.ID == ws.ID })

	require.NoError(t, c.UpdateWorkspace(ctx, ws.ID, sdk.UpdateWorkspaceRequest{Name: "watched2"}))
	next(func(w sdk.Workspace) bool { return w.Name == "watched2" })
	require.NoError(t, c.UpdateWorkspaceAutomaticUpdates(ctx, ws.ID, sdk.UpdateWorkspaceAutomaticUpdatesRequest{AutomaticUpdates: "always"}))
	next(func(w sdk.Workspace) bool { return w.AutomaticUpdates == sdk.AutomaticUpdatesAlways })
	s := "0 9 * * *"
	require.NoError(t, c.UpdateWorkspaceAutostart(ctx, ws.ID, sdk.UpdateWorkspaceAutostartRequest{Schedule: &s}))
	next(func(w sdk.Workspace) bool { return w.AutostartSchedule != nil && w.NextStartAt != nil })
	deadline := time.Now().Add(5 * time.Hour).Truncate(time.Second)
	require.NoError(t, c.PutExtendWorkspace(ctx, ws.ID, sdk.PutExtendWorkspaceRequest{Deadline: deadline}))
	next(func(w sdk.Workspace) bool {
		return w.LatestBuild.Deadline != nil && w.LatestBuild.Deadline.Equal(deadline)
	})
	require.NoError(t, c.UpdateWorkspaceTTL(ctx, ws.ID, sdk.UpdateWorkspaceTTLRequest{}))
	next(func(w sdk.Workspace) bool { return w.TTLMillis == nil && w.LatestBuild.Deadline == nil })
	require.NoError(t, c.FavoriteWorkspace(ctx, ws.ID))
	next(func(w sdk.Workspace) bool { return w.Favorite })
	_, err = c.UpdateWorkspaceDormancy(ctx, ws.ID, sdk.UpdateWorkspaceDormancy{Dormant: true})
	require.NoError(t, err)
	next(func(w sdk.Workspace) bool { return w.DormantAt != nil })
	before := ws.LastUsedAt
	require.NoError(t, c.PostWorkspaceUsage(ctx, ws.ID, sdk.PostWorkspaceUsageRequest{}))
	next(func(w sdk.Workspace) bool { return w.LastUsedAt.After(before) })
}
