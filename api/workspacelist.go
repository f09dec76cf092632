package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/api/search"
	"github.com/berth-dev/berth/db"
)

// workspaces serves GET /workspaces: the live workspaces the caller may
// read that match q, in list order, paged by limit and offset, with the
// count before paging (API-NOTES §2.3, §2.4).
//
// The number of queries is fixed, whatever the page size (§7.11): one for
// the page and the count (plus one to count when the offset is past the
// end), then one batch load each for jobs (with their workers' names),
// builds, users, templates, versions, organizations, resources and queue
// figures. An empty page needs no batch loads.
func (a *API) workspaces(c *gin.Context) error {
	p, err := parsePagination(c)
	if err != nil {
		return err
	}
	sf, err := search.ParseWorkspaceQuery(c.Query("q"))
	if err != nil {
		return searchError(err)
	}
	actor := httpmw.ActorFrom(c)
	if sf.MatchNothing {
		return httpapi.Write(c, http.StatusOK, sdk.WorkspacesResponse{Workspaces: []sdk.Workspace{}})
	}
	f := workspaceListFilter(sf, actor)
	f.Limit, f.Offset = p.Limit, p.Offset
	ctx := c.Request.Context()
	page, err := a.store.ListWorkspaces(ctx, f)
	if err != nil {
		return err
	}
	out, err := a.convertWorkspaceList(ctx, page.Rows)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, sdk.WorkspacesResponse{Workspaces: out, Count: page.Count})
}

// workspaceListFilter maps a parsed q to the store's filter. Names are
// resolved by the page query itself, so an unknown owner or organization
// simply matches nothing. Members only ever see their own workspaces.
func workspaceListFilter(sf search.WorkspaceFilter, actor *httpmw.Actor) db.WorkspaceListFilter {
	f := db.WorkspaceListFilter{
		CallerID: actor.User.ID, NameContains: sf.Name, TemplateName: sf.Template, Status: sf.Status,
		Outdated: sf.Outdated, Dormant: sf.Dormant, IDs: sf.IDs,
		LastUsedAfter: sf.LastUsedAfter, LastUsedBefore: sf.LastUsedBefore,
	}
	if !actor.IsOwner() {
		f.VisibleOwnerID = uuid.NullUUID{UUID: actor.User.ID, Valid: true}
	}
	switch sf.OwnerUsername {
	case "":
	case search.Me:
		f.OwnerID = uuid.NullUUID{UUID: actor.User.ID, Valid: true}
	default:
		f.OwnerUsername = sf.OwnerUsername
	}
	if sf.Organization != "" {
		if id, err := uuid.Parse(sf.Organization); err == nil {
			f.OrganizationID = uuid.NullUUID{UUID: id, Valid: true}
		} else {
			f.OrganizationName = sf.Organization
		}
	}
	for _, p := range sf.Params {
		f.Params = append(f.Params, db.WorkspaceParamFilter{Name: p.Name, Value: p.Value, HasValue: p.HasValue})
	}
	return f
}

// convertWorkspaceList converts a page of workspaces with a fixed number of
// batch queries, whatever the page size, and gives the same JSON as
// convertWorkspace gives for each one.
//
// Jobs are read before builds: a build's results (state, deadline) commit
// with its job's completion, so a build read after its job is never older
// than the job's status.
//
// Queue figures (matched_provisioners, queue_position, queue_size,
// available_workers) are computed on read for every latest job in one
// query, as GET /workspaces/{id} computes them; position and size are
// non-zero only for pending jobs.
func (a *API) convertWorkspaceList(ctx context.Context, rows []*db.WorkspaceListRow) ([]sdk.Workspace, error) {
	out := make([]sdk.Workspace, 0, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	jobIDs := make([]uuid.UUID, 0, len(rows))
	buildIDs := make([]uuid.UUID, 0, len(rows))
	templateIDs := make([]uuid.UUID, 0, len(rows))
	orgIDs := make([]uuid.UUID, 0, len(rows))
	for _, r := range rows {
		jobIDs = append(jobIDs, r.LatestJobID)
		buildIDs = append(buildIDs, r.LatestBuildID)
		templateIDs = append(templateIDs, r.TemplateID)
		orgIDs = append(orgIDs, r.OrganizationID)
	}
	jobs, err := a.store.GetJobsWithWorkers(ctx, jobIDs)
	if err != nil {
		return nil, err
	}
	builds, err := a.store.GetWorkspaceBuildsByIDs(ctx, buildIDs)
	if err != nil {
		return nil, err
	}
	userIDs := make([]uuid.UUID, 0, 2*len(rows))
	versionIDs := make([]uuid.UUID, 0, len(rows))
	for _, r := range rows {
		userIDs = append(userIDs, r.OwnerID)
		if b := builds[r.LatestBuildID]; b != nil {
			userIDs = append(userIDs, b.InitiatorID)
			versionIDs = append(versionIDs, b.TemplateVersionID)
		}
	}
	users, err := a.store.GetUsersByIDs(ctx, userIDs)
	if err != nil {
		return nil, err
	}
	templates, err := a.store.GetTemplatesByIDs(ctx, templateIDs)
	if err != nil {
		return nil, err
	}
	versions, err := a.store.GetTemplateVersionsByIDs(ctx, versionIDs)
	if err != nil {
		return nil, err
	}
	orgs, err := a.store.GetOrganizationsByIDs(ctx, orgIDs)
	if err != nil {
		return nil, err
	}
	resources, err := a.store.GetResourcesByJobIDs(ctx, jobIDs)
	if err != nil {
		return nil, err
	}
	queues, err := a.store.GetJobQueues(ctx, jobIDs)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		b, job := builds[r.LatestBuildID], jobs[r.LatestJobID]
		if b == nil || job == nil {
			return nil, fmt.Errorf("workspace %s: latest build %s or its job vanished", r.ID, r.LatestBuildID)
		}
		ws := r.Workspace
		bv := buildView{
			workspace: &ws, owner: users[r.OwnerID], initiator: users[b.InitiatorID],
			version: versions[b.TemplateVersionID], template: templates[r.TemplateID], job: &job.ProvisionerJob,
			queue: queues[job.ID], worker: job.WorkerName, resources: resources[job.ID],
		}
		out = append(out, workspaceJSON(&ws, orgs[r.OrganizationID], bv, convertBuild(b, bv), r.Favorite, a.opts.AllowWorkspaceRenames))
	}
	return out, nil
}
