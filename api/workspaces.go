package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

// TTL limits of a workspace's autostop.
const (
	minTTL = time.Minute
	maxTTL = 30 * 24 * time.Hour
)

func (a *API) createWorkspaceInOrganization(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	owner, err := a.userParam(c)
	if err != nil {
		return err
	}
	return a.createWorkspace(c, org, owner)
}

func (a *API) createUserWorkspace(c *gin.Context) error {
	owner, err := a.userParam(c)
	if err != nil {
		return err
	}
	return a.createWorkspace(c, nil, owner)
}

func (a *API) createWorkspace(c *gin.Context, org *db.Organization, owner *db.User) error {
	var req sdk.CreateWorkspaceRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	if !httpapi.NameValid(req.Name) {
		return httpapi.BadRequest("Validation failed.").
			WithValidation("name", `Validation failed for tag "workspace_name" with value: "`+req.Name+`"`)
	}
	ctx := c.Request.Context()
	actor := httpmw.ActorFrom(c)

	var (
		tpl     *db.Template
		version *db.TemplateVersion
		err     error
	)
	switch {
	case req.TemplateVersionID != uuid.Nil:
		version, err = a.store.GetTemplateVersionByID(ctx, req.TemplateVersionID)
		if errors.Is(err, db.ErrNotFound) || err == nil && !version.TemplateID.Valid {
			return httpapi.BadRequest("Template version %q doesn't exist.", req.TemplateVersionID).
				WithValidation("template_version_id", "template version not found")
		}
		if err != nil {
			return err
		}
		if req.TemplateID != uuid.Nil && req.TemplateID != version.TemplateID.UUID {
			return httpapi.BadRequest("Template ID must match template version's template ID.")
		}
		req.TemplateID = version.TemplateID.UUID
	case req.TemplateID == uuid.Nil:
		return httpapi.BadRequest("Validation failed.").
			WithValidation("template_id", "Either template_id or template_version_id must be set.")
	}
	tpl, err = a.store.GetTemplateByIDAny(ctx, req.TemplateID)
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.BadRequest("Template %q doesn't exist.", req.TemplateID).
			WithValidation("template_id", "template not found")
	}
	if err != nil {
		return err
	}
	if ok, err := a.canReadOrg(c, tpl.OrganizationID); err != nil {
		return err
	} else if !ok || tpl.Deleted {
		return httpapi.NotFound()
	}
	if org != nil && org.ID != tpl.OrganizationID {
		return httpapi.BadRequest("Template is not in organization %q.", org.Name)
	}
	if tpl.DeprecationMessage != "" {
		return httpapi.BadRequest("Template %q has been deprecated, and cannot be used to create a new workspace.", tpl.Name).
			WithDetail("%s", tpl.DeprecationMessage)
	}
	if owner.ID != actor.User.ID && !actor.IsOwner() {
		return httpapi.NotFound()
	}
	if _, err := a.store.GetOrganizationMember(ctx, tpl.OrganizationID, owner.ID); errors.Is(err, db.ErrNotFound) {
		return httpapi.BadRequest("User %q is not a member of the template's organization.", owner.Username)
	} else if err != nil {
		return err
	}
	if version == nil {
		if version, err = a.store.GetTemplateVersionByID(ctx, tpl.ActiveVersionID); err != nil {
			return err
		}
	}
	if req.TTLMillis != nil && *req.TTLMillis != 0 {
		if d := time.Duration(*req.TTLMillis) * time.Millisecond; d < minTTL || d >= maxTTL {
			return httpapi.BadRequest("Invalid Workspace Time to Shutdown.").
				WithValidation("ttl_ms", "ttl must be between 1 minute and 30 days")
		}
	}
	var nextStart *time.Time
	if req.AutostartSchedule != nil && *req.AutostartSchedule != "" {
		sched, err := parseWeeklySchedule(*req.AutostartSchedule)
		if err != nil {
			return httpapi.BadRequest("Invalid Autostart Schedule.").WithValidation("autostart_schedule", err.Error())
		}
		if next, ok := sched.nextAllowed(time.Now(), tpl.AutostartRequirementDaysOfWeek); ok {
			next = next.UTC().Truncate(time.Microsecond)
			nextStart = &next
		}
	}
	switch req.AutomaticUpdates {
	case "":
		req.AutomaticUpdates = "never"
	case "always", "never":
	default:
		return httpapi.BadRequest("Validation failed.").WithValidation("automatic_updates", "must be always or never")
	}

	now := db.Now()
	ws := &db.Workspace{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OwnerID: owner.ID, OrganizationID: tpl.OrganizationID,
		TemplateID: tpl.ID, Name: req.Name, TTLMillis: nonZero(req.TTLMillis), LastUsedAt: now,
		AutomaticUpdates: string(req.AutomaticUpdates),
	}
	if req.AutostartSchedule != nil && *req.AutostartSchedule != "" {
		ws.AutostartSchedule, ws.NextStartAt = req.AutostartSchedule, nextStart
	}
	if ws.TTLMillis == nil && tpl.DefaultTTLMillis > 0 {
		ttl := tpl.DefaultTTLMillis
		ws.TTLMillis = &ttl
	}
	build, job, err := a.insertBuild(c.Request.Context(), buildRequest{
		workspace: ws, template: tpl, version: version, transition: "start", reason: "initiator",
		initiator: actor.User, params: req.RichParameterValues, create: true,
	})
	if err != nil {
		return err
	}
	_ = build
	_ = job
	out, err := a.convertWorkspace(ctx, actor.User, ws)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusCreated, out)
}

