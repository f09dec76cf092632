// Package jobs creates berth's provisioner jobs: template version imports,
// dry-runs and workspace builds (and the workspace a first build makes).
// Each create runs the job's checks, resolves build parameters, picks the
// task queue and writes the job with its version or build row in one
// transaction; the commit announces the job to the workers of its queue,
// one of which starts its workflow (see worker and db.DispatchJob). Errors
// are typed (ErrBuildActive, *VersionNotReadyError, …): callers map them,
// the API to Coder's statuses.
package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/coder/quartz"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/schedule"
	"github.com/berth-dev/berth/workflows"
)

// DefaultQuietHours is the quiet-hours schedule of users who set none,
// unless the deployment configures another: midnight UTC, as in Coder.
const DefaultQuietHours = "CRON_TZ=UTC 0 0 * * *"

// Options configures a Creator.
type Options struct {
	Store *db.Store
	// Queues names the task queue of a job no registered daemon matches yet.
	Queues workflows.Queues
	// Clock dates rows and deadlines (default: the real clock).
	Clock quartz.Clock
	Log   *slog.Logger
	// DefaultQuietHours is the quiet-hours schedule of users who set none
	// (default DefaultQuietHours).
	DefaultQuietHours *schedule.Schedule
}

// Creator creates jobs.
type Creator struct {
	store *db.Store
	opts  Options
}

// New returns a Creator with defaults filled in.
func New(opts Options) (*Creator, error) {
	if opts.Store == nil {
		return nil, errors.New("jobs: a store is required")
	}
	if opts.Clock == nil {
		opts.Clock = quartz.NewReal()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Queues.Prefix == "" {
		opts.Queues.Prefix = "berth"
	}
	if opts.DefaultQuietHours == nil {
		s, err := schedule.Daily(DefaultQuietHours)
		if err != nil {
			return nil, err
		}
		opts.DefaultQuietHours = s
	}
	return &Creator{store: opts.Store, opts: opts}, nil
}

// now is the current time as it round-trips through Postgres.
func (c *Creator) now() time.Time { return c.opts.Clock.Now().UTC().Truncate(time.Microsecond) }

// QuietHours returns a user's quiet-hours schedule: their own, else the
// deployment's.
func (c *Creator) QuietHours(u *db.User) *schedule.Schedule {
	if u != nil && u.QuietHoursSchedule != "" {
		if s, err := schedule.Daily(u.QuietHoursSchedule); err == nil {
			return s
		}
	}
	return c.opts.DefaultQuietHours
}

// pickQueue returns the task queue of a registered daemon that can run a
// job (matched), or fallback when none matches yet.
func pickQueue(ctx context.Context, st *db.Store, j *db.ProvisionerJob, fallback string) (queue string, matched bool, err error) {
	queue, err = st.PickTaskQueue(ctx, j.OrganizationID, j.Provisioner, j.Tags)
	if err != nil || queue != "" {
		return queue, queue != "", err
	}
	return fallback, false, nil
}
