package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/schedule"
)

// Automatic update policies.
const (
	AutomaticUpdatesAlways = "always"
	AutomaticUpdatesNever  = "never"
)

// WorkspaceRequest asks for a workspace and its first build (a start).
type WorkspaceRequest struct {
	Owner    *db.User
	Template *db.Template
	// Version is the version to build; nil: the template's active one.
	Version *db.TemplateVersion
	Name    string
	// TTLMillis is the time until shutdown: nil takes the template's
	// default, 0 turns autostop off. A template that does not let users
	// choose always gives its default.
	TTLMillis *int64
	// AutostartSchedule is a weekly cron spec; nil or empty: no autostart.
	AutostartSchedule *string
	// AutomaticUpdates is always or never (default never).
	AutomaticUpdates string
	Parameters       []db.ParameterValue
	// PresetID is the version preset build 1 uses (see BuildRequest).
	PresetID  uuid.UUID
	Initiator *db.User
}

// CreateWorkspace checks the workspace's settings, then inserts it with
// build 1 (a start, reason initiator), announced to its workers on commit.
func (c *Creator) CreateWorkspace(ctx context.Context, r WorkspaceRequest) (*db.Workspace, *Build, error) {
	tpl := r.Template
	ttl, err := WorkspaceTTL(tpl, r.TTLMillis)
	if err != nil {
		return nil, nil, err
	}
	now := c.now()
	var autostart *string
	var next *time.Time
	if r.AutostartSchedule != nil && *r.AutostartSchedule != "" {
		autostart = r.AutostartSchedule
		if next, err = NextAutostart(tpl, *autostart, now); err != nil {
			return nil, nil, err
		}
	}
	switch r.AutomaticUpdates {
	case "":
		r.AutomaticUpdates = AutomaticUpdatesNever
	case AutomaticUpdatesAlways, AutomaticUpdatesNever:
	default:
		return nil, nil, ErrInvalidAutomaticUpdates
	}
	version := r.Version
	if version == nil {
		if version, err = c.store.GetTemplateVersionByID(ctx, tpl.ActiveVersionID); err != nil {
			return nil, nil, err
		}
	}
	ws := &db.Workspace{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OwnerID: r.Owner.ID, OrganizationID: tpl.OrganizationID,
		TemplateID: tpl.ID, Name: r.Name, TTLMillis: ttl, LastUsedAt: now, AutomaticUpdates: r.AutomaticUpdates,
		AutostartSchedule: autostart, NextStartAt: next,
	}
	b, err := c.insertBuild(ctx, buildPlan{
		BuildRequest: BuildRequest{
			Workspace: ws, Transition: TransitionStart, Reason: ReasonInitiator, Initiator: r.Initiator,
			Parameters: r.Parameters, PresetID: r.PresetID,
		},
		template: tpl, version: version, create: true, owner: r.Owner,
	})
	if err != nil {
		return nil, nil, err
	}
	return ws, b, nil
}

// WorkspaceTTL is the TTL a workspace of tpl gets when asked for millis
// (nil: the template's default): schedule.ValidTTL, except that a
// template that does not let users choose always gives its default. An
// invalid value wraps ErrInvalidTTL.
func WorkspaceTTL(tpl *db.Template, millis *int64) (*int64, error) {
	if millis == nil || !tpl.AllowUserAutostop {
		if tpl.DefaultTTLMillis <= 0 {
			return nil, nil
		}
		d := tpl.DefaultTTLMillis
		return &d, nil
	}
	ttl, err := schedule.ValidTTL(millis)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTTL, err)
	}
	return ttl, nil
}

// NextAutostart checks a workspace's autostart schedule and returns its
// next start after now on a day tpl allows (nil: none within a week). An
// invalid schedule wraps ErrInvalidSchedule.
func NextAutostart(tpl *db.Template, spec string, now time.Time) (*time.Time, error) {
	s, err := schedule.Weekly(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSchedule, err)
	}
	next, ok := schedule.NextAutostart(now, s, schedule.AutostartDays(tpl.AutostartRequirementDaysOfWeek))
	if !ok {
		return nil, nil
	}
	return &next, nil
}
