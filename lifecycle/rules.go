package lifecycle

import (
	"time"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/jobs"
)

// Facts are what the lifecycle rules read about a live workspace.
type Facts struct {
	DormantAt, DeletingAt *time.Time
	LastUsedAt            time.Time
	// AutostartSchedule is nil when autostart is off; NextStartAt is the
	// next autostart time.
	AutostartSchedule *string
	NextStartAt       *time.Time
	// OwnerStatus is active, dormant or suspended.
	OwnerStatus string
	// The latest build and its job.
	Transition     string
	Deadline       *time.Time
	JobStatus      string
	JobCompletedAt *time.Time
	// The template's settings; 0 turns a rule off.
	TimeTilDormant, TimeTilDormantAutoDelete, FailureTTL time.Duration
	AllowUserAutostart                                   bool
}

// FactsOf reads a lifecycle candidate's facts.
func FactsOf(c db.LifecycleCandidate) Facts {
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	return Facts{
		DormantAt: c.DormantAt, DeletingAt: c.DeletingAt, LastUsedAt: c.LastUsedAt,
		AutostartSchedule: c.AutostartSchedule, NextStartAt: c.NextStartAt, OwnerStatus: c.OwnerStatus,
		Transition: c.Transition, Deadline: c.Deadline, JobStatus: c.JobStatus, JobCompletedAt: c.JobCompletedAt,
		TimeTilDormant: ms(c.TimeTilDormantMillis), TimeTilDormantAutoDelete: ms(c.TimeTilDormantAutoDeleteMillis),
		FailureTTL: ms(c.FailureTTLMillis), AllowUserAutostart: c.AllowUserAutostart,
	}
}

// Action is what is due: a build (Transition and Reason, empty when
// none), the workspace becoming dormant, and the next autostart time
// moving on because it has come.
type Action struct {
	Transition   string
	Reason       string
	MarkDormant  bool
	AdvanceStart bool
}

// None reports whether nothing is due.
func (a Action) None() bool { return a.Transition == "" && !a.MarkDormant && !a.AdvanceStart }

// retryFailedDeleteAfter is how long a failed autodelete waits before the
// next attempt: builds are costly, retrying every pass is not productive.
const retryFailedDeleteAfter = 24 * time.Hour

// Decide applies the lifecycle rules to a workspace at now, in Coder's
// order; the first that applies builds:
//
//   - autostop: a successful start past its deadline, or whose owner is
//     suspended, stops (reason autostop); dormant workspaces are left;
//   - autostart: when the next autostart time has come, a successfully
//     stopped workspace of an active owner starts (autostart) if the
//     template allows autostart and the workspace is not dormant; the
//     time moves on in any case;
//   - failure TTL: a start that failed longer than the template's
//     failure_ttl ago stops (failedstop);
//   - dormancy: a workspace unused for longer than the template's
//     time_til_dormant becomes dormant, and stops (dormancy) if its latest
//     build is a start;
//   - autodelete: a dormant workspace past its deleting_at is deleted
//     (autodelete); a failed autodelete is retried after a day.
//
// Nothing builds while the latest build's job is still active.
func Decide(f Facts, now time.Time) Action {
	var a Action
	a.AdvanceStart = f.NextStartAt != nil && !now.Before(*f.NextStartAt)
	active := f.JobCompletedAt == nil
	succeeded := f.JobStatus == db.JobSucceeded
	failed := f.JobStatus == db.JobFailed
	dormant := f.DormantAt != nil
	switch {
	case active:
	case f.Transition == jobs.TransitionStart && succeeded && !dormant &&
		(f.OwnerStatus == "suspended" || f.Deadline != nil && !now.Before(*f.Deadline)):
		a.Transition, a.Reason = jobs.TransitionStop, jobs.ReasonAutostop
	case a.AdvanceStart && f.Transition == jobs.TransitionStop && succeeded && !dormant &&
		f.OwnerStatus == "active" && f.AllowUserAutostart && f.AutostartSchedule != nil:
		a.Transition, a.Reason = jobs.TransitionStart, jobs.ReasonAutostart
	case f.FailureTTL > 0 && f.Transition == jobs.TransitionStart && failed && now.Sub(*f.JobCompletedAt) > f.FailureTTL:
		a.Transition, a.Reason = jobs.TransitionStop, jobs.ReasonFailedStop
	case !dormant && f.TimeTilDormant > 0 && now.Sub(f.LastUsedAt) > f.TimeTilDormant:
		a.MarkDormant = true
		if f.Transition == jobs.TransitionStart {
			a.Transition, a.Reason = jobs.TransitionStop, jobs.ReasonDormancy
		}
	case dormant && f.DeletingAt != nil && f.TimeTilDormantAutoDelete > 0 && now.After(*f.DeletingAt):
		if f.Transition == jobs.TransitionDelete && failed && now.Sub(*f.JobCompletedAt) <= retryFailedDeleteAfter {
			break
		}
		a.Transition, a.Reason = jobs.TransitionDelete, jobs.ReasonAutodelete
	}
	return a
}
