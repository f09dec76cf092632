package schedule_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/schedule"
)

func TestMaxDeadline(t *testing.T) {
	t.Parallel()
	utc := func(y int, m time.Month, d, h, min, s int) time.Time {
		return time.Date(y, m, d, h, min, s, 0, time.UTC)
	}
	ny := zone(t, "America/New_York")
	every := schedule.AllWeekdays
	days := schedule.MustWeekdays
	for _, tc := range []struct {
		name  string
		quiet string
		req   schedule.AutostopRequirement
		now   time.Time
		want  time.Time // zero: no max deadline
	}{
		{"no requirement", "CRON_TZ=UTC 0 0 * * *", schedule.AutostopRequirement{}, utc(2026, 5, 4, 10, 0, 0), time.Time{}},
		{"tonight's quiet hours", "CRON_TZ=UTC 0 0 * * *", schedule.AutostopRequirement{Days: every}, utc(2026, 5, 4, 10, 0, 0), utc(2026, 5, 5, 0, 0, 0)},
		// Edge of the one-hour leeway before the quiet hours.
		{"just over an hour before", "CRON_TZ=UTC 0 0 * * *", schedule.AutostopRequirement{Days: every}, utc(2026, 5, 4, 22, 59, 59), utc(2026, 5, 5, 0, 0, 0)},
		{"just under an hour before", "CRON_TZ=UTC 0 0 * * *", schedule.AutostopRequirement{Days: every}, utc(2026, 5, 4, 23, 0, 1), utc(2026, 5, 6, 0, 0, 0)},
		{"evening quiet hours, morning start", "CRON_TZ=UTC 0 22 * * *", schedule.AutostopRequirement{Days: every}, utc(2026, 5, 4, 8, 0, 0), utc(2026, 5, 4, 22, 0, 0)},
		{"evening quiet hours, started during them", "CRON_TZ=UTC 0 22 * * *", schedule.AutostopRequirement{Days: every}, utc(2026, 5, 4, 22, 30, 0), utc(2026, 5, 5, 22, 0, 0)},
		{"only Saturdays", "CRON_TZ=UTC 0 0 * * *", schedule.AutostopRequirement{Days: days([]string{"saturday"})}, utc(2026, 5, 4, 10, 0, 0), utc(2026, 5, 9, 0, 0, 0)},
		{"only Saturdays, on Friday night", "CRON_TZ=UTC 0 0 * * *", schedule.AutostopRequirement{Days: days([]string{"saturday"})}, utc(2026, 5, 8, 23, 30, 0), utc(2026, 5, 16, 0, 0, 0)},
		{"the quiet hours' zone decides the day", "CRON_TZ=America/New_York 0 0 * * *", schedule.AutostopRequirement{Days: days([]string{"saturday"})}, utc(2026, 5, 9, 2, 0, 0), time.Date(2026, 5, 9, 0, 0, 0, 0, ny).UTC()},
		// Every two weeks: weeks count from Monday 2 January 2023 (week 0).
		{"every 2 weeks, in an allowed week", "CRON_TZ=UTC 0 0 * * *", schedule.AutostopRequirement{Days: days([]string{"friday"}), Weeks: 2}, utc(2023, 1, 3, 12, 0, 0), utc(2023, 1, 6, 0, 0, 0)},
		{"every 2 weeks, in an odd week", "CRON_TZ=UTC 0 0 * * *", schedule.AutostopRequirement{Days: days([]string{"monday"}), Weeks: 2}, utc(2023, 1, 10, 12, 0, 0), utc(2023, 1, 16, 0, 0, 0)},
		{"every 2 weeks, past the allowed day", "CRON_TZ=UTC 0 0 * * *", schedule.AutostopRequirement{Days: days([]string{"monday"}), Weeks: 2}, utc(2023, 1, 3, 12, 0, 0), utc(2023, 1, 16, 0, 0, 0)},
		{"every 3 weeks, years later", "CRON_TZ=UTC 0 0 * * *", schedule.AutostopRequirement{Days: days([]string{"monday"}), Weeks: 3}, utc(2026, 5, 4, 12, 0, 0), utc(2026, 5, 25, 0, 0, 0)},
		// DST in New York: 1 November 2026 has 01:30 twice; the first counts.
		{"fall back", "CRON_TZ=America/New_York 30 1 * * *", schedule.AutostopRequirement{Days: days([]string{"sunday"})}, time.Date(2026, 10, 31, 12, 0, 0, 0, ny), utc(2026, 11, 1, 5, 30, 0)},
		// 8 March 2026 has no 02:30: the quiet hours come the next night.
		{"spring forward", "CRON_TZ=America/New_York 30 2 * * *", schedule.AutostopRequirement{Days: every}, time.Date(2026, 3, 7, 12, 0, 0, 0, ny), time.Date(2026, 3, 9, 2, 30, 0, 0, ny).UTC()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			quiet, err := schedule.Daily(tc.quiet)
			require.NoError(t, err)
			got, ok := schedule.MaxDeadline(tc.now, tc.req, quiet)
			require.Equal(t, !tc.want.IsZero(), ok, "got %s", got)
			require.True(t, tc.want.Equal(got), "got %s, want %s", got, tc.want)
			if ok {
				require.True(t, got.Sub(tc.now) >= time.Hour, "never less than an hour away")
			}
		})
	}
}
