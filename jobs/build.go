package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/schedule"
	"github.com/berth-dev/berth/tracing"
)

// Transitions.
const (
	TransitionStart  = "start"
	TransitionStop   = "stop"
	TransitionDelete = "delete"
)

// Build reasons of the lifecycle executor, as Coder names them. Every
// other reason is a user's.
const (
	ReasonInitiator  = "initiator"
	ReasonAutostart  = "autostart"
	ReasonAutostop   = "autostop"
	ReasonDormancy   = "dormancy"
	ReasonFailedStop = "failedstop"
	ReasonAutodelete = "autodelete"
)

// LifecycleReason reports whether a build reason is the lifecycle
// executor's rather than a user's.
func LifecycleReason(reason string) bool {
	return slices.Contains([]string{ReasonAutostart, ReasonAutostop, ReasonDormancy, ReasonFailedStop, ReasonAutodelete}, reason)
}

// BuildRequest asks for a build of an existing workspace.
type BuildRequest struct {
	Workspace *db.Workspace
	// Template is the workspace's template; nil: loaded.
	Template *db.Template
	// VersionID is the template version to build; Nil: the latest build's.
	VersionID  uuid.UUID
	Transition string
	// Reason is Coder's build reason (default initiator).
	Reason    string
	Initiator *db.User
	// Admin: the initiator manages templates, so may set State, Orphan and
	// LogLevel.
	Admin      bool
	Parameters []db.ParameterValue
	// PresetID is the version preset the build uses (Nil: none asked for);
	// its parameter values override the requested ones. Without one, the
	// first preset whose values all match the build's is recorded, as
	// Coder does.
	PresetID uuid.UUID
	// State, when not empty, replaces the previous build's state.
	State    []byte
	Orphan   bool
	LogLevel string
	// ExpectLatest, when set, fails the build with ErrLatestChanged unless
	// this is still the workspace's latest build.
	ExpectLatest uuid.UUID
	// SkipLocked fails the build with ErrWorkspaceBusy instead of waiting
	// while another transaction holds the workspace.
	SkipLocked bool
	// InTx runs in the build's transaction once the workspace is locked and
	// the build checked, before anything is written; ws is the locked row.
	// An error aborts the build.
	InTx func(ctx context.Context, tx *db.Store, ws *db.Workspace) error
}

// Build is a created build with its pending job.
type Build struct {
	Build *db.WorkspaceBuild
	Job   *db.ProvisionerJob
}

// Build checks and inserts a workspace build and its job in one
// transaction, whose commit announces the job to its workers. The checks run in Coder's
// order: deleted workspace, permission (a dormant workspace does not
// start; custom state, orphan and log level are for template managers),
// version, import status, active build, parameters.
func (c *Creator) Build(ctx context.Context, r BuildRequest) (*Build, error) {
	ws, t := r.Workspace, r.Transition
	if ws.Deleted && t != TransitionDelete {
		return nil, &DeletedWorkspaceError{Transition: t}
	}
	if ws.DormantAt != nil && t == TransitionStart {
		return nil, ErrWorkspaceDormant
	}
	if (len(r.State) > 0 || r.Orphan) && !r.Admin {
		return nil, ErrCustomState
	}
	if r.Orphan && t != TransitionDelete {
		return nil, ErrOrphanNotDelete
	}
	if r.LogLevel != "" && !r.Admin {
		return nil, ErrLogLevel
	}
	tpl := r.Template
	if tpl == nil {
		var err error
		if tpl, err = c.store.GetTemplateByIDAny(ctx, ws.TemplateID); err != nil {
			return nil, err
		}
	}
	var version *db.TemplateVersion
	if r.VersionID != uuid.Nil {
		var err error
		version, err = c.store.GetTemplateVersionByID(ctx, r.VersionID)
		// Another organization's version is as unknown as a missing one.
		if errors.Is(err, db.ErrNotFound) || err == nil && version.OrganizationID != tpl.OrganizationID {
			return nil, ErrVersionNotFound
		}
		if err != nil {
			return nil, err
		}
		if !version.TemplateID.Valid || version.TemplateID.UUID != tpl.ID {
			return nil, ErrVersionMismatch
		}
		if version.Archived {
			return nil, ErrVersionArchived
		}
	} else {
		latest, err := c.store.GetLatestWorkspaceBuild(ctx, ws.ID)
		if err != nil {
			return nil, err
		}
		if version, err = c.store.GetTemplateVersionByID(ctx, latest.TemplateVersionID); err != nil {
			return nil, err
		}
	}
	if err := checkActiveVersion(tpl, version, t, r.Admin); err != nil {
		return nil, err
	}
	if r.Reason == "" {
		r.Reason = ReasonInitiator
	}
	return c.insertBuild(ctx, buildPlan{BuildRequest: r, template: tpl, version: version})
}

// checkActiveVersion enforces a template's require_active_version: starts
// use the active version unless a template manager asks (as in Coder).
func checkActiveVersion(tpl *db.Template, version *db.TemplateVersion, transition string, admin bool) error {
	if transition == TransitionStart && tpl.RequireActiveVersion && version.ID != tpl.ActiveVersionID && !admin {
		return ErrActiveVersionRequired
	}
	return nil
}

