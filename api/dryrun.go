package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/jobs"
)

func (a *API) createTemplateVersionDryRun(c *gin.Context) error {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return err
	}
	var req sdk.CreateTemplateVersionDryRunRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	tpl, err := a.versionTemplate(ctx, v)
	if err != nil {
		return err
	}
	// Template variables are the template's configuration (credentials,
	// endpoints): only those who manage templates may override them.
	if len(req.UserVariableValues) > 0 && !canManageTemplates(httpmw.ActorFrom(c)) {
		return forbidden().WithDetail("Only template administrators may set template variables on a dry-run.")
	}
	vars := make([]db.VariableValue, 0, len(req.UserVariableValues))
	for _, x := range req.UserVariableValues {
		vars = append(vars, db.VariableValue{Name: x.Name, Value: x.Value})
	}
	job, err := a.jobs.DryRun(ctx, jobs.DryRunRequest{
		Version: v, Template: tpl, WorkspaceName: req.WorkspaceName, Parameters: parameterValues(req.RichParameterValues),
		UserVariableValues: vars, Initiator: httpmw.ActorFrom(c).User,
	})
	if err != nil {
		return jobError(err)
	}
	return httpapi.Write(c, http.StatusCreated, convertJob(job, jobView{
		queue: &db.JobQueue{}, metadata: sdk.ProvisionerJobMetadata{TemplateVersionName: v.Name},
	}))
}

// dryRunParam loads {jobID} as a dry-run of the version in the path. A
// dry-run is its initiator's (and template admins'): anyone else gets the
// same 404 as for a job that does not exist.
func (a *API) dryRunParam(c *gin.Context) (*db.TemplateVersion, *db.ProvisionerJob, error) {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return nil, nil, err
	}
	raw := c.Param("jobID")
	id, err := uuid.Parse(raw)
	if err != nil {
		return nil, nil, httpapi.BadRequest("Job ID %q must be a valid UUID.", raw).WithDetail("%s", err.Error())
	}
	job, err := a.store.GetJobByID(c.Request.Context(), id)
	if err == nil && job.InitiatorID != httpmw.ActorFrom(c).User.ID && !canManageTemplates(httpmw.ActorFrom(c)) {
		err = db.ErrNotFound
	}
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil, httpapi.Errorf(http.StatusNotFound, "Provisioner job %q not found.", id)
	}
	if err != nil {
		return nil, nil, err
	}
	if job.Type != db.JobTypeTemplateVersionDryRun {
		return nil, nil, httpapi.Errorf(http.StatusForbidden, "Job is not a template version dry-run job.")
	}
	var in db.JobInput
	if err := json.Unmarshal(job.Input, &in); err != nil || in.TemplateVersionID.UUID != v.ID {
		return nil, nil, httpapi.Errorf(http.StatusForbidden, "Dry-run job is not for this template version.")
	}
	return v, job, nil
}

func (a *API) templateVersionDryRun(c *gin.Context) error {
	v, job, err := a.dryRunParam(c)
	if err != nil {
		return err
	}
	queue, workerName, err := a.jobDetails(c.Request.Context(), job, false)
	if err != nil {
		return err
	}
	tpl, err := a.versionTemplate(c.Request.Context(), v)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertJob(job, jobView{queue: queue, workerName: workerName, metadata: versionMetadata(v, tpl)}))
}

func (a *API) cancelTemplateVersionDryRun(c *gin.Context) error {
	_, job, err := a.dryRunParam(c)
	if err != nil {
		return err
	}
	return a.cancelJob(c, job.ID, ".")
}

func (a *API) templateVersionDryRunLogs(c *gin.Context) error {
	_, job, err := a.dryRunParam(c)
	if err != nil {
		return err
	}
	return a.jobLogs(c, job.ID)
}

func (a *API) templateVersionDryRunResources(c *gin.Context) error {
	_, job, err := a.dryRunParam(c)
	if err != nil {
		return err
	}
	return a.jobResources(c, job.ID)
}

func (a *API) templateVersionDryRunMatchedProvisioners(c *gin.Context) error {
	_, job, err := a.dryRunParam(c)
	if err != nil {
		return err
	}
	q, err := a.store.GetJobQueue(c.Request.Context(), job)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, matchedProvisioners(q))
}

func (a *API) patchTemplateVersion(c *gin.Context) error {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return err
	}
	if err := requireTemplateAdmin(c); err != nil {
		return err
	}
	var req sdk.PatchTemplateVersionRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	name, message := v.Name, v.Message
	if req.Name != "" {
		name = req.Name
	}
	if req.Message != nil {
		message = *req.Message
	}
	ctx := c.Request.Context()
	err = a.store.UpdateTemplateVersionNameMessage(ctx, v.ID, name, message)
	var ce *db.ConflictError
	if errors.As(err, &ce) {
		return httpapi.BadRequest("template version name must be unique for a template").
			WithValidation("name", "This value is already in use and should be unique.")
	}
	if err != nil {
		return err
	}
	v, err = a.store.GetTemplateVersionByID(ctx, v.ID)
	if err != nil {
		return err
	}
	job, err := a.store.GetJobByID(ctx, v.JobID)
	if err != nil {
		return err
	}
	tpl, err := a.versionTemplate(ctx, v)
	if err != nil {
		return err
	}
	out, err := a.convertTemplateVersionFull(c, v, job, tpl, nil, false)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, out)
}