func nonZero(p *int64) *int64 {
	if p == nil || *p == 0 {
		return nil
	}
	return p
}

// validateSchedule accepts "[CRON_TZ=<zone> ]<minute> <hour> * * <days>".
func validateSchedule(s string) error {
	fields := strings.Fields(s)
	if len(fields) > 0 && strings.HasPrefix(fields[0], "CRON_TZ=") {
		if _, err := time.LoadLocation(strings.TrimPrefix(fields[0], "CRON_TZ=")); err != nil {
			return fmt.Errorf("invalid time zone: %w", err)
		}
		fields = fields[1:]
	}
	if len(fields) != 5 {
		return errors.New("schedule must have 5 fields: minute hour day-of-month month day-of-week")
	}
	for i, f := range fields {
		if f == "*" {
			continue
		}
		for _, part := range strings.Split(f, ",") {
			for _, r := range strings.Split(strings.Split(part, "/")[0], "-") {
				if i == 4 {
					if _, ok := weekdays[strings.ToLower(r)]; ok {
						continue
					}
				}
				if _, err := strconv.Atoi(r); err != nil && r != "*" {
					return fmt.Errorf("invalid field %q", f)
				}
			}
		}
	}
	if fields[2] != "*" || fields[3] != "*" {
		return errors.New("only day-of-week schedules are supported: day-of-month and month must be *")
	}
	return nil
}

var weekdays = map[string]struct{}{"sun": {}, "mon": {}, "tue": {}, "wed": {}, "thu": {}, "fri": {}, "sat": {}}

// buildRequest is what insertBuild needs.
type buildRequest struct {
	workspace  *db.Workspace
	template   *db.Template
	version    *db.TemplateVersion
	transition string
	reason     string
	initiator  *db.User
	params     []sdk.WorkspaceBuildParameter
	state      []byte
	stateGiven bool
	orphan     bool
	logLevel   string
	create     bool // also insert the workspace
	// expectLatest, when set, makes the build conflict unless this is
	// still the workspace's latest build (the lifecycle executor's guard
	// against acting twice).
	expectLatest uuid.UUID
}

