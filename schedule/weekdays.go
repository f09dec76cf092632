package schedule

import (
	"fmt"
	"strings"
	"time"
)

// Weekdays is a set of days of the week, one bit per time.Weekday.
type Weekdays uint8

// AllWeekdays holds every day.
const AllWeekdays Weekdays = 1<<7 - 1

// dayNames is the one weekday table, in the order Coder lists days:
// Monday first.
var dayNames = [...]struct {
	name string
	day  time.Weekday
}{
	{"monday", time.Monday}, {"tuesday", time.Tuesday}, {"wednesday", time.Wednesday},
	{"thursday", time.Thursday}, {"friday", time.Friday}, {"saturday", time.Saturday},
	{"sunday", time.Sunday},
}

// ParseWeekdays reads lowercase day names ("monday" … "sunday") as the
// templates' autostart and autostop requirements spell them.
func ParseWeekdays(names []string) (Weekdays, error) {
	var out Weekdays
	for _, n := range names {
		found := false
		for _, d := range dayNames {
			if strings.EqualFold(n, d.name) {
				out |= 1 << d.day
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("invalid day of week %q", n)
		}
	}
	return out, nil
}

// MustWeekdays is ParseWeekdays for names known to be valid; unknown names
// are ignored.
func MustWeekdays(names []string) Weekdays {
	var out Weekdays
	for _, n := range names {
		d, err := ParseWeekdays([]string{n})
		if err == nil {
			out |= d
		}
	}
	return out
}

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<d) != 0 }

// Names lists the days in Coder's order, Monday first; never nil.
func (w Weekdays) Names() []string {
	out := []string{}
	for _, d := range dayNames {
		if w.Has(d.day) {
			out = append(out, d.name)
		}
	}
	return out
}

// AutostartDays reads a template's autostart requirement: the days on
// which workspaces may autostart. No days listed means every day.
func AutostartDays(names []string) Weekdays {
	if len(names) == 0 {
		return AllWeekdays
	}
	return MustWeekdays(names)
}
