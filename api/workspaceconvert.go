package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

// workspaceStatus derives a build's status from its job and transition.
func workspaceStatus(jobStatus, transition string) sdk.WorkspaceStatus {
	switch jobStatus {
	case db.JobPending:
		return "pending"
	case db.JobRunning:
		switch transition {
		case "start":
			return "starting"
		case "stop":
			return "stopping"
		default:
			return "deleting"
		}
	case db.JobSucceeded:
		switch transition {
		case "start":
			return "running"
		case "stop":
			return "stopped"
		default:
			return "deleted"
		}
	default: // canceling, canceled and failed pass through
		return sdk.WorkspaceStatus(jobStatus)
	}
}

// buildView holds what converting a build needs besides the row.
type buildView struct {
	workspace *db.Workspace
	owner     *db.User
	initiator *db.User
	version   *db.TemplateVersion
	template  *db.Template
	job       *db.ProvisionerJob
	queue     *db.JobQueue
	worker    string
	resources []db.WorkspaceResource
}

func convertBuild(b *db.WorkspaceBuild, v buildView) sdk.WorkspaceBuild {
	out := sdk.WorkspaceBuild{
		ID: b.ID, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt, WorkspaceID: b.WorkspaceID,
		TemplateVersionID: b.TemplateVersionID, BuildNumber: b.BuildNumber,
		Transition: sdk.WorkspaceTransition(b.Transition), InitiatorID: b.InitiatorID,
		Reason: sdk.BuildReason(b.Reason), Resources: convertResources(v.resources),
		Deadline: b.Deadline, Status: workspaceStatus(v.job.Status, b.Transition),
		DailyCost: b.DailyCost, MatchedProvisioners: matchedProvisioners(v.queue),
	}
	if b.TemplateVersionPresetID.Valid {
		id := b.TemplateVersionPresetID.UUID
		out.TemplateVersionPresetID = &id
	}
	if v.job.Status == db.JobSucceeded {
		// A start's max deadline is planned when it is created and holds
		// once it succeeded.
		out.MaxDeadline = b.MaxDeadline
	}
	if v.workspace != nil {
		out.WorkspaceName = v.workspace.Name
		out.WorkspaceOwnerID = v.workspace.OwnerID
	}
	if v.owner != nil {
		out.WorkspaceOwnerName, out.WorkspaceOwnerAvatarURL = v.owner.Username, v.owner.AvatarURL
	}
	if v.initiator != nil {
		out.InitiatorUsername = v.initiator.Username
	}
	md := sdk.ProvisionerJobMetadata{WorkspaceName: out.WorkspaceName}
	if v.workspace != nil {
		id := v.workspace.ID
		md.WorkspaceID = &id
	}
	if v.version != nil {
		out.TemplateVersionName = v.version.Name
		md.TemplateVersionName = v.version.Name
	}
	if v.template != nil {
		md.TemplateID, md.TemplateName, md.TemplateDisplayName, md.TemplateIcon = v.template.ID, v.template.Name, v.template.DisplayName, v.template.Icon
	}
	out.Job = convertJob(v.job, jobView{queue: v.queue, workerName: v.worker, metadata: md})
	return out
}

// loadBuildView loads everything a build's JSON shows: one query for the
// build, the rows beside it and its job's queue figures (read in one
// snapshot, so a job that reads as finished comes with the results its
// completion wrote into the build, which is refreshed in b) and, once the
// job ended, one for its resources.
func (a *API) loadBuildView(ctx context.Context, b *db.WorkspaceBuild) (buildView, error) {
	view, err := a.store.GetBuildView(ctx, b.ID)
	if err != nil {
		return buildView{}, err
	}
	*b = view.Build
	return a.completeBuildView(ctx, view)
}

// completeBuildView adds a build view's resources.
func (a *API) completeBuildView(ctx context.Context, view *db.BuildView) (buildView, error) {
	var err error
	v := buildView{
		workspace: &view.Workspace, owner: &view.Owner, initiator: &view.Initiator, version: &view.Version,
		template: &view.Template, job: &view.Job, worker: view.WorkerName,
	}
	v.queue = view.JobQueue()
	if !v.job.Active() {
		if v.resources, err = a.store.GetJobResources(ctx, v.job.ID); err != nil {
			return v, err
		}
	}
	return v, nil
}

// convertWorkspace builds a Workspace for the caller: one query for the
// latest build's view (with the caller's favorite flag) and, once the build
// has finished, one for its resources.
func (a *API) convertWorkspace(ctx context.Context, caller *db.User, ws *db.Workspace) (sdk.Workspace, error) {
	view, fav, err := a.store.GetLatestBuildView(ctx, ws.ID, caller.ID)
	if err != nil {
		return sdk.Workspace{}, err
	}
	bv, err := a.completeBuildView(ctx, view)
	if err != nil {
		return sdk.Workspace{}, err
	}
	org := &db.Organization{ID: ws.OrganizationID, Name: view.OrganizationName}
	return workspaceJSON(ws, org, bv, convertBuild(&view.Build, bv), fav, a.opts.AllowWorkspaceRenames), nil
}

func workspaceJSON(ws *db.Workspace, org *db.Organization, bv buildView, latest sdk.WorkspaceBuild, fav, allowRenames bool) sdk.Workspace {
	out := sdk.Workspace{
		ID: ws.ID, CreatedAt: ws.CreatedAt, UpdatedAt: ws.UpdatedAt, OwnerID: ws.OwnerID,
		OrganizationID: ws.OrganizationID, TemplateID: ws.TemplateID, LatestBuild: latest, Name: ws.Name,
		AutostartSchedule: ws.AutostartSchedule, TTLMillis: ws.TTLMillis, LastUsedAt: ws.LastUsedAt,
		DeletingAt: ws.DeletingAt, DormantAt: ws.DormantAt, NextStartAt: ws.NextStartAt,
		Health:           sdk.WorkspaceHealth{Healthy: true, FailingAgents: []uuid.UUID{}},
		AutomaticUpdates: sdk.AutomaticUpdates(ws.AutomaticUpdates), AllowRenames: allowRenames, Favorite: fav,
	}
	if org != nil {
		out.OrganizationName = org.Name
	}
	if bv.owner != nil {
		out.OwnerName, out.OwnerAvatarURL = bv.owner.Username, bv.owner.AvatarURL
	}
	if t := bv.template; t != nil {
		out.TemplateName, out.TemplateDisplayName, out.TemplateIcon = t.Name, t.DisplayName, t.Icon
		out.TemplateAllowUserCancelWorkspaceJobs = t.AllowUserCancelWorkspaceJobs
		out.TemplateActiveVersionID = t.ActiveVersionID
		out.TemplateRequireActiveVersion = t.RequireActiveVersion
		out.Outdated = latest.TemplateVersionID != t.ActiveVersionID
	}
	return out
}

// writeWorkspace answers 200 with the workspace as the caller sees it.
func (a *API) writeWorkspace(c *gin.Context, ws *db.Workspace) error {
	out, err := a.convertWorkspace(c.Request.Context(), httpmw.ActorFrom(c).User, ws)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, out)
}