// insertBuild validates the version, resolves parameters and inserts the
// build and its job (and, on create, the workspace) in one transaction,
// then starts the job's workflow.
func (a *API) insertBuild(ctx context.Context, r buildRequest) (*db.WorkspaceBuild, *db.ProvisionerJob, error) {
	imp, err := a.store.GetJobByID(ctx, r.version.JobID)
	if err != nil {
		return nil, nil, err
	}
	switch imp.Status {
	case db.JobPending, db.JobRunning, db.JobCanceling:
		return nil, nil, httpapi.Errorf(http.StatusNotAcceptable, "The provided template version is %s. Wait for it to complete importing!", imp.Status)
	case db.JobFailed, db.JobCanceled:
		return nil, nil, httpapi.BadRequest("The provided template version %q has failed to import: %q. You cannot build workspaces with it!", r.version.Name, imp.Error)
	}
	defs, err := a.store.GetTemplateVersionParameters(ctx, r.version.ID)
	if err != nil {
		return nil, nil, err
	}
	requested := map[string]string{}
	for _, p := range r.params {
		requested[p.Name] = p.Value
	}
	queue, err := a.store.PickTaskQueue(ctx, r.template.OrganizationID, imp.Provisioner, imp.Tags)
	if err != nil {
		return nil, nil, err
	}
	if queue == "" {
		queue = imp.TaskQueue
	}
	now := db.Now()
	build := &db.WorkspaceBuild{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, WorkspaceID: r.workspace.ID, TemplateVersionID: r.version.ID,
		Transition: r.transition, InitiatorID: r.initiator.ID, Reason: r.reason,
	}
	input, err := json.Marshal(db.JobInput{
		WorkspaceBuildID: uuid.NullUUID{UUID: build.ID, Valid: true}, LogLevel: r.logLevel, Orphan: r.orphan,
	})
	if err != nil {
		return nil, nil, err
	}
	job := &db.ProvisionerJob{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OrganizationID: r.template.OrganizationID,
		InitiatorID: r.initiator.ID, Provisioner: imp.Provisioner, StorageMethod: "file", Type: db.JobTypeWorkspaceBuild,
		Input: input, Tags: imp.Tags, FileID: imp.FileID, TaskQueue: queue,
		WorkspaceID: uuid.NullUUID{UUID: r.workspace.ID, Valid: true},
	}
	build.JobID = job.ID
	err = a.store.InTx(ctx, func(tx *db.Store) error {
		previous := map[string]string{}
		if r.create {
			if err := tx.InsertWorkspace(ctx, r.workspace); err != nil {
				var ce *db.ConflictError
				if errors.As(err, &ce) {
					return httpapi.Errorf(http.StatusConflict, "Workspace %q already exists.", r.workspace.Name).
						WithValidation("name", "This value is already in use and should be unique.")
				}
				return err
			}
			build.BuildNumber = 1
		} else {
			if _, err := tx.LockWorkspace(ctx, r.workspace.ID); err != nil {
				return err
			}
			latest, err := tx.GetLatestWorkspaceBuild(ctx, r.workspace.ID)
			if err != nil {
				return err
			}
			latestJob, err := tx.GetJobByID(ctx, latest.JobID)
			if err != nil {
				return err
			}
			if latestJob.CompletedAt == nil {
				return httpapi.Errorf(http.StatusConflict, "A workspace build is already active.")
			}
			if r.expectLatest != uuid.Nil && latest.ID != r.expectLatest {
				return httpapi.Errorf(http.StatusConflict, "The workspace was built again meanwhile.")
			}
			build.BuildNumber = latest.BuildNumber + 1
			build.ProvisionerState = latest.ProvisionerState
			ps, err := tx.GetWorkspaceBuildParameters(ctx, latest.ID)
			if err != nil {
				return err
			}
			for _, p := range ps {
				previous[p.Name] = p.Value
			}
		}
		if r.stateGiven {
			build.ProvisionerState = r.state
		}
		if r.orphan {
			build.ProvisionerState = nil
		}
		var prev map[string]string
		if !r.create {
			prev = previous
		}
		values, err := resolveParameters(defs, requested, prev)
		if err != nil {
			return err
		}
		if err := tx.InsertJob(ctx, job); err != nil {
			var ce *db.ConflictError
			if errors.As(err, &ce) {
				return httpapi.Errorf(http.StatusConflict, "A workspace build is already active.")
			}
			return err
		}
		if err := tx.InsertWorkspaceBuild(ctx, build); err != nil {
			var ce *db.ConflictError
			if errors.As(err, &ce) {
				return httpapi.Errorf(http.StatusConflict, "A workspace build is already active.")
			}
			return err
		}
		for i := range values {
			values[i].WorkspaceBuildID = build.ID
		}
		if err := tx.InsertWorkspaceBuildParameters(ctx, values); err != nil {
			return err
		}
		if r.orphan {
			// With no provisioner online to take it, an orphan delete needs
			// nobody: it completes here and the workspace is gone.
			q, err := tx.GetJobQueue(ctx, job)
			if err != nil {
				return err
			}
			if q.Available == 0 {
				_, err := tx.CompleteJob(ctx, job.ID, db.Completion{
					Logs: []db.ProvisionerJobLog{{CreatedAt: now, Source: db.LogSourceDaemon, Level: "warn", Stage: "Cleaning Up",
						Output: "Orphaned the workspace without a provisioner: its resources are left as they are."}},
					Results: func(ctx context.Context, tx *db.Store, _ *db.ProvisionerJob) error {
						return tx.MarkWorkspaceDeleted(ctx, r.workspace.ID)
					},
				})
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return build, job, nil
}
