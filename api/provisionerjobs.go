package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

// canReadOrgJobs: Coder gives read access to an organization's provisioner
// jobs to site owners and template admins and to the organization's admins
// and template admins; anyone else gets the one 404.
func canReadOrgJobs(actor *httpmw.Actor, orgID uuid.UUID) bool {
	return actor.HasSiteRole(db.RoleOwner, db.RoleTemplateAdmin) ||
		actor.HasOrgRole(orgID, db.RoleOrgAdmin, db.RoleOrgTemplateAdmin)
}

var jobStatuses = []string{db.JobPending, db.JobRunning, db.JobSucceeded, db.JobCanceling, db.JobCanceled, db.JobFailed, "unknown"}

// provisionerJobsFilter parses the query of the job list (and of one job,
// where ids is the path's).
func provisionerJobsFilter(c *gin.Context, orgID uuid.UUID, ids []uuid.UUID) (db.JobListFilter, error) {
	f := db.JobListFilter{OrganizationID: orgID, Limit: 50, IDs: ids}
	bad := httpapi.BadRequest("Invalid query parameters.")
	for key, vals := range c.Request.URL.Query() {
		v := vals[len(vals)-1]
		switch key {
		case "limit":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 0 {
				bad.WithValidation(key, "Query param \"limit\" must be a valid positive integer.")
				continue
			}
			f.Limit = int(n)
		case "ids":
			if ids != nil {
				bad.WithValidation(key, "\"ids\" is not a valid query param")
				continue
			}
			for _, raw := range strings.Split(v, ",") {
				id, err := uuid.Parse(strings.TrimSpace(raw))
				if err != nil {
					bad.WithValidation(key, "Query param \"ids\" must be a valid list of UUIDs.")
					break
				}
				f.IDs = append(f.IDs, id)
			}
		case "status":
			for _, s := range strings.Split(v, ",") {
				s = strings.TrimSpace(s)
				if s == "" {
					continue
				}
				ok := false
				for _, want := range jobStatuses {
					ok = ok || s == want
				}
				if !ok {
					bad.WithValidation(key, "Query param \"status\" has invalid value \""+s+"\".")
					break
				}
				f.Statuses = append(f.Statuses, s)
			}
		case "tags":
			if err := json.Unmarshal([]byte(v), &f.Tags); err != nil {
				bad.WithValidation(key, "Query param \"tags\" must be a valid JSON object of strings.")
			}
		case "initiator":
			id, err := uuid.Parse(v)
			if err != nil {
				bad.WithValidation(key, "Query param \"initiator\" must be a valid UUID.")
				continue
			}
			f.InitiatorID = id
		default:
			bad.WithValidation(key, "\""+key+"\" is not a valid query param")
		}
	}
	if len(bad.Response.Validations) > 0 {
		return f, bad
	}
	return f, nil
}

func (a *API) listOrgJobs(c *gin.Context, ids []uuid.UUID) ([]sdk.ProvisionerJob, error) {
	org, err := a.organizationParam(c)
	if err != nil {
		return nil, err
	}
	if !canReadOrgJobs(httpmw.ActorFrom(c), org.ID) {
		return nil, httpapi.NotFound()
	}
	f, err := provisionerJobsFilter(c, org.ID, ids)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	jobs, err := a.store.ListJobs(ctx, f)
	if err != nil {
		return nil, err
	}
	workerIDs := []uuid.UUID{}
	for _, j := range jobs {
		if j.WorkerID.Valid {
			workerIDs = append(workerIDs, j.WorkerID.UUID)
		}
	}
	names, err := a.store.GetDaemonNames(ctx, workerIDs)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.ProvisionerJob, 0, len(jobs))
	for _, j := range jobs {
		view := jobView{metadata: sdk.ProvisionerJobMetadata{
			TemplateVersionName: j.VersionName, TemplateID: j.TemplateID.UUID, TemplateName: j.TemplateName,
			TemplateDisplayName: j.TemplateDisplayName, TemplateIcon: j.TemplateIcon, WorkspaceName: j.WorkspaceName,
		}}
		if j.WorkspaceID.Valid {
			id := j.WorkspaceID.UUID
			view.metadata.WorkspaceID = &id
		}
		if j.WorkerID.Valid {
			view.workerName = names[j.WorkerID.UUID]
		}
		// Queue figures are computed on read, and only pending jobs have any.
		if j.Status == db.JobPending {
			if view.queue, err = a.store.GetJobQueue(ctx, &j.ProvisionerJob); err != nil {
				return nil, err
			}
		}
		out = append(out, convertJob(&j.ProvisionerJob, view))
	}
	return out, nil
}

// provisionerJobs serves GET /organizations/{org}/provisionerjobs.
func (a *API) provisionerJobs(c *gin.Context) error {
	out, err := a.listOrgJobs(c, nil)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, out)
}

// provisionerJob serves GET /organizations/{org}/provisionerjobs/{job}.
func (a *API) provisionerJob(c *gin.Context) error {
	id, err := parseUUID(c.Param("job"))
	if err != nil {
		return err
	}
	out, err := a.listOrgJobs(c, []uuid.UUID{id})
	if err != nil {
		return err
	}
	if len(out) != 1 {
		return httpapi.NotFound()
	}
	return httpapi.Write(c, http.StatusOK, out[0])
}
