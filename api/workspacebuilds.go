package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/jobs"
	"github.com/berth-dev/berth/logctx"
)

// canReadWorkspace: the owner of the workspace and site owners.
func canReadWorkspace(c *gin.Context, ws *db.Workspace) bool {
	actor := httpmw.ActorFrom(c)
	return actor.IsOwner() || ws.OwnerID == actor.User.ID
}

// workspaceParam loads {workspace}. Deleted workspaces answer 410 unless
// allowDeleted.
func (a *API) workspaceParam(c *gin.Context, allowDeleted bool) (*db.Workspace, error) {
	id, err := parseUUID(c.Param("workspace"))
	if err != nil {
		return nil, err
	}
	ws, err := a.store.GetWorkspaceByID(c.Request.Context(), id)
	if err != nil {
		return nil, notFoundAs(err)
	}
	logctx.Add(c.Request.Context(), slog.String("workspace_id", ws.ID.String()))
	if !canReadWorkspace(c, ws) {
		return nil, httpapi.NotFound()
	}
	if ws.Deleted && !allowDeleted {
		return nil, httpapi.Errorf(http.StatusGone,
			"Workspace %q was deleted, you can view this workspace by specifying '?deleted=true' and trying again.", ws.ID)
	}
	return ws, nil
}

func includeDeleted(c *gin.Context) (bool, error) {
	for _, key := range []string{"include_deleted", "deleted"} {
		if raw := c.Query(key); raw != "" {
			v, err := strconv.ParseBool(raw)
			if err != nil {
				return false, httpapi.BadRequest(invalidQuery).WithValidation(key, "Query param \""+key+"\" must be a valid boolean.")
			}
			return v, nil
		}
	}
	return false, nil
}

func (a *API) workspace(c *gin.Context) error {
	deleted, err := includeDeleted(c)
	if err != nil {
		return err
	}
	ws, err := a.workspaceParam(c, deleted)
	if err != nil {
		return err
	}
	return a.writeWorkspace(c, ws)
}

// workspaceByOwnerName loads /users/{user}/workspace/{workspacename}.
func (a *API) workspaceByOwnerName(c *gin.Context, deleted bool) (*db.Workspace, error) {
	owner, err := a.userParam(c)
	if err != nil {
		return nil, err
	}
	ws, err := a.store.GetWorkspaceByOwnerAndName(c.Request.Context(), owner.ID, c.Param("workspacename"), deleted)
	if err != nil {
		return nil, notFoundAs(err)
	}
	if !canReadWorkspace(c, ws) {
		return nil, httpapi.NotFound()
	}
	return ws, nil
}

func (a *API) workspaceByOwnerAndName(c *gin.Context) error {
	deleted, err := includeDeleted(c)
	if err != nil {
		return err
	}
	ws, err := a.workspaceByOwnerName(c, deleted)
	if err != nil {
		return err
	}
	return a.writeWorkspace(c, ws)
}

func (a *API) createWorkspaceBuild(c *gin.Context) error {
	ws, err := a.workspaceParam(c, true)
	if err != nil {
		return err
	}
	var req sdk.CreateWorkspaceBuildRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	actor := httpmw.ActorFrom(c)
	b, err := a.jobs.Build(ctx, jobs.BuildRequest{
		Workspace: ws, VersionID: req.TemplateVersionID, Transition: string(req.Transition), Reason: string(req.Reason),
		Initiator: actor.User, Admin: requireTemplateAdmin(c) == nil, Parameters: parameterValues(req.RichParameterValues),
		PresetID: req.TemplateVersionPresetID,
		State:    req.ProvisionerState, Orphan: req.Orphan, LogLevel: string(req.LogLevel),
	})
	if err != nil {
		return jobError(err)
	}
	bv, err := a.loadBuildView(ctx, b.Build)
	if err != nil {
		return err
	}
	out := convertBuild(b.Build, bv)
	out.Job.QueuePosition, out.Job.QueueSize = 0, 0
	return httpapi.Write(c, http.StatusCreated, out)
}

func (a *API) workspaceBuilds(c *gin.Context) error {
	ws, err := a.workspaceParam(c, true)
	if err != nil {
		return err
	}
	p, err := parsePagination(c)
	if err != nil {
		return err
	}
	page := db.BuildPage{AfterID: p.AfterID, Limit: p.Limit, Offset: p.Offset}
	if raw := c.Query("since"); raw != "" {
		since, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			return httpapi.BadRequest("bad `since` format, must be RFC3339")
		}
		page.Since = &since
	}
	ctx := c.Request.Context()
	if p.AfterID != uuid.Nil {
		b, err := a.store.GetWorkspaceBuildByID(ctx, p.AfterID)
		if errors.Is(err, db.ErrNotFound) || err == nil && b.WorkspaceID != ws.ID {
			return afterIDMissing(p.AfterID)
		}
		if err != nil {
			return err
		}
	}
	bs, err := a.store.ListWorkspaceBuilds(ctx, ws.ID, page)
	if err != nil {
		return err
	}
	out := make([]sdk.WorkspaceBuild, 0, len(bs))
	for _, b := range bs {
		bv, err := a.loadBuildView(ctx, b)
		if err != nil {
			return err
		}
		out = append(out, convertBuild(b, bv))
	}
	return httpapi.Write(c, http.StatusOK, out)
}

