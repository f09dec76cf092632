package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/schedule"
)

// End-to-end lifecycle rules with short real intervals: the executor runs
// every 50 ms in the deployment, and the template settings are seconds.
// The mock-clock tests in package lifecycle pin the edges down.

func msp(d time.Duration) *int64 { v := d.Milliseconds(); return &v }

// lifecycleTemplate imports spec and creates a template with req's
// settings.
func lifecycleTemplate(ctx context.Context, t *testing.T, owner berthtest.Owner, spec string, req sdk.CreateTemplateRequest) sdk.Template {
	t.Helper()
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, spec).ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	req.VersionID = v.ID
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, req)
	require.NoError(t, err)
	return tpl
}

// waitReason waits until the workspace's latest build has the reason and
// has ended, and returns it.
func waitReason(t *testing.T, c *sdk.Client, id uuid.UUID, reason sdk.BuildReason) sdk.WorkspaceBuild {
	t.Helper()
	var b sdk.WorkspaceBuild
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		ws, err := c.Workspace(t.Context(), id, sdk.WithQueryParam("include_deleted", "true"))
		require.NoError(ct, err)
		b = ws.LatestBuild
		assert.Equal(ct, reason, b.Reason)
		assert.False(ct, b.Job.Status.Active())
	}, time.Minute, 20*time.Millisecond)
	return b
}

// memo reads a job workflow's memo.
func memo(t *testing.T, d *berthtest.Deployment, jobID uuid.UUID) map[string]any {
	t.Helper()
	desc, err := d.Temporal.DescribeWorkflowExecution(t.Context(), jobID.String(), "")
	require.NoError(t, err)
	out := map[string]any{}
	for k, p := range desc.GetWorkflowExecutionInfo().GetMemo().GetFields() {
		var v any
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &v))
		out[k] = v
	}
	// The one-line summary is the workflow's user metadata, shown by the UI.
	var summary string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(desc.GetExecutionConfig().GetUserMetadata().GetSummary(), &summary))
	out["summary"] = summary
	var details string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(desc.GetExecutionConfig().GetUserMetadata().GetDetails(), &details))
	out["details"] = details
	return out
}

// TestLifecycleDormancy: an unused workspace becomes dormant and stops
// (reason dormancy), must be woken before it starts, and is deleted once
// its deleting_at passes (reason autodelete). Lifecycle builds carry
// their reason in the API and in their workflow's memo and summary.
func TestLifecycleDormancy(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{AutobuildInterval: 50 * time.Millisecond})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	doomed := lifecycleTemplate(ctx, t, owner, workspaceSpec, sdk.CreateTemplateRequest{
		Name: "doomed", TimeTilDormantMillis: msp(time.Second), TimeTilDormantAutoDeleteMillis: msp(time.Second),
	})
	sleepy := lifecycleTemplate(ctx, t, owner, workspaceSpec, sdk.CreateTemplateRequest{
		Name: "sleepy", TimeTilDormantMillis: msp(time.Second),
	})
	gone := settingsWorkspace(ctx, t, owner, "me", doomed, "gone")
	nap := settingsWorkspace(ctx, t, owner, "me", sleepy, "nap")

	stop := waitReason(t, c, nap.ID, sdk.BuildReasonDormancy)
	require.Equal(t, sdk.WorkspaceTransition("stop"), stop.Transition)
	require.Equal(t, owner.UserID, stop.InitiatorID)
	m := memo(t, d, stop.Job.ID)
	require.Equal(t, "dormancy", m["reason"])
	require.Equal(t, fmt.Sprintf("stop owner/nap #2 · template sleepy (%s) · dormancy", stop.TemplateVersionName), m["summary"])
	require.Contains(t, m["details"], "**Workspace:** owner/nap `"+nap.ID.String()+"`", "the UI's details name the workspace and its ID")
	require.Contains(t, m["details"], "**Reason:** dormancy")
	ws, err := c.Workspace(ctx, nap.ID)
	require.NoError(t, err)
	require.NotNil(t, ws.DormantAt)
	require.Nil(t, ws.DeletingAt, "the template deletes nothing")

	_, err = c.CreateWorkspaceBuild(ctx, nap.ID, sdk.CreateWorkspaceBuildRequest{Transition: "start"})
	requireStatus(t, err, http.StatusForbidden, "You do not have permission to start this workspace.")
	ws, err = c.UpdateWorkspaceDormancy(ctx, nap.ID, sdk.UpdateWorkspaceDormancy{Dormant: false})
	require.NoError(t, err)
	require.Nil(t, ws.DormantAt)
	start, err := c.CreateWorkspaceBuild(ctx, nap.ID, sdk.CreateWorkspaceBuildRequest{Transition: "start"})
	require.NoError(t, err, "a woken workspace starts")
	berthtest.WaitBuild(t, c, start.ID)

	del := waitReason(t, c, gone.ID, sdk.BuildReasonAutodelete)
	require.Equal(t, sdk.WorkspaceTransition("delete"), del.Transition)
	require.Equal(t, sdk.ProvisionerJobSucceeded, del.Job.Status, del.Job.Error)
	require.Equal(t, "autodelete", memo(t, d, del.Job.ID)["reason"])
	_, err = c.Workspace(ctx, gone.ID)
	requireStatus(t, err, http.StatusGone, "")
	builds, err := c.WorkspaceBuilds(ctx, gone.ID)
	require.NoError(t, err)
	require.Len(t, builds, 3, "start, dormancy stop, autodelete")
	require.Equal(t, sdk.BuildReasonDormancy, builds[1].Reason)
}

