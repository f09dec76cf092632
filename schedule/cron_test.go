package schedule_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/schedule"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func TestWeeklyParse(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{
		"30 9 * * 1-5", "CRON_TZ=Europe/Berlin 30 9 * * 1-5", "*/15 * * * *", "0 3 * * sun",
		"5,10-12/2 22 * * MON,wed", "0 9 * * *", "CRON_TZ=UTC 0 0 * * 0,6",
	} {
		s, err := schedule.Weekly(ok)
		require.NoError(t, err, ok)
		require.NotNil(t, s.Location(), ok)
	}
	for _, bad := range []string{
		"", "bogus", "75 9 * * *", "0 24 * * *", "0 9 * * 8", "0 9 1 * *", "0 9 * 1 *", "0 9 * * fri-mon",
		"*/0 9 * * *", "CRON_TZ=Nowhere/City 0 9 * * *", "CRON_TZ=Local 0 9 * * *", "@daily", "0 0 9 * * *",
		"TZ=UTC 0 9 * * *", "CRON_TZ= 0 9 * * *",
	} {
		_, err := schedule.Weekly(bad)
		require.Error(t, err, bad)
	}
	_, err := schedule.Daily("CRON_TZ=Europe/Berlin 0 22 * * *")
	require.NoError(t, err)
	_, err = schedule.Daily("0 22 * * 1-5")
	require.Error(t, err, "quiet hours are daily")

	s, err := schedule.Weekly("30 9 * * *")
	require.NoError(t, err)
	require.Equal(t, time.UTC, s.Location(), "no zone means UTC, never the server's")
	require.Equal(t, "CRON_TZ=UTC 30 9 * * *", s.String())
}

func TestNext(t *testing.T) {
	t.Parallel()
	berlin := zone(t, "Europe/Berlin")
	ny := zone(t, "America/New_York")
	for _, tc := range []struct {
		name, spec string
		from, want time.Time
	}{
		{"later today", "30 9 * * *", time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC), time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)},
		{"strictly after", "30 9 * * *", time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC), time.Date(2026, 5, 5, 9, 30, 0, 0, time.UTC)},
		{"a second before", "30 9 * * *", time.Date(2026, 5, 4, 9, 29, 59, 0, time.UTC), time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)},
		{"weekdays skip the weekend", "30 9 * * 1-5", time.Date(2026, 5, 8, 10, 0, 0, 0, time.UTC), time.Date(2026, 5, 11, 9, 30, 0, 0, time.UTC)},
		{"in the schedule's zone", "CRON_TZ=Europe/Berlin 30 9 * * *", time.Date(2026, 5, 4, 6, 0, 0, 0, time.UTC), time.Date(2026, 5, 4, 9, 30, 0, 0, berlin)},
		{"weekday in the schedule's zone", "CRON_TZ=America/New_York 0 22 * * fri", time.Date(2026, 5, 9, 1, 0, 0, 0, time.UTC), time.Date(2026, 5, 8, 22, 0, 0, 0, ny)},
		{"lists and steps", "5,10-12/2 22 * * MON,wed", time.Date(2026, 5, 4, 22, 6, 0, 0, time.UTC), time.Date(2026, 5, 4, 22, 10, 0, 0, time.UTC)},
		// DST in Berlin: 29 March 2026 has no 02:30 (skipped that day), and
		// 25 October 2026 has two (fires at the first).
		{"spring forward skips the missing time", "CRON_TZ=Europe/Berlin 30 2 * * *", time.Date(2026, 3, 28, 12, 0, 0, 0, berlin), time.Date(2026, 3, 30, 2, 30, 0, 0, berlin)},
		{"the hour after the gap", "CRON_TZ=Europe/Berlin 30 3 * * *", time.Date(2026, 3, 29, 0, 0, 0, 0, berlin), time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)},
		{"fall back fires at the first", "CRON_TZ=Europe/Berlin 30 2 * * *", time.Date(2026, 10, 24, 12, 0, 0, 0, berlin), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)},
		{"fall back fires once", "CRON_TZ=Europe/Berlin 30 2 * * *", time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), time.Date(2026, 10, 26, 1, 30, 0, 0, time.UTC)},
		{"every quarter hour skips the repeated hour", "CRON_TZ=Europe/Berlin */15 * * * *", time.Date(2026, 10, 25, 0, 45, 0, 0, time.UTC), time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := schedule.Weekly(tc.spec)
			require.NoError(t, err)
			got := s.Next(tc.from)
			require.True(t, tc.want.Equal(got), "Next(%s) = %s, want %s", tc.from, got, tc.want)
			require.Equal(t, s.Location(), got.Location())
		})
	}
}

func TestWeekdays(t *testing.T) {
	t.Parallel()
	d, err := schedule.ParseWeekdays([]string{"sunday", "Monday", "friday", "monday"})
	require.NoError(t, err)
	require.Equal(t, []string{"monday", "friday", "sunday"}, d.Names())
	require.True(t, d.Has(time.Sunday))
	require.False(t, d.Has(time.Saturday))
	_, err = schedule.ParseWeekdays([]string{"mon"})
	require.Error(t, err)
	require.Equal(t, []string{}, schedule.Weekdays(0).Names())
	require.Equal(t, schedule.AllWeekdays, schedule.AutostartDays(nil), "no autostart days listed means every day")
	require.Len(t, schedule.AllWeekdays.Names(), 7)
}

func TestValidTTL(t *testing.T) {
	t.Parallel()
	ms := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		in   *int64
		want *int64
		err  error
	}{
		{nil, nil, nil},
		{ms(0), nil, nil},
		{ms(3600000), ms(3600000), nil},
		{ms(90000), ms(60000), nil},
		{ms(60000), ms(60000), nil},
		{ms(59999), nil, schedule.ErrTTLTooShort},
		{ms(-1), nil, schedule.ErrTTLTooShort},
		{ms(30 * 24 * 3600000), ms(30 * 24 * 3600000), nil},
		{ms(30*24*3600000 + 59999), ms(30 * 24 * 3600000), nil},
		{ms(30*24*3600000 + 60000), nil, schedule.ErrTTLTooLong},
		{ms(1 << 62), nil, schedule.ErrTTLTooLong},
	} {
		got, err := schedule.ValidTTL(tc.in)
		require.ErrorIs(t, err, tc.err)
		require.Equal(t, tc.want, got)
	}
}

func TestTimeOfDay(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]string{
		"CRON_TZ=Europe/Berlin 30 2 * * *": "02:30", "0 0 * * *": "00:00", "5 23 * * *": "23:05", "*/5 2 * * *": "", "0 1,2 * * *": "",
	} {
		s, err := schedule.Daily(spec)
		require.NoError(t, err, spec)
		got, ok := s.TimeOfDay()
		require.Equal(t, want != "", ok, spec)
		require.Equal(t, want, got, spec)
	}
}
