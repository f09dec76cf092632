package lifecycle_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/lifecycle"
)

// TestDecide runs every rule at, just before and just after the edge of
// its window. Times are literal: Decide reads no clock.
func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2027, 3, 10, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	us := time.Microsecond
	schedule := "CRON_TZ=Europe/Berlin 30 9 * * *"
	running := func(f lifecycle.Facts) lifecycle.Facts {
		f.Transition, f.JobStatus, f.JobCompletedAt, f.OwnerStatus, f.LastUsedAt = "start", "succeeded", at(-time.Hour), "active", now
		return f
	}
	stopped := func(f lifecycle.Facts) lifecycle.Facts {
		f = running(f)
		f.Transition = "stop"
		return f
	}
	none := lifecycle.Action{}
	stop := func(reason string) lifecycle.Action { return lifecycle.Action{Transition: "stop", Reason: reason} }
	for _, tc := range []struct {
		name string
		f    lifecycle.Facts
		want lifecycle.Action
	}{
		// Autostop.
		{"autostop: before the deadline", running(lifecycle.Facts{Deadline: at(us)}), none},
		{"autostop: at the deadline", running(lifecycle.Facts{Deadline: at(0)}), stop("autostop")},
		{"autostop: past the deadline", running(lifecycle.Facts{Deadline: at(-time.Hour)}), stop("autostop")},
		{"autostop: no deadline", running(lifecycle.Facts{}), none},
		{"autostop: a suspended owner's workspace stops", func() lifecycle.Facts {
			f := running(lifecycle.Facts{})
			f.OwnerStatus = "suspended"
			return f
		}(), stop("autostop")},
		{"autostop: dormant workspaces are left", running(lifecycle.Facts{Deadline: at(-time.Hour), DormantAt: at(-time.Hour)}), none},
		{"autostop: a stop is not stopped", stopped(lifecycle.Facts{Deadline: at(-time.Hour)}), none},
		{"autostop: a failed start is not autostopped", func() lifecycle.Facts {
			f := running(lifecycle.Facts{Deadline: at(-time.Hour)})
			f.JobStatus = "failed"
			return f
		}(), none},
		{"nothing while the latest build runs", func() lifecycle.Facts {
			f := running(lifecycle.Facts{Deadline: at(-time.Hour)})
			f.JobStatus, f.JobCompletedAt = "running", nil
			return f
		}(), none},

		// Autostart.
		{"autostart: before the time", stopped(lifecycle.Facts{AutostartSchedule: &schedule, NextStartAt: at(us), AllowUserAutostart: true}), none},
		{"autostart: at the time", stopped(lifecycle.Facts{AutostartSchedule: &schedule, NextStartAt: at(0), AllowUserAutostart: true}),
			lifecycle.Action{Transition: "start", Reason: "autostart", AdvanceStart: true}},
		{"autostart: a running workspace only moves its time on", running(lifecycle.Facts{AutostartSchedule: &schedule, NextStartAt: at(0), AllowUserAutostart: true}),
			lifecycle.Action{AdvanceStart: true}},
		{"autostart: not for a suspended owner", func() lifecycle.Facts {
			f := stopped(lifecycle.Facts{AutostartSchedule: &schedule, NextStartAt: at(0), AllowUserAutostart: true})
			f.OwnerStatus = "suspended"
			return f
		}(), lifecycle.Action{AdvanceStart: true}},
		{"autostart: not for a dormant workspace", stopped(lifecycle.Facts{AutostartSchedule: &schedule, NextStartAt: at(0), AllowUserAutostart: true, DormantAt: at(-time.Hour)}),
			lifecycle.Action{AdvanceStart: true}},
		{"autostart: not when the template forbids it", stopped(lifecycle.Facts{AutostartSchedule: &schedule, NextStartAt: at(0)}),
			lifecycle.Action{AdvanceStart: true}},
		{"autostart: not after a failed stop", func() lifecycle.Facts {
			f := stopped(lifecycle.Facts{AutostartSchedule: &schedule, NextStartAt: at(0), AllowUserAutostart: true})
			f.JobStatus = "failed"
			return f
		}(), lifecycle.Action{AdvanceStart: true}},

		// Failure TTL: strictly longer than the TTL ago.
		{"failure TTL: at the edge", func() lifecycle.Facts {
			f := running(lifecycle.Facts{FailureTTL: time.Hour})
			f.JobStatus, f.JobCompletedAt = "failed", at(-time.Hour)
			return f
		}(), none},
		{"failure TTL: past the edge", func() lifecycle.Facts {
			f := running(lifecycle.Facts{FailureTTL: time.Hour})
			f.JobStatus, f.JobCompletedAt = "failed", at(-time.Hour-us)
			return f
		}(), stop("failedstop")},
		{"failure TTL: off", func() lifecycle.Facts {
			f := running(lifecycle.Facts{})
			f.JobStatus, f.JobCompletedAt = "failed", at(-24*time.Hour)
			return f
		}(), none},
		{"failure TTL: a failed stop is not stopped again", func() lifecycle.Facts {
			f := stopped(lifecycle.Facts{FailureTTL: time.Hour})
			f.JobStatus, f.JobCompletedAt = "failed", at(-2*time.Hour)
			return f
		}(), none},

		// Dormancy: unused strictly longer than time_til_dormant.
		{"dormancy: at the edge", func() lifecycle.Facts {
			f := running(lifecycle.Facts{TimeTilDormant: time.Hour})
			f.LastUsedAt = now.Add(-time.Hour)
			return f
		}(), none},
		{"dormancy: a running workspace stops", func() lifecycle.Facts {
			f := running(lifecycle.Facts{TimeTilDormant: time.Hour})
			f.LastUsedAt = now.Add(-time.Hour - us)
			return f
		}(), lifecycle.Action{Transition: "stop", Reason: "dormancy", MarkDormant: true}},
		{"dormancy: a stopped workspace only becomes dormant", func() lifecycle.Facts {
			f := stopped(lifecycle.Facts{TimeTilDormant: time.Hour})
			f.LastUsedAt = now.Add(-2 * time.Hour)
			return f
		}(), lifecycle.Action{MarkDormant: true}},
		{"dormancy: already dormant", func() lifecycle.Facts {
			f := stopped(lifecycle.Facts{TimeTilDormant: time.Hour, DormantAt: at(-time.Minute)})
			f.LastUsedAt = now.Add(-2 * time.Hour)
			return f
		}(), none},

		// Autodelete: strictly after deleting_at; a failed delete waits a day.
		{"autodelete: at deleting_at", stopped(lifecycle.Facts{DormantAt: at(-time.Hour), DeletingAt: at(0), TimeTilDormantAutoDelete: time.Hour}), none},
		{"autodelete: past deleting_at", stopped(lifecycle.Facts{DormantAt: at(-time.Hour), DeletingAt: at(-us), TimeTilDormantAutoDelete: time.Hour}),
			lifecycle.Action{Transition: "delete", Reason: "autodelete"}},
		{"autodelete: turned off on the template", stopped(lifecycle.Facts{DormantAt: at(-time.Hour), DeletingAt: at(-time.Hour)}), none},
		{"autodelete: a failed delete waits a day", func() lifecycle.Facts {
			f := stopped(lifecycle.Facts{DormantAt: at(-48 * time.Hour), DeletingAt: at(-24 * time.Hour), TimeTilDormantAutoDelete: time.Hour})
			f.Transition, f.JobStatus, f.JobCompletedAt = "delete", "failed", at(-24*time.Hour)
			return f
		}(), none},
		{"autodelete: and then tries again", func() lifecycle.Facts {
			f := stopped(lifecycle.Facts{DormantAt: at(-48 * time.Hour), DeletingAt: at(-24 * time.Hour), TimeTilDormantAutoDelete: time.Hour})
			f.Transition, f.JobStatus, f.JobCompletedAt = "delete", "failed", at(-24*time.Hour-us)
			return f
		}(), lifecycle.Action{Transition: "delete", Reason: "autodelete"}},

		// Order: autostop comes before dormancy.
		{"autostop before dormancy", func() lifecycle.Facts {
			f := running(lifecycle.Facts{Deadline: at(-time.Minute), TimeTilDormant: time.Hour})
			f.LastUsedAt = now.Add(-2 * time.Hour)
			return f
		}(), stop("autostop")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, lifecycle.Decide(tc.f, now))
		})
	}
}
