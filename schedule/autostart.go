package schedule

import "time"

// NextAutostart returns the first time after t that s fires on a day the
// template allows (the weekday in the schedule's zone), in UTC and whole
// microseconds. It reports false when no allowed time comes within a week.
func NextAutostart(t time.Time, s *Schedule, allowed Weekdays) (time.Time, bool) {
	for next := t; next.Sub(t) < 7*24*time.Hour; {
		next = s.Next(next)
		if next.IsZero() {
			break
		}
		if allowed.Has(next.Weekday()) {
			return next.UTC().Truncate(time.Microsecond), true
		}
	}
	return time.Time{}, false
}
