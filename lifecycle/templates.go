package lifecycle

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/jobs"
	"github.com/berth-dev/berth/schedule"
)

// TemplateChange is a template's settings changing (PATCH
// /templates/{template}), with the request's flags for existing
// workspaces.
type TemplateChange struct {
	Old, New *db.Template
	// UpdateWorkspaceLastUsedAt marks every workspace used now, so a new
	// time_til_dormant does not make them dormant at once.
	UpdateWorkspaceLastUsedAt bool
	// UpdateWorkspaceDormantAt restarts the dormancy of dormant workspaces
	// now, which re-dates their deletion.
	UpdateWorkspaceDormantAt bool
	Now                      time.Time
	// QuietHours returns a user's quiet-hours schedule.
	QuietHours func(*db.User) *schedule.Schedule
}

// minMaxDeadlineNotice: a running workspace whose max deadline a template
// change pulls in gets at least this long before it stops.
const minMaxDeadlineNotice = 2 * time.Hour

// ApplyTemplateChange carries a template's new schedule settings over to
// its live workspaces, as Coder does, in the transaction that updates the
// template:
//   - dormant workspaces' deleting_at follows time_til_dormant_autodelete
//     (from now, with UpdateWorkspaceDormantAt);
//   - UpdateWorkspaceLastUsedAt marks every workspace used now;
//   - a template that stops letting users choose their TTL (or changes its
//     default while it does not) gives every workspace its default;
//   - a changed autostop requirement recomputes the max_deadline of running
//     workspaces from their start, never less than two hours away, and
//     caps their deadline by it;
//   - changed autostart days move every schedule's next start.
func ApplyTemplateChange(ctx context.Context, tx *db.Store, ch TemplateChange) error {
	old, tpl, now := ch.Old, ch.New, ch.Now
	if ch.UpdateWorkspaceDormantAt || old.TimeTilDormantAutoDeleteMillis != tpl.TimeTilDormantAutoDeleteMillis {
		var dormantAt *time.Time
		if ch.UpdateWorkspaceDormantAt {
			dormantAt = &now
		}
		if err := tx.RedateDormantWorkspaces(ctx, tpl.ID, dormantAt, millis(tpl.TimeTilDormantAutoDeleteMillis)); err != nil {
			return err
		}
	}
	if ch.UpdateWorkspaceLastUsedAt {
		if err := tx.TouchWorkspacesLastUsed(ctx, tpl.ID, now); err != nil {
			return err
		}
	}
	if !tpl.AllowUserAutostop && (old.AllowUserAutostop || old.DefaultTTLMillis != tpl.DefaultTTLMillis) {
		var ttl *int64
		if tpl.DefaultTTLMillis > 0 {
			ttl = &tpl.DefaultTTLMillis
		}
		if err := tx.SetWorkspacesTTL(ctx, tpl.ID, ttl); err != nil {
			return err
		}
	}
	if !slices.Equal(old.AutostopRequirementDaysOfWeek, tpl.AutostopRequirementDaysOfWeek) ||
		old.AutostopRequirementWeeks != tpl.AutostopRequirementWeeks {
		if err := redateMaxDeadlines(ctx, tx, tpl, now, ch.QuietHours); err != nil {
			return err
		}
	}
	if !slices.Equal(old.AutostartRequirementDaysOfWeek, tpl.AutostartRequirementDaysOfWeek) {
		ws, err := tx.GetAutostartWorkspacesByTemplate(ctx, tpl.ID)
		if err != nil {
			return err
		}
		for _, w := range ws {
			next, err := jobs.NextAutostart(tpl, *w.AutostartSchedule, now)
			if err != nil {
				next = nil
			}
			if err := tx.SetNextStart(ctx, w.ID, next); err != nil {
				return err
			}
		}
	}
	return nil
}

// redateMaxDeadlines recomputes the max deadline of the template's running
// workspaces.
func redateMaxDeadlines(ctx context.Context, tx *db.Store, tpl *db.Template, now time.Time, quietHours func(*db.User) *schedule.Schedule) error {
	running, err := tx.GetRunningBuildsByTemplate(ctx, tpl.ID)
	if err != nil || len(running) == 0 {
		return err
	}
	ids := make([]uuid.UUID, 0, len(running))
	for _, r := range running {
		ids = append(ids, r.OwnerID)
	}
	owners, err := tx.GetUsersByIDs(ctx, ids)
	if err != nil {
		return err
	}
	req := schedule.AutostopRequirement{Days: schedule.MustWeekdays(tpl.AutostopRequirementDaysOfWeek), Weeks: tpl.AutostopRequirementWeeks}
	for _, r := range running {
		var maxDeadline *time.Time
		if t, ok := schedule.MaxDeadline(r.CompletedAt, req, quietHours(owners[r.OwnerID])); ok {
			if earliest := now.Add(minMaxDeadlineNotice); t.Before(earliest) {
				t = earliest
			}
			maxDeadline = &t
		}
		deadline := r.Deadline
		if maxDeadline != nil && (deadline == nil || deadline.After(*maxDeadline)) {
			deadline = maxDeadline
		}
		if timesEqual(deadline, r.Deadline) && timesEqual(maxDeadline, r.MaxDeadline) {
			continue
		}
		if err := tx.SetWorkspaceBuildDeadlines(ctx, r.BuildID, deadline, maxDeadline); err != nil {
			return err
		}
	}
	return nil
}

func timesEqual(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}
