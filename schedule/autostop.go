package schedule

import "time"

// AutostopRequirement is a template's rule that running workspaces stop,
// during their owner's quiet hours, on some days of the week, every Weeks
// weeks. No days means no requirement.
type AutostopRequirement struct {
	Days  Weekdays
	Weeks int64
}

// MaxWeeks is the longest autostop requirement period Coder accepts.
const MaxWeeks = 16

const (
	// requirementLeeway: a build this close to the quiet hours of the day
	// it would stop on moves on to the next allowed day, so it is never
	// stopped soon after it started.
	requirementLeeway = time.Hour
	// requirementBuffer is looked back from a day's midnight before asking
	// for the quiet hours' next time, so that quiet hours at midnight count
	// for that day.
	requirementBuffer = 15 * time.Minute
)

// requirementEpoch is the Monday the "every N weeks" count starts from, in
// loc: week 0 begins on 2 January 2023.
func requirementEpoch(loc *time.Location) time.Time {
	return time.Date(2023, time.January, 2, 0, 0, 0, 0, loc)
}

// MaxDeadline returns the latest a workspace started at now may run: the
// start of its owner's quiet hours (quiet, a daily schedule) on the first
// day the requirement names, in a week the requirement allows, whose quiet
// hours are at least an hour away. It reports false when the requirement
// names no days.
func MaxDeadline(now time.Time, req AutostopRequirement, quiet *Schedule) (time.Time, bool) {
	if req.Days&AllWeekdays == 0 || quiet == nil {
		return time.Time{}, false
	}
	now = now.In(quiet.Location())
	day := midnight(now.Add(requirementLeeway))
	// Today's quiet hours are too close, or over: start looking tomorrow.
	if quiet.Next(day.Add(-requirementBuffer)).Before(now.Add(requirementLeeway)) {
		day = nextMidnight(day)
	}
	for i := 0; i < 7*MaxWeeks+7 && !(req.Days.Has(day.Weekday()) && weekAllowed(day, req.Weeks)); i++ {
		day = nextMidnight(day)
	}
	from := day.Add(-requirementBuffer)
	if day.Before(now.Add(requirementLeeway)) {
		from = now.Add(requirementLeeway)
	}
	next := quiet.Next(from)
	if next.IsZero() {
		return time.Time{}, false
	}
	return next.UTC().Truncate(time.Microsecond), true
}

// weekAllowed reports whether day's week, counted in calendar days from
// the epoch in day's zone, is a multiple of weeks.
func weekAllowed(day time.Time, weeks int64) bool {
	epoch := requirementEpoch(day.Location())
	if weeks <= 1 || day.Before(epoch) {
		return true
	}
	// Count calendar days, not hours, so a DST change cannot shift a week.
	days := int64(day.YearDay() - epoch.YearDay())
	for y := epoch.Year(); y < day.Year(); y++ {
		days += int64(time.Date(y, time.December, 31, 0, 0, 0, 0, time.UTC).YearDay())
	}
	return (days/7)%weeks == 0
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

func nextMidnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
}
