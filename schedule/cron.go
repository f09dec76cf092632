// Package schedule holds berth's time rules, as pure functions of their
// inputs: Coder's weekly and daily cron schedules ("CRON_TZ=<zone> m h * *
// dow"), the days of the week templates name, the next allowed autostart,
// workspace TTLs, the autostop requirement with an owner's quiet hours
// (max_deadline), and the activity bump. Nothing here reads a clock, a
// database or the network: callers pass "now".
package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// parser reads the standard five cron fields; descriptors such as @daily
// and a seconds field are not accepted.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Schedule is a parsed Coder schedule: minute, hour and day of week in one
// time zone (UTC when the spec names none).
type Schedule struct {
	spec *cron.SpecSchedule
	// raw is the spec as given, kept for String.
	raw string
}

// Weekly parses "[CRON_TZ=<zone> ]<minute> <hour> * * <day-of-week>", the
// format of workspace autostart schedules. Lists, ranges, steps and the
// names sun…sat are accepted; day of month and month must be "*".
func Weekly(raw string) (*Schedule, error) {
	return parse(raw, false)
}

// Daily parses "[CRON_TZ=<zone> ]<minute> <hour> * * *", the format of
// quiet-hours schedules.
func Daily(raw string) (*Schedule, error) {
	return parse(raw, true)
}

func parse(raw string, daily bool) (*Schedule, error) {
	fields := strings.Fields(raw)
	if len(fields) > 0 && strings.HasPrefix(fields[0], "CRON_TZ=") {
		zone := strings.TrimPrefix(fields[0], "CRON_TZ=")
		if zone == "" || zone == "Local" {
			return nil, fmt.Errorf("invalid time zone %q", zone)
		}
		fields = fields[1:]
	} else {
		// Without a zone the cron library would use the server's.
		raw = "CRON_TZ=UTC " + raw
	}
	if len(fields) != 5 {
		return nil, errors.New("schedule must have 5 fields: minute hour day-of-month month day-of-week, with an optional CRON_TZ=<zone> prefix")
	}
	if fields[2] != "*" || fields[3] != "*" {
		return nil, errors.New("day-of-month and month must be *")
	}
	if daily && fields[4] != "*" {
		return nil, errors.New("day-of-month, month and day-of-week must be *")
	}
	parsed, err := parser.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse schedule: %w", err)
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok || spec.Location == time.Local {
		return nil, errors.New("schedule must be in a named time zone")
	}
	return &Schedule{spec: spec, raw: raw}, nil
}

// Location is the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.spec.Location }

// String returns the schedule with its CRON_TZ prefix.
func (s *Schedule) String() string { return s.raw }

// Next returns the first time the schedule fires strictly after t, in the
// schedule's zone, or the zero time if it never fires.
//
// Daylight saving time, in the schedule's zone: a wall-clock time the
// clocks skip (spring forward) does not fire that day; a wall-clock time
// that happens twice (fall back) fires once, the first time.
func (s *Schedule) Next(t time.Time) time.Time {
	loc := s.spec.Location
	next := s.spec.Next(t.In(loc))
	for i := 0; i <= 60 && !next.IsZero() && repeated(next); i++ {
		next = s.spec.Next(next)
	}
	return next.In(loc)
}

// repeated reports whether t is the second occurrence of its wall-clock
// time: the hour before it read the same, which only happens while the
// clocks go back.
func repeated(t time.Time) bool {
	earlier := t.Add(-time.Hour)
	return earlier.Hour() == t.Hour() && earlier.Minute() == t.Minute() && earlier.Day() == t.Day()
}

// TimeOfDay returns the one time of day a schedule fires ("15:04"), or
// false when its minute or hour field names more than one value.
func (s *Schedule) TimeOfDay() (string, bool) {
	fields := strings.Fields(s.raw)[1:] // after CRON_TZ=
	minute, errM := strconv.Atoi(fields[0])
	hour, errH := strconv.Atoi(fields[1])
	if errM != nil || errH != nil {
		return "", false
	}
	return fmt.Sprintf("%02d:%02d", hour, minute), true
}