// TestLifecycleFailureTTL: a failed start is stopped once the template's
// failure TTL passes (reason failedstop).
func TestLifecycleFailureTTL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{AutobuildInterval: 50 * time.Millisecond})
	owner := d.CreateFirstUser(ctx)
	tpl := lifecycleTemplate(ctx, t, owner, `{"version": 1, "steps": {"apply:start": {"outcome": "fail"}}}`,
		sdk.CreateTemplateRequest{Name: "flaky", FailureTTLMillis: msp(500 * time.Millisecond)})
	ws, err := owner.Client.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "flaky"})
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobFailed, berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID).Job.Status)
	stop := waitReason(t, owner.Client, ws.ID, sdk.BuildReasonFailedStop)
	require.Equal(t, sdk.WorkspaceTransition("stop"), stop.Transition)
	require.Equal(t, sdk.ProvisionerJobSucceeded, stop.Job.Status, stop.Job.Error)
}

// TestLifecycleMaxDeadline: with an autostop requirement, a start gets
// the owner's quiet hours as its max_deadline, its deadline never passes
// it (not by TTL, extend or activity), and template changes recompute it.
func TestLifecycleMaxDeadline(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	quiet, err := c.UpdateUserQuietHoursSchedule(ctx, "me", sdk.UpdateUserQuietHoursScheduleRequest{Schedule: "CRON_TZ=Europe/Berlin 0 3 * * *"})
	require.NoError(t, err)
	require.True(t, quiet.UserSet)
	require.Equal(t, "03:00", quiet.Time)
	require.Equal(t, "Europe/Berlin", quiet.Timezone)
	got, err := c.UserQuietHoursSchedule(ctx, "me")
	require.NoError(t, err)
	require.Equal(t, quiet, got)
	_, err = c.UpdateUserQuietHoursSchedule(ctx, "me", sdk.UpdateUserQuietHoursScheduleRequest{Schedule: "0 3 * * 1-5"})
	requireStatus(t, err, http.StatusBadRequest, "Invalid quiet hours schedule.")

	week := 7 * 24 * time.Hour
	tpl := lifecycleTemplate(ctx, t, owner, workspaceSpec, sdk.CreateTemplateRequest{
		Name: "bounded", DefaultTTLMillis: msp(week), ActivityBumpMillis: msp(3 * week),
		AutostopRequirement: &sdk.TemplateAutostopRequirement{DaysOfWeek: schedule.AllWeekdays.Names(), Weeks: 1},
	})
	ws := settingsWorkspace(ctx, t, owner, "me", tpl, "bounded")
	b := ws.LatestBuild
	require.NotNil(t, b.MaxDeadline)
	berlin, err := schedule.Daily("CRON_TZ=Europe/Berlin 0 3 * * *")
	require.NoError(t, err)
	want, ok := schedule.MaxDeadline(b.CreatedAt, schedule.AutostopRequirement{Days: schedule.AllWeekdays, Weeks: 1}, berlin)
	require.True(t, ok)
	require.True(t, want.Equal(*b.MaxDeadline), "max_deadline %s, want %s", b.MaxDeadline, want)
	require.Equal(t, b.MaxDeadline, b.Deadline, "a week of TTL is capped by the max deadline")

	err = c.PutExtendWorkspace(ctx, ws.ID, sdk.PutExtendWorkspaceRequest{Deadline: b.MaxDeadline.Add(time.Hour)})
	requireStatus(t, err, http.StatusBadRequest, "Cannot extend workspace: new deadline is greater than template allows")
	require.NoError(t, c.PostWorkspaceUsage(ctx, ws.ID, sdk.PostWorkspaceUsageRequest{}))
	after, err := c.Workspace(ctx, ws.ID)
	require.NoError(t, err)
	require.Equal(t, b.MaxDeadline, after.LatestBuild.Deadline, "activity never bumps past the max deadline")

	// Dropping the requirement recomputes running builds: no max deadline.
	_, err = c.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{
		DefaultTTLMillis: week.Milliseconds(), ActivityBumpMillis: (3 * week).Milliseconds(), AllowUserAutostart: true, AllowUserAutostop: true,
		AutostopRequirement: &sdk.TemplateAutostopRequirement{DaysOfWeek: []string{}},
	})
	require.NoError(t, err)
	after, err = c.Workspace(ctx, ws.ID)
	require.NoError(t, err)
	require.Nil(t, after.LatestBuild.MaxDeadline)
	require.Equal(t, b.Deadline, after.LatestBuild.Deadline, "the deadline stays")

	_, err = c.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{
		AutostopRequirement: &sdk.TemplateAutostopRequirement{DaysOfWeek: []string{"someday"}},
	})
	e := requireStatus(t, err, http.StatusBadRequest, "Invalid request to update template metadata!")
	require.Equal(t, "autostop_requirement.days_of_week", e.Response.Validations[0].Field)
}

