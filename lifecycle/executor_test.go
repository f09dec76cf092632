package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

const us = time.Microsecond

// builds counts the builds a pass inserted.
func builds(s map[string]int) int {
	n := 0
	for _, v := range s {
		n += v
	}
	return n
}

func TestExecutorAutostop(t *testing.T) {
	t.Parallel()
	w := newWorld(t, berthtest.Options{})
	tpl := w.template(echoSpec, func(r *sdk.CreateTemplateRequest) { r.DefaultTTLMillis = ms(time.Hour) })
	b := w.workspace(tpl, "me", "stopme")
	require.NotNil(t, b.Deadline)
	deadline := *b.Deadline

	require.Zero(t, builds(w.pass(deadline.Add(-us)).Builds), "not due before the deadline")
	require.Equal(t, map[string]int{"autostop": 1}, w.pass(deadline).Builds, "due at the deadline")
	stop := w.latest(b.WorkspaceID)
	require.Equal(t, sdk.WorkspaceTransition("stop"), stop.Transition)
	require.Equal(t, sdk.BuildReasonAutostop, stop.Reason)
	require.Equal(t, w.owner.UserID, stop.InitiatorID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, stop.Job.Status, stop.Job.Error)
	require.Zero(t, builds(w.pass(deadline.Add(time.Hour)).Builds), "a stopped workspace is not stopped again")
}

// TestExecutorRun drives the executor's own ticker with the mock clock.
func TestExecutorRun(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w := newWorld(t, berthtest.Options{})
	tpl := w.template(echoSpec, func(r *sdk.CreateTemplateRequest) { r.DefaultTTLMillis = ms(time.Minute) })
	b := w.workspace(tpl, "me", "ticked")
	w.clock.Set(b.Deadline.Add(-10 * time.Second)).MustWait(ctx)

	trap := w.clock.Trap().TickerFunc("lifecycle")
	defer trap.Close()
	done := make(chan error, 1)
	runCtx, cancel := context.WithCancel(ctx)
	go func() { done <- w.exec.Run(runCtx) }()
	trap.MustWait(ctx).MustRelease(ctx)

	w.clock.Advance(15 * time.Second).MustWait(ctx) // one pass, past the deadline
	require.Equal(t, sdk.BuildReasonAutostop, w.latest(b.WorkspaceID).Reason)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

// TestExecutorAutostartDST: autostart in Berlin across both DST changes of
// 2027. On 31 October 02:30 happens twice: the workspace starts at the
// first and its next start is the next day's 02:30, not the repeat an hour
// later. On 28 March there is no 02:30: the next start skips that day.
func TestExecutorAutostartDST(t *testing.T) {
	t.Parallel()
	w := newWorld(t, berthtest.Options{})
	tpl := w.template(echoSpec, nil)
	b := w.workspace(tpl, "me", "early")
	w.build(b.WorkspaceID, "stop")
	spec := "CRON_TZ=Europe/Berlin 30 2 * * *"
	setNext := func(next time.Time) {
		t.Helper()
		require.NoError(t, w.d.Store.UpdateWorkspaceAutostart(t.Context(), b.WorkspaceID, &spec, &next))
	}

	first := time.Date(2027, 10, 31, 0, 30, 0, 0, time.UTC) // 02:30 CEST
	setNext(first)
	require.Zero(t, builds(w.pass(first.Add(-us)).Builds), "not due before its time")
	require.Equal(t, first, *w.row(b.WorkspaceID).NextStartAt)
	require.Equal(t, map[string]int{"autostart": 1}, w.pass(first).Builds)
	start := w.latest(b.WorkspaceID)
	require.Equal(t, sdk.BuildReasonAutostart, start.Reason)
	require.Equal(t, sdk.WorkspaceTransition("start"), start.Transition)
	require.Equal(t, time.Date(2027, 11, 1, 1, 30, 0, 0, time.UTC), *w.row(b.WorkspaceID).NextStartAt,
		"02:30 CET the next day, not the repeated 02:30 an hour later")

	// A running workspace's due start only moves on; 28 March has no 02:30.
	saturday := time.Date(2027, 3, 27, 1, 30, 0, 0, time.UTC) // 02:30 CET
	setNext(saturday)
	require.Zero(t, builds(w.pass(saturday).Builds))
	require.Equal(t, time.Date(2027, 3, 29, 0, 30, 0, 0, time.UTC), *w.row(b.WorkspaceID).NextStartAt, "Monday 02:30 CEST")
}

func TestExecutorFailureTTL(t *testing.T) {
	t.Parallel()
	w := newWorld(t, berthtest.Options{})
	tpl := w.template(`{"version": 1, "steps": {"apply:start": {"outcome": "fail", "error": "no capacity"}}}`,
		func(r *sdk.CreateTemplateRequest) { r.FailureTTLMillis = ms(time.Hour) })
	b := w.workspace(tpl, "me", "broken")
	require.Equal(t, sdk.ProvisionerJobFailed, b.Job.Status)
	failed := *b.Job.CompletedAt

	require.Zero(t, builds(w.pass(failed.Add(time.Hour)).Builds), "not due at the edge of the TTL")
	require.Equal(t, map[string]int{"failedstop": 1}, w.pass(failed.Add(time.Hour+us)).Builds)
	stop := w.latest(b.WorkspaceID)
	require.Equal(t, sdk.BuildReasonFailedStop, stop.Reason)
	require.Equal(t, sdk.ProvisionerJobSucceeded, stop.Job.Status, stop.Job.Error)
	require.Zero(t, builds(w.pass(failed.Add(3*time.Hour)).Builds))
}

// TestExecutorDormancy: an unused running workspace becomes dormant and
// stops, is deleted once deleting_at passes, and a failed delete is tried
// again a day later.
func TestExecutorDormancy(t *testing.T) {
	t.Parallel()
	w := newWorld(t, berthtest.Options{})
	ctx := t.Context()
	tpl := w.template(`{"version": 1, "steps": {"apply:delete": {"outcome": "fail", "error": "stuck volume"}}}`,
		func(r *sdk.CreateTemplateRequest) {
			r.TimeTilDormantMillis, r.TimeTilDormantAutoDeleteMillis = ms(time.Hour), ms(24*time.Hour)
		})
	b := w.workspace(tpl, "me", "idle")
	used := w.row(b.WorkspaceID).LastUsedAt

	require.Zero(t, builds(w.pass(used.Add(time.Hour)).Builds), "not dormant at the edge")
	now := used.Add(time.Hour + us)
	s := w.pass(now)
	require.Equal(t, map[string]int{"dormancy": 1}, s.Builds)
	require.Equal(t, 1, s.Dormant)
	stop := w.latest(b.WorkspaceID)
	require.Equal(t, sdk.BuildReasonDormancy, stop.Reason)
	ws := w.row(b.WorkspaceID)
	require.NotNil(t, ws.DormantAt)
	require.True(t, now.Equal(*ws.DormantAt))
	require.True(t, now.Add(24*time.Hour).Equal(*ws.DeletingAt))

	// A dormant workspace does not start until it is woken.
	_, err := w.owner.Client.CreateWorkspaceBuild(ctx, b.WorkspaceID, sdk.CreateWorkspaceBuildRequest{Transition: "start"})
	var apiErr *sdk.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 403, apiErr.StatusCode())

	deleting := *ws.DeletingAt
	require.Zero(t, builds(w.pass(deleting).Builds), "not deleted at deleting_at")
	tried := deleting.Add(us)
	require.Equal(t, map[string]int{"autodelete": 1}, w.pass(tried).Builds)
	del := w.latest(b.WorkspaceID)
	require.Equal(t, sdk.BuildReasonAutodelete, del.Reason)
	require.Equal(t, sdk.ProvisionerJobFailed, del.Job.Status)
	// The job ran on the real clock; date its end on the mock one.
	w.sql("UPDATE provisioner_jobs SET completed_at = ? WHERE id = ?", tried, del.Job.ID)
	require.Zero(t, builds(w.pass(tried.Add(24*time.Hour)).Builds), "a failed delete waits a day")
	require.Equal(t, map[string]int{"autodelete": 1}, w.pass(tried.Add(24*time.Hour+us)).Builds)
	require.Equal(t, int32(4), w.latest(b.WorkspaceID).BuildNumber)
}

