// Package lifecycle is berth's lifecycle executor, as in Coder: every
// interval each berth server reads from Postgres which workspaces are due
// (autostop, autostart, failure TTL, dormancy, autodelete) and builds them
// through the jobs package, as builds initiated by the owner with Coder's
// build reasons. The rules (Decide) are pure functions of the workspace and
// the time; the executor is a thin loop around them. Postgres holds every
// schedule, deadline and last use, so nothing needs repair after a restart,
// and servers run the executor side by side: a workspace is acted on under
// its row lock (skipped when another server holds it), the rules are
// decided again on the locked row, and a build is inserted only while the
// latest build is still the one that made the workspace due.
package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/quartz"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

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
	// Batch is how many candidates one query reads (default 500).
	Batch int
	// Concurrency is how many workspaces a pass acts on at once (default 8).
	Concurrency int
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
		opts.Batch = 500
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	return &Executor{store: opts.Store, jobs: opts.Jobs, opts: opts}, nil
}

// Stats counts what a pass did.
type Stats struct {
	// Builds counts the builds inserted, by reason.
	Builds map[string]int
	// Dormant counts workspaces made dormant.
	Dormant int
	// Skipped counts workspaces another server got to first, or that
	// changed since they were listed.
	Skipped int
	// Failed counts workspaces whose action failed (logged).
	Failed int
}

// Run runs a pass every Interval until ctx ends.
func (e *Executor) Run(ctx context.Context) error {
	t := e.opts.Clock.TickerFunc(ctx, e.opts.Interval, func() error {
		if _, err := e.RunOnce(ctx); err != nil && ctx.Err() == nil {
			e.opts.Log.Warn("lifecycle pass", "err", err)
		}
		return nil
	}, "lifecycle")
	return t.Wait()
}