// TestLifecycleActivityBump: usage bumps a running workspace's deadline
// by the template's activity bump.
func TestLifecycleActivityBump(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	tpl := lifecycleTemplate(ctx, t, owner, workspaceSpec, sdk.CreateTemplateRequest{
		Name: "bumpy", DefaultTTLMillis: msp(2 * time.Minute), ActivityBumpMillis: msp(time.Hour),
	})
	ws := settingsWorkspace(ctx, t, owner, "me", tpl, "bumpy")
	before := *ws.LatestBuild.Deadline
	require.Nil(t, ws.LatestBuild.MaxDeadline)
	posted := time.Now()
	require.NoError(t, c.PostWorkspaceUsage(ctx, ws.ID, sdk.PostWorkspaceUsageRequest{}))
	got, err := c.Workspace(ctx, ws.ID)
	require.NoError(t, err)
	require.NotNil(t, got.LatestBuild.Deadline)
	require.True(t, got.LatestBuild.Deadline.After(before), "bumped")
	require.False(t, got.LatestBuild.Deadline.Before(posted.Add(time.Hour)), "by the template's bump")
	require.True(t, got.LastUsedAt.After(ws.LastUsedAt))

	// Freshly bumped: another use within 5% of the bump moves nothing.
	require.NoError(t, c.PostWorkspaceUsage(ctx, ws.ID, sdk.PostWorkspaceUsageRequest{}))
	again, err := c.Workspace(ctx, ws.ID)
	require.NoError(t, err)
	require.Equal(t, got.LatestBuild.Deadline, again.LatestBuild.Deadline)
}

// TestLifecycleTemplateSettings: a template's TTL and autostart settings
// apply to its workspaces as Coder applies them, and PATCH's
// update_workspace_* flags re-date existing ones.
func TestLifecycleTemplateSettings(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	hour := time.Hour.Milliseconds()
	tpl := lifecycleTemplate(ctx, t, owner, workspaceSpec, sdk.CreateTemplateRequest{
		Name: "rules", DefaultTTLMillis: msp(time.Hour), TimeTilDormantAutoDeleteMillis: msp(7 * 24 * time.Hour),
	})
	// The template's default TTL unless the request says otherwise; 0 is off.
	dflt := settingsWorkspace(ctx, t, owner, "me", tpl, "dflt")
	require.Equal(t, hour, *dflt.TTLMillis)
	off, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "off", TTLMillis: msp(0)})
	require.NoError(t, err)
	require.Nil(t, off.TTLMillis)
	berthtest.WaitBuild(t, c, off.LatestBuild.ID)

	// Users may not choose: the template's default, always.
	_, err = c.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{
		DefaultTTLMillis: 2 * hour, TimeTilDormantAutoDeleteMillis: 7 * 24 * hour, AllowUserAutostart: false, AllowUserAutostop: false,
	})
	require.NoError(t, err)
	for _, id := range []uuid.UUID{dflt.ID, off.ID} {
		ws, err := c.Workspace(ctx, id)
		require.NoError(t, err)
		require.Equal(t, 2*hour, *ws.TTLMillis, "existing workspaces get the default")
	}
	forced, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "forced", TTLMillis: msp(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, 2*hour, *forced.TTLMillis)
	berthtest.WaitBuild(t, c, forced.LatestBuild.ID)
	err = c.UpdateWorkspaceTTL(ctx, forced.ID, sdk.UpdateWorkspaceTTLRequest{TTLMillis: msp(time.Minute)})
	requireStatus(t, err, http.StatusBadRequest, "Custom autostop TTL is not allowed for workspaces using this template.")
	spec := "0 9 * * *"
	err = c.UpdateWorkspaceAutostart(ctx, forced.ID, sdk.UpdateWorkspaceAutostartRequest{Schedule: &spec})
	requireStatus(t, err, http.StatusBadRequest, "Autostart is not allowed for workspaces using this template.")

	// Dormant workspaces' deletion follows time_til_dormant_autodelete.
	dormant, err := c.UpdateWorkspaceDormancy(ctx, dflt.ID, sdk.UpdateWorkspaceDormancy{Dormant: true})
	require.NoError(t, err)
	require.Equal(t, dormant.DormantAt.Add(7*24*time.Hour), *dormant.DeletingAt)
	base := sdk.UpdateTemplateMeta{DefaultTTLMillis: 2 * hour, TimeTilDormantAutoDeleteMillis: 24 * hour, AllowUserAutostart: true, AllowUserAutostop: true}
	_, err = c.UpdateTemplateMeta(ctx, tpl.ID, base)
	require.NoError(t, err)
	ws, err := c.Workspace(ctx, dflt.ID)
	require.NoError(t, err)
	require.Equal(t, *dormant.DormantAt, *ws.DormantAt)
	require.Equal(t, dormant.DormantAt.Add(24*time.Hour), *ws.DeletingAt, "re-dated from dormant_at")

	flags := base
	flags.TimeTilDormantAutoDeleteMillis = 48 * hour
	flags.UpdateWorkspaceDormantAt, flags.UpdateWorkspaceLastUsedAt = true, true
	before := time.Now()
	_, err = c.UpdateTemplateMeta(ctx, tpl.ID, flags)
	require.NoError(t, err)
	ws, err = c.Workspace(ctx, dflt.ID)
	require.NoError(t, err)
	require.True(t, ws.DormantAt.After(before), "dormancy restarts now")
	require.Equal(t, ws.DormantAt.Add(48*time.Hour), *ws.DeletingAt)
	other, err := c.Workspace(ctx, off.ID)
	require.NoError(t, err)
	require.True(t, other.LastUsedAt.After(before), "every workspace counts as used now")
	require.Nil(t, other.DormantAt)
}