// TestExecutorSuspendedOwner (issue 15 row 8): once an admin suspends a
// user (PUT /users/{user}/status/suspend), their stopped workspace does not
// autostart and their running one stops.
func TestExecutorSuspendedOwner(t *testing.T) {
	t.Parallel()
	w := newWorld(t, berthtest.Options{})
	ctx := t.Context()
	_, err := w.owner.Client.CreateUser(ctx, sdk.CreateUserRequest{
		Email: "s@example.com", Username: "sleeper", Password: berthtest.OwnerPassword, LoginType: sdk.LoginTypePassword,
		OrganizationIDs: []uuid.UUID{w.owner.OrganizationID},
	})
	require.NoError(t, err)
	tpl := w.template(echoSpec, nil)
	running := w.workspace(tpl, "sleeper", "running")
	stopped := w.workspace(tpl, "sleeper", "stopped")
	w.build(stopped.WorkspaceID, "stop")
	spec := "0 9 * * *"
	due := time.Now().Add(-time.Minute).UTC().Truncate(us)
	require.NoError(t, w.d.Store.UpdateWorkspaceAutostart(ctx, stopped.WorkspaceID, &spec, &due))
	_, err = w.owner.Client.UpdateUserStatus(ctx, "sleeper", sdk.UserStatusSuspended)
	require.NoError(t, err)

	s := w.pass(time.Now())
	require.Equal(t, map[string]int{"autostop": 1}, s.Builds)
	require.Equal(t, sdk.BuildReasonAutostop, w.latest(running.WorkspaceID).Reason)
	require.Equal(t, sdk.WorkspaceTransition("stop"), w.latest(stopped.WorkspaceID).Transition, "not autostarted")
	require.True(t, w.row(stopped.WorkspaceID).NextStartAt.After(due), "its start time moved on")
}
