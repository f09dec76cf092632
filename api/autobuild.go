package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/quartz"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/db"
)

// autobuildBatch bounds the workspaces one pass looks at per kind.
const autobuildBatch = 50

// RunAutobuild is the lifecycle executor, as in Coder: every interval it
// stops workspaces whose start build has passed its deadline (autostop) and
// starts stopped workspaces whose autostart time has come, as builds
// initiated by the owner with reason autostop/autostart. Postgres holds
// the schedules (next_start_at, deadline), so servers can run it side by
// side: a start time is claimed with a compare-and-set, and a build is
// only inserted if the latest build is still the one that made the
// workspace due. It returns when ctx ends.
func (a *API) RunAutobuild(ctx context.Context, clock quartz.Clock, interval time.Duration) error {
	t := clock.TickerFunc(ctx, interval, func() error {
		if err := a.AutobuildOnce(ctx, clock.Now()); err != nil && ctx.Err() == nil {
			a.log.Warn("autobuild", "err", err)
		}
		return nil
	}, "autobuild")
	return t.Wait()
}

// AutobuildOnce runs one pass of the lifecycle executor at now.
func (a *API) AutobuildOnce(ctx context.Context, now time.Time) error {
	now = now.UTC()
	stops, err := a.store.AutostopDue(ctx, now, autobuildBatch)
	if err != nil {
		return err
	}
	for _, c := range stops {
		ws, tpl, err := a.workspaceAndTemplate(ctx, c.WorkspaceID)
		if err != nil {
			return err
		}
		a.autobuild(ctx, c, ws, tpl, "stop", "autostop")
	}
	starts, err := a.store.AutostartDue(ctx, now, autobuildBatch)
	if err != nil {
		return err
	}
	for _, c := range starts {
		ws, tpl, err := a.workspaceAndTemplate(ctx, c.WorkspaceID)
		if err != nil {
			return err
		}
		claimed, err := a.advanceNextStart(ctx, c, ws, tpl, now)
		if err != nil {
			return err
		}
		if claimed && c.Eligible {
			a.autobuild(ctx, c, ws, tpl, "start", "autostart")
		}
	}
	return nil
}

func (a *API) workspaceAndTemplate(ctx context.Context, id uuid.UUID) (*db.Workspace, *db.Template, error) {
	ws, err := a.store.GetWorkspaceByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	tpl, err := a.store.GetTemplateByIDAny(ctx, ws.TemplateID)
	return ws, tpl, err
}

// advanceNextStart moves the workspace's autostart time past now; false
// means another server claimed this start.
func (a *API) advanceNextStart(ctx context.Context, c db.AutobuildCandidate, ws *db.Workspace, tpl *db.Template, now time.Time) (bool, error) {
	var next *time.Time
	if ws.AutostartSchedule != nil {
		if sched, err := parseWeeklySchedule(*ws.AutostartSchedule); err == nil {
			if t, ok := sched.nextAllowed(now, tpl.AutostartRequirementDaysOfWeek); ok {
				next = &t
			}
		}
	}
	return a.store.AdvanceNextStart(ctx, ws.ID, *c.NextStartAt, next)
}

// autobuild inserts and starts one lifecycle build. Failures are logged:
// the workspace's state tells the rest (a conflict means someone else
// built it first).
func (a *API) autobuild(ctx context.Context, c db.AutobuildCandidate, ws *db.Workspace, tpl *db.Template, transition, reason string) {
	log := a.log.With("workspace_id", c.WorkspaceID, "transition", transition, "reason", reason)
	err := func() error {
		latest, err := a.store.GetWorkspaceBuildByID(ctx, c.LatestBuildID)
		if err != nil {
			return err
		}
		versionID := latest.TemplateVersionID
		if transition == "start" && ws.AutomaticUpdates == "always" {
			versionID = tpl.ActiveVersionID
		}
		version, err := a.store.GetTemplateVersionByID(ctx, versionID)
		if err != nil {
			return err
		}
		owners, err := a.store.GetUsersByIDs(ctx, []uuid.UUID{ws.OwnerID})
		if err != nil {
			return err
		}
		owner := owners[ws.OwnerID]
		if owner == nil {
			return errors.New("workspace owner does not exist")
		}
		b, _, err := a.insertBuild(ctx, buildRequest{
			workspace: ws, template: tpl, version: version, transition: transition, reason: reason,
			initiator: owner, expectLatest: latest.ID,
		})
		if err != nil {
			return err
		}
		log.Info("lifecycle build started", "build_id", b.ID, "build_number", b.BuildNumber)
		return nil
	}()
	var he *httpapi.Error
	switch {
	case err == nil:
	case errors.As(err, &he) && he.Status == http.StatusConflict:
		log.Debug("lifecycle build skipped", "reason", he.Response.Message)
	default:
		log.Warn("lifecycle build failed", "err", err)
	}
}
