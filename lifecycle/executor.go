// Package lifecycle is berth's lifecycle executor, as in Coder: every
// interval each berth server reads from Postgres which workspaces are due
// (autostart, autostop) and builds them through the jobs package, as
// builds initiated by the owner with Coder's build reasons. Postgres holds
// the schedules, so servers run it side by side: a start time is claimed
// with a compare-and-set, and a build is only inserted while the latest
// build is still the one that made the workspace due.
package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/coder/quartz"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/jobs"
)

// Options configures an Executor.
type Options struct {
	Store *db.Store
	Jobs  *jobs.Creator
	// Clock drives the ticker and says what is due (default: real).
	Clock quartz.Clock
	Log   *slog.Logger
	// Interval between passes (default 15 s).
	Interval time.Duration
	// Batch bounds the workspaces one pass looks at per kind (default 50).
	Batch int
}

// Executor builds the workspaces that are due.
type Executor struct {
	store *db.Store
	jobs  *jobs.Creator
	opts  Options
}

// New returns an Executor with defaults filled in.
func New(opts Options) (*Executor, error) {
	if opts.Store == nil || opts.Jobs == nil {
		return nil, errors.New("lifecycle: store and jobs are required")
	}
	if opts.Clock == nil {
		opts.Clock = quartz.NewReal()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Interval <= 0 {
		opts.Interval = 15 * time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 50
	}
	return &Executor{store: opts.Store, jobs: opts.Jobs, opts: opts}, nil
}

// Run runs a pass every Interval until ctx ends.
func (e *Executor) Run(ctx context.Context) error {
	t := e.opts.Clock.TickerFunc(ctx, e.opts.Interval, func() error {
		if err := e.RunOnce(ctx); err != nil && ctx.Err() == nil {
			e.opts.Log.Warn("lifecycle pass", "err", err)
		}
		return nil
	}, "lifecycle")
	return t.Wait()
}

// RunOnce runs one pass at the clock's now.
func (e *Executor) RunOnce(ctx context.Context) error {
	now := e.opts.Clock.Now().UTC()
	stops, err := e.store.AutostopDue(ctx, now, e.opts.Batch)
	if err != nil {
		return err
	}
	for _, c := range stops {
		ws, tpl, err := e.workspaceAndTemplate(ctx, c.WorkspaceID)
		if err != nil {
			return err
		}
		e.build(ctx, c, ws, tpl, jobs.TransitionStop, jobs.ReasonAutostop)
	}
	starts, err := e.store.AutostartDue(ctx, now, e.opts.Batch)
	if err != nil {
		return err
	}
	for _, c := range starts {
		ws, tpl, err := e.workspaceAndTemplate(ctx, c.WorkspaceID)
		if err != nil {
			return err
		}
		claimed, err := e.advanceNextStart(ctx, c, ws, tpl, now)
		if err != nil {
			return err
		}
		if claimed && c.Eligible {
			e.build(ctx, c, ws, tpl, jobs.TransitionStart, jobs.ReasonAutostart)
		}
	}
	return nil
}

func (e *Executor) workspaceAndTemplate(ctx context.Context, id uuid.UUID) (*db.Workspace, *db.Template, error) {
	ws, err := e.store.GetWorkspaceByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	tpl, err := e.store.GetTemplateByIDAny(ctx, ws.TemplateID)
	return ws, tpl, err
}

// advanceNextStart moves the workspace's autostart time past now; false
// means another server claimed this start.
func (e *Executor) advanceNextStart(ctx context.Context, c db.AutobuildCandidate, ws *db.Workspace, tpl *db.Template, now time.Time) (bool, error) {
	var next *time.Time
	if ws.AutostartSchedule != nil {
		next, _ = jobs.NextAutostart(tpl, *ws.AutostartSchedule, now)
	}
	return e.store.AdvanceNextStart(ctx, ws.ID, *c.NextStartAt, next)
}

// build inserts and starts one lifecycle build. Failures are logged: the
// workspace's state tells the rest (a conflict means someone else built
// it first).
func (e *Executor) build(ctx context.Context, c db.AutobuildCandidate, ws *db.Workspace, tpl *db.Template, transition, reason string) {
	log := e.opts.Log.With("workspace_id", c.WorkspaceID, "transition", transition, "reason", reason)
	err := func() error {
		latest, err := e.store.GetWorkspaceBuildByID(ctx, c.LatestBuildID)
		if err != nil {
			return err
		}
		versionID := latest.TemplateVersionID
		if transition == jobs.TransitionStart && ws.AutomaticUpdates == jobs.AutomaticUpdatesAlways {
			versionID = tpl.ActiveVersionID
		}
		owners, err := e.store.GetUsersByIDs(ctx, []uuid.UUID{ws.OwnerID})
		if err != nil {
			return err
		}
		owner := owners[ws.OwnerID]
		if owner == nil {
			return errors.New("workspace owner does not exist")
		}
		b, err := e.jobs.Build(ctx, jobs.BuildRequest{
			Workspace: ws, Template: tpl, VersionID: versionID, Transition: transition, Reason: reason,
			Initiator: owner, ExpectLatest: latest.ID,
		})
		if err != nil {
			return err
		}
		log.Info("lifecycle build started", "build_id", b.Build.ID, "build_number", b.Build.BuildNumber)
		return nil
	}()
	switch {
	case err == nil:
	case errors.Is(err, jobs.ErrBuildActive), errors.Is(err, jobs.ErrLatestChanged), errors.Is(err, jobs.ErrWorkspaceBusy):
		log.Debug("lifecycle build skipped", "reason", err.Error())
	default:
		log.Warn("lifecycle build failed", "err", err)
	}
}