// RunOnce acts on every workspace due at the clock's now, a batch at a
// time.
func (e *Executor) RunOnce(ctx context.Context) (Stats, error) {
	now := e.opts.Clock.Now().UTC().Truncate(time.Microsecond)
	stats := Stats{Builds: map[string]int{}}
	var mu sync.Mutex
	for after := uuid.Nil; ; {
		cands, err := e.store.LifecycleCandidates(ctx, now, after, e.opts.Batch)
		if err != nil || len(cands) == 0 {
			return stats, err
		}
		after = cands[len(cands)-1].WorkspaceID
		b, err := e.loadBatch(ctx, cands)
		if err != nil {
			return stats, err
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(e.opts.Concurrency)
		for _, c := range cands {
			g.Go(func() error {
				o := e.act(gctx, c, b, now)
				mu.Lock()
				defer mu.Unlock()
				stats.add(o)
				return nil
			})
		}
		_ = g.Wait()
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		if len(cands) < e.opts.Batch {
			return stats, nil
		}
	}
}

// batch holds the rows a batch of candidates refers to.
type batch struct {
	workspaces map[uuid.UUID]*db.Workspace
	templates  map[uuid.UUID]*db.Template
	owners     map[uuid.UUID]*db.User
}

func (e *Executor) loadBatch(ctx context.Context, cands []db.LifecycleCandidate) (batch, error) {
	var b batch
	wsIDs := make([]uuid.UUID, 0, len(cands))
	tplIDs := make([]uuid.UUID, 0, len(cands))
	ownerIDs := make([]uuid.UUID, 0, len(cands))
	for _, c := range cands {
		wsIDs, tplIDs, ownerIDs = append(wsIDs, c.WorkspaceID), append(tplIDs, c.TemplateID), append(ownerIDs, c.OwnerID)
	}
	var err error
	if b.workspaces, err = e.store.GetWorkspacesByIDs(ctx, wsIDs); err != nil {
		return b, err
	}
	if b.templates, err = e.store.GetTemplatesByIDs(ctx, tplIDs); err != nil {
		return b, err
	}
	b.owners, err = e.store.GetUsersByIDs(ctx, ownerIDs)
	return b, err
}

// outcome is what acting on one workspace did.
type outcome struct {
	reason  string // the build's, if one was inserted
	dormant bool
	skipped bool
	failed  bool
}

func (s *Stats) add(o outcome) {
	if o.reason != "" {
		s.Builds[o.reason]++
	}
	if o.dormant {
		s.Dormant++
	}
	if o.skipped {
		s.Skipped++
	}
	if o.failed {
		s.Failed++
	}
}

// errChanged: the locked workspace no longer calls for the listed action.
var errChanged = errors.New("the workspace changed since it was listed")

// act applies what is due to one workspace.
func (e *Executor) act(ctx context.Context, c db.LifecycleCandidate, b batch, now time.Time) outcome {
	ws, tpl, owner := b.workspaces[c.WorkspaceID], b.templates[c.TemplateID], b.owners[c.OwnerID]
	log := e.opts.Log.With("workspace_id", c.WorkspaceID)
	if ws == nil || tpl == nil || owner == nil {
		log.Warn("lifecycle: workspace, template or owner vanished")
		return outcome{failed: true}
	}
	a := Decide(FactsOf(c), now)
	if a.None() {
		return outcome{}
	}
	if a.Transition == "" {
		return e.withoutBuild(ctx, log, c, ws, tpl, a, now)
	}
	log = log.With("transition", a.Transition, "reason", a.Reason)
	versionID := c.VersionID
	if a.Transition == jobs.TransitionStart && (ws.AutomaticUpdates == jobs.AutomaticUpdatesAlways || tpl.RequireActiveVersion) {
		versionID = tpl.ActiveVersionID
	}
	var o outcome
	built, err := e.jobs.Build(ctx, jobs.BuildRequest{
		Workspace: ws, Template: tpl, VersionID: versionID, Transition: a.Transition, Reason: a.Reason,
		Initiator: owner, ExpectLatest: c.LatestBuildID, SkipLocked: true,
		InTx: func(ctx context.Context, tx *db.Store, locked *db.Workspace) error {
			// Decide again on the locked row: a user (or another server)
			// may have changed the workspace since it was listed.
			f := FactsOf(c)
			f.DormantAt, f.DeletingAt, f.LastUsedAt = locked.DormantAt, locked.DeletingAt, locked.LastUsedAt
			f.AutostartSchedule, f.NextStartAt = locked.AutostartSchedule, locked.NextStartAt
			if Decide(f, now) != a {
				return errChanged
			}
			if a.AdvanceStart {
				if ok, err := tx.AdvanceNextStart(ctx, ws.ID, *locked.NextStartAt, e.nextStart(ws, tpl, now)); err != nil || !ok {
					return cmpErr(err, errChanged)
				}
			}
			if a.MarkDormant {
				ok, err := tx.MarkWorkspaceDormant(ctx, ws.ID, now, deletingAt(tpl, now))
				if err != nil || !ok {
					return cmpErr(err, errChanged)
				}
				o.dormant = true
			}
			return nil
		},
	})
	switch {
	case err == nil:
		log.Info("lifecycle build", "build_id", built.Build.ID, "build_number", built.Build.BuildNumber)
		o.reason = a.Reason
		return o
	case errors.Is(err, jobs.ErrBuildActive), errors.Is(err, jobs.ErrLatestChanged),
		errors.Is(err, jobs.ErrWorkspaceBusy), errors.Is(err, errChanged):
		log.Debug("lifecycle build skipped", "why", err.Error())
		return outcome{skipped: true}
	}
	log.Warn("lifecycle build failed", "err", err)
	if a.AdvanceStart && ctx.Err() == nil {
		// Try again at the next autostart time, not on every pass.
		if _, err := e.store.AdvanceNextStart(ctx, ws.ID, *c.NextStartAt, e.nextStart(ws, tpl, now)); err != nil {
			log.Warn("advance next autostart", "err", err)
		}
	}
	return outcome{failed: true}
}

// withoutBuild makes a workspace dormant, or moves its next autostart
// time on, with compare-and-set writes.
func (e *Executor) withoutBuild(ctx context.Context, log *slog.Logger, c db.LifecycleCandidate, ws *db.Workspace, tpl *db.Template, a Action, now time.Time) outcome {
	var o outcome
	if a.MarkDormant {
		ok, err := e.store.MarkWorkspaceDormant(ctx, ws.ID, now, deletingAt(tpl, now))
		if err != nil {
			log.Warn("mark workspace dormant", "err", err)
			return outcome{failed: true}
		}
		o.dormant, o.skipped = ok, !ok
		if ok {
			log.Info("workspace dormant", "last_used_at", c.LastUsedAt)
		}
	}
	if a.AdvanceStart {
		if _, err := e.store.AdvanceNextStart(ctx, ws.ID, *c.NextStartAt, e.nextStart(ws, tpl, now)); err != nil {
			log.Warn("advance next autostart", "err", err)
			return outcome{failed: true}
		}
	}
	return o
}

// nextStart is the workspace's next autostart time after now (nil: none).
func (e *Executor) nextStart(ws *db.Workspace, tpl *db.Template, now time.Time) *time.Time {
	if ws.AutostartSchedule == nil {
		return nil
	}
	next, err := jobs.NextAutostart(tpl, *ws.AutostartSchedule, now)
	if err != nil {
		return nil
	}
	return next
}

// deletingAt is when a workspace of tpl made dormant at now is deleted
// (nil: never).
func deletingAt(tpl *db.Template, now time.Time) *time.Time {
	if tpl.TimeTilDormantAutoDeleteMillis <= 0 {
		return nil
	}
	t := now.Add(time.Duration(tpl.TimeTilDormantAutoDeleteMillis) * time.Millisecond)
	return &t
}

// cmpErr returns err, or fallback when err is nil.
func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}
