package schedule_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/schedule"
)

func TestNextAutostart(t *testing.T) {
	t.Parallel()
	ny := zone(t, "America/New_York")
	saturday := schedule.MustWeekdays([]string{"saturday"})
	for _, tc := range []struct {
		name    string
		spec    string
		allowed schedule.Weekdays
		from    time.Time
		want    time.Time // zero: none
	}{
		{"due later today", "30 9 * * *", schedule.AllWeekdays, time.Date(2026, 5, 4, 9, 29, 0, 0, time.UTC), time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)},
		{"at the time: the next one", "30 9 * * *", schedule.AllWeekdays, time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC), time.Date(2026, 5, 5, 9, 30, 0, 0, time.UTC)},
		{"skips days the template forbids", "CRON_TZ=America/New_York 0 9 * * *", saturday, time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC), time.Date(2026, 5, 9, 9, 0, 0, 0, ny)},
		{"the weekday is the schedule's", "CRON_TZ=America/New_York 0 22 * * *", saturday, time.Date(2026, 5, 9, 12, 0, 0, 0, time.UTC), time.Date(2026, 5, 9, 22, 0, 0, 0, ny)},
		{"never on an allowed day", "0 9 * * 1-5", saturday, time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC), time.Time{}},
		{"a week ahead", "0 9 * * mon", schedule.AllWeekdays, time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC), time.Date(2026, 5, 11, 9, 0, 0, 0, time.UTC)},
		{"DST: the next day when the time is skipped", "CRON_TZ=America/New_York 30 2 * * *", schedule.AllWeekdays, time.Date(2026, 3, 7, 12, 0, 0, 0, ny), time.Date(2026, 3, 7, 2, 30, 0, 0, ny).AddDate(0, 0, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := schedule.Weekly(tc.spec)
			require.NoError(t, err)
			got, ok := schedule.NextAutostart(tc.from, s, tc.allowed)
			require.Equal(t, !tc.want.IsZero(), ok)
			if ok {
				require.True(t, tc.want.Equal(got), "got %s, want %s", got, tc.want)
				require.Equal(t, time.UTC, got.Location())
			}
		})
	}
}