// buildPlan is a checked build request.
type buildPlan struct {
	BuildRequest
	template *db.Template
	version  *db.TemplateVersion
	// create also inserts the workspace (build 1), owned by owner.
	create bool
	owner  *db.User
}

// insertBuild resolves parameters and inserts the build and its job (and,
// on create, the workspace) in one transaction, whose commit announces the
// job. Everything it reads about an existing workspace it reads under
// the workspace's row lock, so a build that lost a race (ExpectLatest,
// SkipLocked) costs little.
func (c *Creator) insertBuild(ctx context.Context, p buildPlan) (*Build, error) {
	ws, t := p.Workspace, p.Transition
	requested := map[string]string{}
	for _, v := range p.Parameters {
		requested[v.Name] = v.Value
	}
	now := c.now()
	build := &db.WorkspaceBuild{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, WorkspaceID: ws.ID, TemplateVersionID: p.version.ID,
		Transition: t, InitiatorID: p.Initiator.ID, Reason: p.Reason,
	}
	input, err := json.Marshal(db.JobInput{
		WorkspaceBuildID: uuid.NullUUID{UUID: build.ID, Valid: true}, LogLevel: p.LogLevel, Orphan: p.Orphan,
		TraceParent: tracing.Parent(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("encode job input: %w", err)
	}
	job := &db.ProvisionerJob{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OrganizationID: p.template.OrganizationID,
		InitiatorID: p.Initiator.ID, StorageMethod: "file", Type: db.JobTypeWorkspaceBuild, Input: input,
		WorkspaceID: uuid.NullUUID{UUID: ws.ID, Valid: true},
	}
	build.JobID = job.ID
	err = c.store.InTx(ctx, func(tx *db.Store) error {
		var locked *db.Workspace
		var latest *db.WorkspaceBuild
		if !p.create {
			var err error
			if locked, latest, err = lockLatest(ctx, tx, p); err != nil {
				return err
			}
		}
		imp, err := tx.GetJobByID(ctx, p.version.JobID)
		if err != nil {
			return err
		}
		switch imp.Status {
		case db.JobPending, db.JobRunning, db.JobCanceling:
			return &VersionNotReadyError{Status: imp.Status}
		case db.JobFailed, db.JobCanceled:
			return &VersionFailedError{Name: p.version.Name, Cause: imp.Error}
		}
		defs, err := tx.GetTemplateVersionParameters(ctx, p.version.ID)
		if err != nil {
			return err
		}
		var previous map[string]string
		if p.create {
			if err := tx.InsertWorkspace(ctx, ws); err != nil {
				var ce *db.ConflictError
				if errors.As(err, &ce) {
					return &WorkspaceExistsError{Name: ws.Name}
				}
				return err
			}
			build.BuildNumber = 1
		} else if previous, err = c.follow(ctx, tx, p, locked, latest, build); err != nil {
			return err
		}
		if len(p.State) > 0 {
			build.ProvisionerState = p.State
		}
		if p.Orphan {
			build.ProvisionerState = nil
		}
		presets, err := tx.GetTemplateVersionPresets(ctx, p.version.ID)
		if err != nil {
			return err
		}
		if p.PresetID != uuid.Nil {
			preset := findPreset(presets, p.PresetID)
			if preset == nil {
				return ErrPresetNotFound
			}
			for _, v := range preset.Parameters {
				requested[v.Name] = v.Value
			}
		}
		values, err := ResolveParameters(defs, requested, previous)
		if err != nil {
			return err
		}
		if preset := matchPreset(presets, p.PresetID, values); preset != nil {
			build.TemplateVersionPresetID = uuid.NullUUID{UUID: preset.ID, Valid: true}
		}
		job.Provisioner, job.FileID = imp.Provisioner, imp.FileID
		if err := c.scopeTags(ctx, tx, job, imp, ws.OwnerID); err != nil {
			return err
		}
		if t == TransitionStart {
			if build.MaxDeadline, err = c.maxDeadline(ctx, tx, p, now); err != nil {
				return err
			}
		}
		if err := tx.InsertJob(ctx, job); err != nil {
			return activeConflict(err)
		}
		if err := tx.InsertWorkspaceBuild(ctx, build); err != nil {
			return activeConflict(err)
		}
		for i := range values {
			values[i].WorkspaceBuildID = build.ID
		}
		if err := tx.InsertWorkspaceBuildParameters(ctx, values); err != nil {
			return err
		}
		if t == TransitionStart && !LifecycleReason(p.Reason) {
			// A start the user asked for is a use of the workspace.
			if err := tx.RecordWorkspaceUsage(ctx, ws.ID, p.template.ID, p.Initiator.ID, now); err != nil {
				return err
			}
		}
		if p.Orphan {
			return orphanWithoutProvisioner(ctx, tx, job, ws, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Build{Build: build, Job: job}, nil
}

func findPreset(ps []db.TemplateVersionPreset, id uuid.UUID) *db.TemplateVersionPreset {
	for i := range ps {
		if ps[i].ID == id {
			return &ps[i]
		}
	}
	return nil
}

// matchPreset returns the preset asked for, or else the first preset with
// parameters whose values all equal the build's.
func matchPreset(ps []db.TemplateVersionPreset, id uuid.UUID, values []db.WorkspaceBuildParameter) *db.TemplateVersionPreset {
	if id != uuid.Nil {
		return findPreset(ps, id)
	}
	have := map[string]string{}
	for _, v := range values {
		have[v.Name] = v.Value
	}
	for i, p := range ps {
		if len(p.Parameters) == 0 {
			continue
		}
		match := true
		for _, v := range p.Parameters {
			if got, ok := have[v.Name]; !ok || got != v.Value {
				match = false
				break
			}
		}
		if match {
			return &ps[i]
		}
	}
	return nil
}

// lockLatest locks the workspace and reads its latest build, failing at
// once when another transaction holds the row (SkipLocked) or the latest
// build is not the one expected.
func lockLatest(ctx context.Context, tx *db.Store, p buildPlan) (*db.Workspace, *db.WorkspaceBuild, error) {
	var locked *db.Workspace
	var err error
	if p.SkipLocked {
		locked, err = tx.LockWorkspaceNoWait(ctx, p.Workspace.ID)
		if errors.Is(err, db.ErrNotFound) {
			return nil, nil, ErrWorkspaceBusy
		}
	} else {
		locked, err = tx.LockWorkspace(ctx, p.Workspace.ID)
	}
	if err != nil {
		return nil, nil, err
	}
	latest, err := tx.GetLatestWorkspaceBuild(ctx, p.Workspace.ID)
	if err != nil {
		return nil, nil, err
	}
	if p.ExpectLatest != uuid.Nil && latest.ID != p.ExpectLatest {
		return nil, nil, ErrLatestChanged
	}
	return locked, latest, nil
}

// follow checks that the latest build is over, runs the request's InTx,
// and numbers the new build after the latest, which also lends its state.
// It returns the latest build's parameter values.
func (c *Creator) follow(ctx context.Context, tx *db.Store, p buildPlan, locked *db.Workspace, latest, build *db.WorkspaceBuild) (map[string]string, error) {
	latestJob, err := tx.GetJobByID(ctx, latest.JobID)
	if err != nil {
		return nil, err
	}
	if latestJob.CompletedAt == nil {
		return nil, ErrBuildActive
	}
	if p.InTx != nil {
		if err := p.InTx(ctx, tx, locked); err != nil {
			return nil, err
		}
	}
	build.BuildNumber = latest.BuildNumber + 1
	build.ProvisionerState = latest.ProvisionerState
	ps, err := tx.GetWorkspaceBuildParameters(ctx, latest.ID)
	if err != nil {
		return nil, err
	}
	previous := make(map[string]string, len(ps))
	for _, v := range ps {
		previous[v.Name] = v.Value
	}
	return previous, nil
}

// maxDeadline is a start build's max_deadline: the owner's quiet hours on
// a day the template's autostop requirement names, or nil.
func (c *Creator) maxDeadline(ctx context.Context, tx *db.Store, p buildPlan, now time.Time) (*time.Time, error) {
	days := schedule.MustWeekdays(p.template.AutostopRequirementDaysOfWeek)
	if days == 0 {
		return nil, nil
	}
	owner := p.owner
	if owner == nil {
		users, err := tx.GetUsersByIDs(ctx, []uuid.UUID{p.Workspace.OwnerID})
		if err != nil {
			return nil, err
		}
		owner = users[p.Workspace.OwnerID]
	}
	req := schedule.AutostopRequirement{Days: days, Weeks: p.template.AutostopRequirementWeeks}
	if t, ok := schedule.MaxDeadline(now, req, c.QuietHours(owner)); ok {
		return &t, nil
	}
	return nil, nil
}

// activeConflict turns the one-active-build constraint into ErrBuildActive.
func activeConflict(err error) error {
	var ce *db.ConflictError
	if errors.As(err, &ce) {
		return ErrBuildActive
	}
	return err
}

// orphanWithoutProvisioner completes an orphan delete at once when no
// provisioner is online to take it: it needs nobody, and the workspace is
// gone.
func orphanWithoutProvisioner(ctx context.Context, tx *db.Store, job *db.ProvisionerJob, ws *db.Workspace, now time.Time) error {
	q, err := tx.GetJobQueue(ctx, job)
	if err != nil || q.Available > 0 {
		return err
	}
	_, err = tx.CompleteJob(ctx, job.ID, db.Completion{
		Logs: []db.ProvisionerJobLog{{CreatedAt: now, Source: db.LogSourceDaemon, Level: "warn", Stage: "Cleaning Up",
			Output: "Orphaned the workspace without a provisioner: its resources are left as they are."}},
		Results: func(ctx context.Context, tx *db.Store, _ *db.ProvisionerJob) error {
			return tx.MarkWorkspaceDeleted(ctx, ws.ID)
		},
	})
	return err
}
