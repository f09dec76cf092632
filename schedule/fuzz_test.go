package schedule_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/schedule"
)

// FuzzSchedule: a user's autostart or quiet-hours cron spec never panics
// the parser or what runs on a parsed schedule, a parsed spec parses
// again to the same schedule, and Next moves forward. Seeds in
// testdata/fuzz/FuzzSchedule run in every `go test`.
func FuzzSchedule(f *testing.F) {
	for _, s := range []string{
		"30 9 * * 1-5", "CRON_TZ=Europe/Berlin 30 9 * * 1-5", "*/15 * * * *", "0 3 * * sun", "5,10-12/2 22 * * MON,wed",
		"CRON_TZ=America/St_Johns 30 2 * * *", "CRON_TZ=UTC 0 0 * * *", "75 9 * * *", "CRON_TZ=../../etc/passwd 0 0 * * *",
		"CRON_TZ= 0 9 * * *", "@daily", "0 0 9 * * *", "* * * * *", "0-59/7 0-23/5 * * 0-6",
	} {
		f.Add(s, int64(1767225600)) // 2026-01-01
	}
	f.Fuzz(func(t *testing.T, spec string, unix int64) {
		now := time.Unix(unix%(1<<34), 0).UTC() // within a few centuries
		for _, parse := range []func(string) (*schedule.Schedule, error){schedule.Weekly, schedule.Daily} {
			s, err := parse(spec)
			if err != nil {
				continue
			}
			again, err := parse(s.String())
			require.NoError(t, err, "spec %q String %q", spec, s.String())
			require.Equal(t, s.String(), again.String())
			if next := s.Next(now); !next.IsZero() {
				require.True(t, next.After(now), "spec %q: Next(%v) = %v", spec, now, next)
			}
			_, _ = s.TimeOfDay()
			_, _ = schedule.NextAutostart(now, s, schedule.AllWeekdays)
		}
	})
}
