package schedule

import "time"

// Activity is what an activity bump of a running workspace looks at.
type Activity struct {
	// Now is when the activity happened.
	Now time.Time
	// Deadline and MaxDeadline are the running start build's; a zero
	// Deadline means autostop is off and nothing is bumped.
	Deadline, MaxDeadline time.Time
	// Bump is the template's activity_bump (0: no bump).
	Bump time.Duration
	// NextAutostart is the workspace's next autostart (zero: none), and TTL
	// the time until shutdown an autostart would give it.
	NextAutostart time.Time
	TTL           time.Duration
}

// ActivityBump returns the deadline after activity, as Coder computes it:
// now plus the template's bump (or, when the next autostart falls within
// that bump, until the autostart plus the workspace's TTL), never earlier
// than the current deadline and never past the max deadline. To spare
// writes it moves only once 5% of the bump has elapsed. It reports false
// when the deadline stays.
func ActivityBump(a Activity) (time.Time, bool) {
	if a.Deadline.IsZero() || a.Bump <= 0 {
		return time.Time{}, false
	}
	interval := a.Bump
	if !a.NextAutostart.IsZero() && a.NextAutostart.After(a.Now) && a.Now.Add(a.Bump).After(a.NextAutostart) {
		interval = a.NextAutostart.Sub(a.Now) + a.TTL
	}
	if interval <= 0 || !a.Deadline.Add(-interval*95/100).Before(a.Now) {
		return time.Time{}, false
	}
	next := a.Now.Add(interval)
	if next.Before(a.Deadline) {
		next = a.Deadline
	}
	if !a.MaxDeadline.IsZero() && next.After(a.MaxDeadline) {
		next = a.MaxDeadline
	}
	next = next.UTC().Truncate(time.Microsecond)
	if !next.After(a.Deadline) {
		return time.Time{}, false
	}
	return next, true
}
