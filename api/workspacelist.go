package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

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

// convertWorkspaceList converts a page of workspaces with two queries run
// side by side, whatever the page size, and gives the same JSON as
// convertWorkspace gives for each one: one reads every latest build's view
// (the build with the rows shown beside it and its job's queue figures, in
// one snapshot, so a job that reads as finished comes with its build's
// results), one the resources of their jobs.
func (a *API) convertWorkspaceList(ctx context.Context, rows []*db.WorkspaceListRow) ([]sdk.Workspace, error) {
	out := make([]sdk.Workspace, 0, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	buildIDs := make([]uuid.UUID, 0, len(rows))
	jobIDs := make([]uuid.UUID, 0, len(rows))
	for _, r := range rows {
		buildIDs = append(buildIDs, r.LatestBuildID)
		jobIDs = append(jobIDs, r.LatestJobID)
	}
	// The two reads are independent: side by side, a list under load
	// waits for one round trip instead of two.
	var views map[uuid.UUID]*db.BuildView
	var resources map[uuid.UUID][]db.WorkspaceResource
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		views, err = a.store.GetBuildViews(gctx, buildIDs)
		return err
	})
	g.Go(func() (err error) {
		resources, err = a.store.GetResourcesByJobIDs(gctx, jobIDs)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, r := range rows {
		view := views[r.LatestBuildID]
		if view == nil {
			return nil, fmt.Errorf("workspace %s: latest build %s vanished", r.ID, r.LatestBuildID)
		}
		ws := r.Workspace
		bv := buildView{
			workspace: &ws, owner: &view.Owner, initiator: &view.Initiator, version: &view.Version,
			template: &view.Template, job: &view.Job, queue: view.JobQueue(), worker: view.WorkerName,
			resources: resources[view.Job.ID],
		}
		org := &db.Organization{ID: ws.OrganizationID, Name: view.OrganizationName}
		out = append(out, workspaceJSON(&ws, org, bv, convertBuild(&view.Build, bv), r.Favorite, a.opts.AllowWorkspaceRenames))
	}
	return out, nil
}
