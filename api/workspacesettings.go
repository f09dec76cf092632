package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/jobs"
	"github.com/berth-dev/berth/lifecycle"
	"github.com/berth-dev/berth/schedule"
)

// Workspace settings (API-NOTES §4.3 "Workspace settings", "PUT …/extend"
// and "resolve-autostart"). Every handler resolves {workspace} before it
// reads the body: 400 bad UUID, 404 unknown or not readable, 410 deleted.

// Messages Coder answers with.
const (
	errDeadlineTooSoon   = "new deadline must be at least 30 minutes in the future"
	errDeadlineBeforeRun = "new deadline must be before workspace start time"
	errDeadlineTooLate   = "new deadline is greater than template allows"
	// extendMinimum is how far in the future an extended deadline must be
	// (Coder asks for 30 minutes and allows one minute of slack).
	extendMinimum = 29 * time.Minute
)

// usageAppNames are the app names POST …/usage accepts, in Coder's order.
var usageAppNames = []string{"vscode", "jetbrains", "reconnecting-pty", "ssh"}

// patchWorkspace renames a workspace: PATCH /workspaces/{workspace} → 204,
// if the operator allows renames (--allow-workspace-renames), as in Coder.
func (a *API) patchWorkspace(c *gin.Context) error {
	ws, err := a.workspaceParam(c, false)
	if err != nil {
		return err
	}
	var req sdk.UpdateWorkspaceRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	if req.Name == "" || req.Name == ws.Name {
		c.Status(http.StatusNoContent) // nothing to change
		return nil
	}
	if !a.opts.AllowWorkspaceRenames {
		return httpapi.BadRequest("Workspace renames are not allowed.")
	}
	err = a.store.RenameWorkspace(c.Request.Context(), ws.ID, req.Name)
	var ce *db.ConflictError
	switch {
	case errors.As(err, &ce):
		return httpapi.Errorf(http.StatusConflict, "Workspace %q already exists.", req.Name).
			WithValidation("name", "This value is already in use and should be unique.")
	case errors.Is(err, db.ErrNotFound): // deleted since it was loaded
		return workspaceGone(ws)
	case err != nil:
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func workspaceGone(ws *db.Workspace) error {
	return httpapi.Errorf(http.StatusGone,
		"Workspace %q was deleted, you can view this workspace by specifying '?deleted=true' and trying again.", ws.ID)
}

// putWorkspaceAutostart sets or clears the autostart schedule and computes
// next_start_at: PUT /workspaces/{workspace}/autostart → 204.
func (a *API) putWorkspaceAutostart(c *gin.Context) error {
	ws, err := a.workspaceParam(c, false)
	if err != nil {
		return err
	}
	var req sdk.UpdateWorkspaceAutostartRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	tpl, err := a.store.GetTemplateByIDAny(ctx, ws.TemplateID)
	if err != nil {
		return err
	}
	if !tpl.AllowUserAutostart {
		return httpapi.BadRequest("Autostart is not allowed for workspaces using this template.")
	}
	var spec *string
	var next *time.Time
	if req.Schedule != nil && *req.Schedule != "" {
		if next, err = jobs.NextAutostart(tpl, *req.Schedule, db.Now()); err != nil {
			return httpapi.BadRequest("Invalid autostart schedule.").WithValidation("schedule", cause(err))
		}
		spec = req.Schedule
	}
	if err := a.store.UpdateWorkspaceAutostart(ctx, ws.ID, spec, next); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// putWorkspaceAutoupdates: PUT /workspaces/{workspace}/autoupdates → 204.
func (a *API) putWorkspaceAutoupdates(c *gin.Context) error {
	ws, err := a.workspaceParam(c, false)
	if err != nil {
		return err
	}
	var req sdk.UpdateWorkspaceAutomaticUpdatesRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	if req.AutomaticUpdates != sdk.AutomaticUpdatesAlways && req.AutomaticUpdates != sdk.AutomaticUpdatesNever {
		return httpapi.BadRequest("Invalid request").WithValidation("automatic_updates", "must be always or never")
	}
	if err := a.store.UpdateWorkspaceAutomaticUpdates(c.Request.Context(), ws.ID, string(req.AutomaticUpdates)); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// putWorkspaceTTL sets the autostop delay; null or 0 turns autostop off and
// clears the running build's deadline: PUT /workspaces/{workspace}/ttl → 204.
func (a *API) putWorkspaceTTL(c *gin.Context) error {
	ws, err := a.workspaceParam(c, false)
	if err != nil {
		return err
	}
	var req sdk.UpdateWorkspaceTTLRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	tpl, err := a.store.GetTemplateByIDAny(ctx, ws.TemplateID)
	if err != nil {
		return err
	}
	if !tpl.AllowUserAutostop {
		return httpapi.BadRequest("Custom autostop TTL is not allowed for workspaces using this template.")
	}
	ttl, err := schedule.ValidTTL(req.TTLMillis)
	if err != nil {
		return httpapi.BadRequest("Error updating workspace time until shutdown.").WithValidation("ttl_ms", err.Error())
	}
	if err := a.store.UpdateWorkspaceTTL(ctx, ws.ID, ttl); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// putWorkspaceDormant: PUT /workspaces/{workspace}/dormant → 200 with the
// workspace, or 304 when it already is in the requested state.
func (a *API) putWorkspaceDormant(c *gin.Context) error {
	ws, err := a.workspaceParam(c, false)
	if err != nil {
		return err
	}
	var req sdk.UpdateWorkspaceDormancy
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	tpl, err := a.store.GetTemplateByIDAny(ctx, ws.TemplateID)
	if err != nil {
		return err
	}
	changed, err := a.store.SetWorkspaceDormant(ctx, ws.ID, req.Dormant,
		time.Duration(tpl.TimeTilDormantAutoDeleteMillis)*time.Millisecond)
	if err != nil {
		return err
	}
	if !changed {
		c.Status(http.StatusNotModified)
		return nil
	}
	if ws, err = a.store.GetWorkspaceByID(ctx, ws.ID); err != nil {
		return err
	}
	return a.writeWorkspace(c, ws)
}

// putExtendWorkspace moves the latest build's deadline:
// PUT /workspaces/{workspace}/extend → 200 "Deadline updated to <t>."
func (a *API) putExtendWorkspace(c *gin.Context) error {
	ws, err := a.workspaceParam(c, false)
	if err != nil {
		return err
	}
	var req sdk.PutExtendWorkspaceRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	deadline := req.Deadline.UTC().Truncate(time.Microsecond)
	err = a.store.InTx(ctx, func(tx *db.Store) error {
		// The row lock orders this against a new build of the workspace.
		if _, err := tx.LockWorkspace(ctx, ws.ID); err != nil {
			return err
		}
		b, err := tx.GetLatestWorkspaceBuild(ctx, ws.ID)
		if err != nil {
			return err
		}
		job, err := tx.GetJobByID(ctx, b.JobID)
		if err != nil {
			return err
		}
		if b.Transition != "start" {
			return httpapi.Errorf(http.StatusConflict, "Workspace must be started, current status: %s", b.Transition)
		}
		if job.CompletedAt == nil {
			return httpapi.Errorf(http.StatusConflict, "Workspace is still building!")
		}
		if job.Status != db.JobSucceeded {
			return httpapi.Errorf(http.StatusConflict, "Workspace must be started, current status: %s",
				workspaceStatus(job.Status, b.Transition))
		}
		if b.Deadline == nil {
			return httpapi.Errorf(http.StatusConflict, "Workspace shutdown is manual.")
		}
		if deadline.Before(time.Now().Add(extendMinimum)) {
			return httpapi.BadRequest("Cannot extend workspace: %s", errDeadlineTooSoon)
		}
		if deadline.Before(*job.CompletedAt) {
			return httpapi.BadRequest("Cannot extend workspace: %s", errDeadlineBeforeRun)
		}
		if b.MaxDeadline != nil && deadline.After(*b.MaxDeadline) {
			return httpapi.BadRequest("Cannot extend workspace: %s", errDeadlineTooLate)
		}
		return tx.SetWorkspaceBuildDeadline(ctx, b, deadline)
	})
	if err != nil {
		return err
	}
	return httpapi.WriteMessage(c, http.StatusOK, "Deadline updated to "+deadline.Format(time.RFC3339)+".")
}

// putFavoriteWorkspace: PUT /workspaces/{workspace}/favorite → 204.
func (a *API) putFavoriteWorkspace(c *gin.Context) error {
	return a.setFavorite(c, true)
}

// deleteFavoriteWorkspace: DELETE /workspaces/{workspace}/favorite → 204.
func (a *API) deleteFavoriteWorkspace(c *gin.Context) error {
	return a.setFavorite(c, false)
}

func (a *API) setFavorite(c *gin.Context, favorite bool) error {
	ws, err := a.workspaceParam(c, false)
	if err != nil {
		return err
	}
	actor := httpmw.ActorFrom(c)
	if ws.OwnerID != actor.User.ID {
		// As in Coder, only the owner marks their workspaces.
		if favorite {
			return httpapi.Errorf(http.StatusForbidden, "You can only favorite workspaces that you own.")
		}
		return httpapi.Errorf(http.StatusForbidden, "You can only un-favorite workspaces that you own.")
	}
	if err := a.store.SetFavorite(c.Request.Context(), actor.User.ID, ws.ID, favorite); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// resolveAutostart: GET /workspaces/{workspace}/resolve-autostart. The
// mismatch is only possible when autostart would build the active version
// and that is not the latest build's.
func (a *API) resolveAutostart(c *gin.Context) error {
	ws, err := a.workspaceParam(c, false)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	var out sdk.ResolveAutostartResponse
	tpl, err := a.store.GetTemplateByIDAny(ctx, ws.TemplateID)
	if err != nil {
		return err
	}
	if !tpl.RequireActiveVersion && ws.AutomaticUpdates != string(sdk.AutomaticUpdatesAlways) {
		return httpapi.Write(c, http.StatusOK, out)
	}
	latest, err := a.store.GetLatestWorkspaceBuild(ctx, ws.ID)
	if err != nil {
		return err
	}
	if latest.TemplateVersionID == tpl.ActiveVersionID {
		return httpapi.Write(c, http.StatusOK, out)
	}
	defs, err := a.store.GetTemplateVersionParameters(ctx, tpl.ActiveVersionID)
	if err != nil {
		return err
	}
	values, err := a.store.GetWorkspaceBuildParameters(ctx, latest.ID)
	if err != nil {
		return err
	}
	previous := make(map[string]string, len(values))
	for _, v := range values {
		previous[v.Name] = v.Value
	}
	if _, err := jobs.ResolveParameters(defs, map[string]string{}, previous); err != nil {
		if !errors.Is(err, jobs.ErrParameter) {
			return err
		}
		out.ParameterMismatch = true
	}
	return httpapi.Write(c, http.StatusOK, out)
}

// workspaceTimings: GET /workspaces/{workspace}/timings. The provisioner
// timings are the latest build job's log stages: each runs from its first
// line to the next stage's first line, the last one to the job's
// completion. A stage still running is left out. Agents report nothing.
func (a *API) workspaceTimings(c *gin.Context) error {
	ws, err := a.workspaceParam(c, false)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	latest, err := a.store.GetLatestWorkspaceBuild(ctx, ws.ID)
	if err != nil {
		return err
	}
	job, err := a.store.GetJobByID(ctx, latest.JobID)
	if err != nil {
		return err
	}
	starts, err := a.store.GetJobStageStarts(ctx, job.ID)
	if err != nil {
		return err
	}
	out := sdk.WorkspaceBuildTimings{
		ProvisionerTimings:     make([]sdk.ProvisionerTiming, 0, len(starts)),
		AgentScriptTimings:     []sdk.AgentScriptTiming{},
		AgentConnectionTimings: []sdk.AgentConnectionTiming{},
	}
	for i, s := range starts {
		var end time.Time
		switch {
		case i+1 < len(starts):
			end = starts[i+1].CreatedAt
		case job.CompletedAt != nil:
			end = *job.CompletedAt
		default:
			continue // the stage the job is in
		}
		if end.Before(s.CreatedAt) {
			end = s.CreatedAt
		}
		out.ProvisionerTimings = append(out.ProvisionerTimings, sdk.ProvisionerTiming{
			JobID: job.ID, StartedAt: s.CreatedAt, EndedAt: end, Stage: timingStage(s.Stage),
			Source: job.Provisioner, Action: latest.Transition, Resource: s.Stage,
		})
	}
	return httpapi.Write(c, http.StatusOK, out)
}

// timingStage maps a log stage (§3.4) to Coder's provisioner timing stage.
func timingStage(logStage string) sdk.TimingStage {
	switch logStage {
	case "Setting up", "Initializing Terraform Directory":
		return sdk.TimingStageInit
	case "Planning Infrastructure":
		return sdk.TimingStagePlan
	default: // the apply stages, Cleaning Up and the reaper's Unknown
		return sdk.TimingStageApply
	}
}

// postWorkspaceUsage moves last_used_at to now:
// POST /workspaces/{workspace}/usage → 204. The body is optional; when it
// names an app, agent_id and app_name must both be set and valid.
func (a *API) postWorkspaceUsage(c *gin.Context) error {
	ws, err := a.workspaceParam(c, false)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, 1<<20))
	if err != nil {
		return httpapi.BadRequest("Request body must be valid JSON.").WithDetail("%s", err.Error())
	}
	if len(bytes.TrimSpace(body)) > 0 {
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		var req sdk.PostWorkspaceUsageRequest
		if err := httpapi.Read(c, &req); err != nil {
			return err
		}
		if err := a.checkUsageRequest(c, ws, req); err != nil {
			return err
		}
	}
	if err := lifecycle.RecordUsage(ctx, a.store, ws.ID, httpmw.ActorFrom(c).User.ID, db.Now()); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (a *API) checkUsageRequest(c *gin.Context, ws *db.Workspace, req sdk.PostWorkspaceUsageRequest) error {
	switch {
	case req.AgentID == uuid.Nil && req.AppName == "":
		return nil
	case req.AgentID == uuid.Nil:
		return httpapi.BadRequest("Invalid request").WithValidation("agent_id", "must be set when app_name is set")
	case req.AppName == "":
		return httpapi.BadRequest("Invalid request").WithValidation("app_name", "must be set when agent_id is set")
	case !slices.Contains(usageAppNames, req.AppName):
		return httpapi.BadRequest("Invalid request").WithValidation("app_name", fmt.Sprintf("must be one of %v", usageAppNames))
	}
	ok, err := a.store.WorkspaceHasAgent(c.Request.Context(), ws.ID, req.AgentID)
	if err != nil {
		return err
	}
	if !ok {
		return httpapi.NotFound()
	}
	return nil
}
