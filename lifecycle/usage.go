package lifecycle

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/jobs"
	"github.com/berth-dev/berth/schedule"
)

// RecordUsage notes that a user used a workspace at now, as POST
// …/usage reports: its last use moves forward (it does not become
// dormant), the template counts the user for the day (DAUs, active users),
// and a running workspace's deadline is bumped by the template's
// activity_bump, never past its max_deadline (schedule.ActivityBump).
func RecordUsage(ctx context.Context, st *db.Store, workspaceID, userID uuid.UUID, now time.Time) error {
	return st.InTx(ctx, func(tx *db.Store) error {
		// The row lock orders the bump against a new build.
		ws, err := tx.LockWorkspace(ctx, workspaceID)
		if err != nil {
			return err
		}
		if err := tx.RecordWorkspaceUsage(ctx, ws.ID, ws.TemplateID, userID, now); err != nil {
			return err
		}
		b, err := tx.GetLatestWorkspaceBuild(ctx, ws.ID)
		if err != nil || b.Transition != jobs.TransitionStart || b.Deadline == nil {
			return err
		}
		job, err := tx.GetJobByID(ctx, b.JobID)
		if err != nil || job.Status != db.JobSucceeded {
			return err
		}
		tpl, err := tx.GetTemplateByIDAny(ctx, ws.TemplateID)
		if err != nil {
			return err
		}
		a := schedule.Activity{
			Now: now, Deadline: *b.Deadline, Bump: millis(tpl.ActivityBumpMillis), TTL: workspaceTTL(ws, tpl),
		}
		if b.MaxDeadline != nil {
			a.MaxDeadline = *b.MaxDeadline
		}
		if ws.NextStartAt != nil {
			a.NextAutostart = *ws.NextStartAt
		}
		deadline, ok := schedule.ActivityBump(a)
		if !ok {
			return nil
		}
		return tx.SetWorkspaceBuildDeadline(ctx, b, deadline)
	})
}

// workspaceTTL is the time until shutdown a start of ws gets: its own,
// or the template's default when users may not choose.
func workspaceTTL(ws *db.Workspace, tpl *db.Template) time.Duration {
	if !tpl.AllowUserAutostop {
		return millis(tpl.DefaultTTLMillis)
	}
	if ws.TTLMillis == nil {
		return 0
	}
	return millis(*ws.TTLMillis)
}

func millis(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