// workspaceBuildParam loads {workspacebuild} and its workspace.
func (a *API) workspaceBuildParam(c *gin.Context) (*db.WorkspaceBuild, *db.Workspace, error) {
	id, err := parseUUID(c.Param("workspacebuild"))
	if err != nil {
		return nil, nil, err
	}
	ctx := c.Request.Context()
	b, err := a.store.GetWorkspaceBuildByID(ctx, id)
	if err != nil {
		return nil, nil, notFoundAs(err)
	}
	ws, err := a.store.GetWorkspaceByID(ctx, b.WorkspaceID)
	if err != nil {
		return nil, nil, err
	}
	logctx.Add(ctx, slog.String("workspace_id", ws.ID.String()), slog.String("job_id", b.JobID.String()))
	if !canReadWorkspace(c, ws) {
		return nil, nil, httpapi.NotFound()
	}
	return b, ws, nil
}

// workspaceBuild answers clients that poll a build until it ends: one
// query for the build and everything shown with it (its access check and
// queue figures included), one for the resources once the job ended.
func (a *API) workspaceBuild(c *gin.Context) error {
	id, err := parseUUID(c.Param("workspacebuild"))
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	view, err := a.store.GetBuildView(ctx, id)
	if err != nil {
		return notFoundAs(err)
	}
	if !canReadWorkspace(c, &view.Workspace) {
		return httpapi.NotFound()
	}
	bv, err := a.completeBuildView(ctx, view)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertBuild(&view.Build, bv))
}

func (a *API) workspaceBuildByNumber(c *gin.Context) error {
	ws, err := a.workspaceByOwnerName(c, true)
	if err != nil {
		return err
	}
	raw := c.Param("buildnumber")
	n, err := strconv.ParseInt(raw, 10, 32)
	if err != nil {
		return httpapi.BadRequest("Failed to parse build number as integer.").WithDetail("%s", err.Error())
	}
	ctx := c.Request.Context()
	b, err := a.store.GetWorkspaceBuildByNumber(ctx, ws.ID, int32(n))
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.Errorf(http.StatusNotFound, "Workspace %q Build %d does not exist.", ws.Name, n)
	}
	if err != nil {
		return err
	}
	bv, err := a.loadBuildView(ctx, b)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertBuild(b, bv))
}

func (a *API) cancelWorkspaceBuild(c *gin.Context) error {
	b, ws, err := a.workspaceBuildParam(c)
	if err != nil {
		return err
	}
	expect := c.Query("expect_status")
	if expect != "" && expect != "pending" && expect != "running" {
		return httpapi.BadRequest("Invalid expect_status %q. Only 'running' or 'pending' are allowed.", expect)
	}
	ctx := c.Request.Context()
	job, err := a.store.GetJobByID(ctx, b.JobID)
	if err != nil {
		return err
	}
	actor := httpmw.ActorFrom(c)
	if job.Status == db.JobRunning && !actor.IsOwner() {
		tpl, err := a.store.GetTemplateByIDAny(ctx, ws.TemplateID)
		if err != nil {
			return err
		}
		if !tpl.AllowUserCancelWorkspaceJobs {
			return httpapi.Errorf(http.StatusForbidden, "User is not allowed to cancel workspace builds. Owner role is required.")
		}
	}
	if expect != "" {
		canceled, err := a.store.CancelJobIfStatus(ctx, job.ID, expect)
		if errors.Is(err, db.ErrStatusMismatch) {
			return httpapi.Errorf(http.StatusPreconditionFailed, "Job is not in the expected state.")
		}
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return err
		}
		if err == nil {
			if err := a.disp.Cancel(ctx, canceled); err != nil {
				a.log.WarnContext(ctx, "cancel job workflow", "job_id", job.ID, "err", err)
			}
			return httpapi.WriteMessage(c, http.StatusOK, "Job has been marked as canceled...")
		}
	}
	return a.cancelJob(c, job.ID, "!")
}

func (a *API) workspaceBuildLogs(c *gin.Context) error {
	b, _, err := a.workspaceBuildParam(c)
	if err != nil {
		return err
	}
	return a.jobLogs(c, b.JobID)
}

func (a *API) workspaceBuildResources(c *gin.Context) error {
	b, _, err := a.workspaceBuildParam(c)
	if err != nil {
		return err
	}
	return a.jobResources(c, b.JobID)
}

func (a *API) workspaceBuildParameters(c *gin.Context) error {
	b, _, err := a.workspaceBuildParam(c)
	if err != nil {
		return err
	}
	ps, err := a.store.GetWorkspaceBuildParameters(c.Request.Context(), b.ID)
	if err != nil {
		return err
	}
	out := make([]sdk.WorkspaceBuildParameter, 0, len(ps))
	for _, p := range ps {
		out = append(out, sdk.WorkspaceBuildParameter{Name: p.Name, Value: p.Value})
	}
	return httpapi.Write(c, http.StatusOK, out)
}

func (a *API) workspaceBuildState(c *gin.Context) error {
	b, _, err := a.workspaceBuildParam(c)
	if err != nil {
		return err
	}
	if requireTemplateAdmin(c) != nil {
		return httpapi.NotFound()
	}
	c.Data(http.StatusOK, "application/octet-stream", b.ProvisionerState)
	return nil
}

// putWorkspaceBuildState stores pushed state on a build: template admins
// only, everyone else who may read the workspace gets the one 404.
func (a *API) putWorkspaceBuildState(c *gin.Context) error {
	b, _, err := a.workspaceBuildParam(c)
	if err != nil {
		return err
	}
	if requireTemplateAdmin(c) != nil {
		return httpapi.NotFound()
	}
	var req sdk.UpdateWorkspaceBuildStateRequest
	// State is a file (base64 in JSON): it gets the upload cap, not Read's.
	if err := httpapi.ReadMax(c, &req, 2*a.opts.MaxFileSize); err != nil {
		return err
	}
	if err := a.store.UpdateWorkspaceBuildState(c.Request.Context(), b.ID, req.State); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
