package schedule_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/schedule"
)

func TestActivityBump(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	hour := time.Hour
	for _, tc := range []struct {
		name string
		in   schedule.Activity
		want time.Time // zero: unchanged
	}{
		{"bumped by the template's bump", schedule.Activity{Now: now, Deadline: now.Add(10 * time.Minute), Bump: hour}, now.Add(hour)},
		{"no autostop, no bump", schedule.Activity{Now: now, Bump: hour}, time.Time{}},
		{"no bump configured", schedule.Activity{Now: now, Deadline: now.Add(time.Minute)}, time.Time{}},
		{"never moves back", schedule.Activity{Now: now, Deadline: now.Add(3 * hour), Bump: hour}, time.Time{}},
		// Only once 5% of the bump has elapsed: 57 minutes left is not enough.
		{"too fresh to bump", schedule.Activity{Now: now, Deadline: now.Add(57 * time.Minute), Bump: hour}, time.Time{}},
		{"just enough elapsed", schedule.Activity{Now: now, Deadline: now.Add(57*time.Minute - time.Second), Bump: hour}, now.Add(hour)},
		{"capped by the max deadline", schedule.Activity{Now: now, Deadline: now.Add(10 * time.Minute), MaxDeadline: now.Add(30 * time.Minute), Bump: hour}, now.Add(30 * time.Minute)},
		{"at the max deadline already", schedule.Activity{Now: now, Deadline: now.Add(10 * time.Minute), MaxDeadline: now.Add(10 * time.Minute), Bump: hour}, time.Time{}},
		{"autostart within the bump: until autostart plus TTL", schedule.Activity{Now: now, Deadline: now.Add(10 * time.Minute), Bump: hour, NextAutostart: now.Add(30 * time.Minute), TTL: 8 * hour}, now.Add(30*time.Minute + 8*hour)},
		{"autostart beyond the bump", schedule.Activity{Now: now, Deadline: now.Add(10 * time.Minute), Bump: hour, NextAutostart: now.Add(2 * hour), TTL: 8 * hour}, now.Add(hour)},
		{"past autostart is ignored", schedule.Activity{Now: now, Deadline: now.Add(10 * time.Minute), Bump: hour, NextAutostart: now.Add(-time.Minute), TTL: 8 * hour}, now.Add(hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := schedule.ActivityBump(tc.in)
			require.Equal(t, !tc.want.IsZero(), ok, "got %s", got)
			require.True(t, tc.want.Equal(got), "got %s, want %s", got, tc.want)
		})
	}
}