// TestTemplateUsageFigures: DAUs, active users and workspace owners come
// from use (starts users ask for, usage posts), and a build costs the sum
// of its resources' daily_cost.
func TestTemplateUsageFigures(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	spec := `{"version": 1, "resources": [
		{"name": "vm", "type": "echo_instance", "transitions": ["start"], "daily_cost": 7},
		{"name": "disk", "type": "echo_volume", "transitions": ["start", "stop"], "daily_cost": 2}]}`
	tpl := lifecycleTemplate(ctx, t, owner, spec, sdk.CreateTemplateRequest{Name: "costly"})
	require.Zero(t, tpl.ActiveUserCount)
	require.Zero(t, tpl.WorkspaceOwnerCount)

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
	require.Equal(t, int32(9), mine.LatestBuild.DailyCost, "7 + 2")
	stop, err := c.CreateWorkspaceBuild(ctx, mine.ID, sdk.CreateWorkspaceBuildRequest{Transition: "stop"})
	require.NoError(t, err)
	require.Equal(t, int32(2), berthtest.WaitBuild(t, c, stop.ID).DailyCost, "only the disk stays")
	settingsWorkspace(ctx, t, owner, "me", tpl, "mine2")
	theirs := settingsWorkspace(ctx, t, owner, "member", tpl, "theirs")
	require.NoError(t, mc.PostWorkspaceUsage(ctx, theirs.ID, sdk.PostWorkspaceUsageRequest{}))

	got, err := c.Template(ctx, tpl.ID)
	require.NoError(t, err)
	require.Equal(t, 2, got.WorkspaceOwnerCount)
	require.Equal(t, 2, got.ActiveUserCount, "the owner started workspaces, the member posted usage")
	list, err := c.TemplatesByOrganization(ctx, owner.OrganizationID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, 2, list[0].ActiveUserCount)
	require.Equal(t, 2, list[0].WorkspaceOwnerCount)

	for _, offset := range []int{0, -12, 14} {
		daus, err := c.TemplateDAUs(ctx, tpl.ID, offset)
		require.NoError(t, err)
		require.Len(t, daus.Entries, 61)
		last := daus.Entries[60]
		require.Equal(t, time.Now().In(time.FixedZone("", offset*3600)).Format(time.DateOnly), last.Date)
		total := 0
		for _, e := range daus.Entries {
			total += e.Amount
		}
		// Usage is counted by the hour: near midnight in the offset's zone
		// the two users may fall on yesterday and today.
		require.GreaterOrEqual(t, total, 2, "offset %d", offset)
		require.LessOrEqual(t, last.Amount, 2)
	}

	// A deleted workspace's owner no longer counts.
	del, err := mc.CreateWorkspaceBuild(ctx, theirs.ID, sdk.CreateWorkspaceBuildRequest{Transition: "delete"})
	require.NoError(t, err)
	berthtest.WaitBuild(t, c, del.ID)
	got, err = c.Template(ctx, tpl.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.WorkspaceOwnerCount)
}
