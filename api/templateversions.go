package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/jobs"
)

func (a *API) createTemplateVersion(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	if err := requireTemplateAdmin(c); err != nil {
		return err
	}
	var req sdk.CreateTemplateVersionRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	if req.ExampleID != "" && req.FileID != uuid.Nil {
		return httpapi.BadRequest("You cannot specify both an example_id and a file_id.")
	}
	if req.ExampleID != "" {
		return httpapi.BadRequest("Example not found.").WithDetail("No examples are shipped with berth.")
	}
	if req.FileID == uuid.Nil {
		return httpapi.BadRequest("Validation failed.").WithValidation("file_id", httpapi.ValidationDetail("required", ""))
	}
	actor := httpmw.ActorFrom(c)
	vars := make([]db.VariableValue, 0, len(req.UserVariableValues))
	for _, v := range req.UserVariableValues {
		vars = append(vars, db.VariableValue{Name: v.Name, Value: v.Value})
	}
	imp, err := a.jobs.Import(c.Request.Context(), jobs.ImportRequest{
		Organization: org, TemplateID: req.TemplateID, FileID: req.FileID, Provisioner: string(req.Provisioner),
		Tags: req.ProvisionerTags, Name: req.Name, Message: req.Message, UserVariableValues: vars,
		Initiator: actor.User, AnyFile: actor.IsOwner(),
	})
	if err != nil {
		return jobError(err)
	}
	out, err := a.convertTemplateVersionFull(c, imp.Version, imp.Job, imp.Template, actor.User, true)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusCreated, out)
}

// templateVersion answers clients that poll an import until it ends: one
// query for the version and everything shown with it.
func (a *API) templateVersion(c *gin.Context) error {
	id, err := parseUUID(c.Param("templateversion"))
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	view, err := a.store.GetVersionView(ctx, id)
	if err != nil {
		return notFoundAs(err)
	}
	ok, err := a.canReadOrg(c, view.Version.OrganizationID)
	if err != nil {
		return err
	}
	if !ok {
		return httpapi.NotFound()
	}
	var tpl *db.Template
	if view.Template.ID != uuid.Nil && !view.Template.Deleted {
		tpl = &view.Template
	}
	var creator *db.User
	if view.Creator.ID != uuid.Nil {
		creator = &view.Creator
	}
	jv := jobView{queue: &db.JobQueue{AvailableWorkers: []uuid.UUID{}}, workerName: view.WorkerName, metadata: versionMetadata(&view.Version, tpl)}
	if view.Job.Status == db.JobPending {
		jv.queue = view.JobQueue()
	}
	out := convertTemplateVersion(&view.Version, &view.Job, creator, jv)
	if view.Job.Status == db.JobPending {
		out.MatchedProvisioners = matchedProvisioners(jv.queue)
	}
	return httpapi.Write(c, http.StatusOK, out)
}

func (a *API) cancelTemplateVersion(c *gin.Context) error {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return err
	}
	if err := requireTemplateAdmin(c); err != nil {
		return err
	}
	return a.cancelJob(c, v.JobID, "!")
}

// cancelJob cancels a job and its workflow with Coder's messages; the
// dry-run endpoints end them with "." where the others use "!".
func (a *API) cancelJob(c *gin.Context, jobID uuid.UUID, end string) error {
	ctx := c.Request.Context()
	canceled, err := a.store.CancelJob(ctx, jobID)
	if errors.Is(err, db.ErrNotFound) {
		job, gerr := a.store.GetJobByID(ctx, jobID)
		if gerr != nil {
			return gerr
		}
		if job.CompletedAt != nil {
			return httpapi.BadRequest("Job has already completed%s", end)
		}
		return httpapi.BadRequest("Job has already been marked as canceled%s", end)
	}
	if err != nil {
		return err
	}
	if err := a.disp.Cancel(ctx, canceled); err != nil {
		// The cancel is durable in the row; the reconciler re-sends it.
		a.log.WarnContext(ctx, "cancel job workflow", "job_id", jobID, "err", err)
	}
	if end == "." {
		return httpapi.WriteMessage(c, http.StatusOK, "Job has been marked as canceled.")
	}
	return httpapi.WriteMessage(c, http.StatusOK, "Job has been marked as canceled...")
}

func (a *API) templateVersionResources(c *gin.Context) error {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return err
	}
	return a.jobResources(c, v.JobID)
}

func (a *API) jobResources(c *gin.Context, jobID uuid.UUID) error {
	ctx := c.Request.Context()
	job, err := a.store.GetJobByID(ctx, jobID)
	if err != nil {
		return err
	}
	if job.CompletedAt == nil {
		return httpapi.BadRequest("Job hasn't completed!")
	}
	rs, err := a.store.GetJobResources(ctx, jobID)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertResources(rs))
}

func (a *API) templateVersionRichParameters(c *gin.Context) error {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	job, err := a.store.GetJobByID(ctx, v.JobID)
	if err != nil {
		return err
	}
	if job.CompletedAt == nil {
		return httpapi.Errorf(http.StatusTooEarly, "Template version job has not finished")
	}
	ps, err := a.store.GetTemplateVersionParameters(ctx, v.ID)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertParameters(ps))
}

func (a *API) templateVersionVariables(c *gin.Context) error {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return err
	}
	if err := requireTemplateAdmin(c); err != nil {
		return err
	}
	ctx := c.Request.Context()
	job, err := a.store.GetJobByID(ctx, v.JobID)
	if err != nil {
		return err
	}
	if job.CompletedAt == nil {
		return httpapi.Errorf(http.StatusForbidden, "Template version job has not finished")
	}
	vs, err := a.store.GetTemplateVersionVariables(ctx, v.ID)
	if err != nil {
		return err
	}
	out := make([]sdk.TemplateVersionVariable, 0, len(vs))
	for _, x := range vs {
		val := x.Value
		if x.Sensitive {
			val = "*redacted*"
		}
		out = append(out, sdk.TemplateVersionVariable{
			Name: x.Name, Description: x.Description, Type: x.Type, Value: val,
			DefaultValue: x.DefaultValue, Required: x.Required, Sensitive: x.Sensitive,
		})
	}
	return httpapi.Write(c, http.StatusOK, out)
}

func (a *API) templateVersionExternalAuth(c *gin.Context) error {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return err
	}
	var providers []struct {
		ID       string `json:"id"`
		Optional bool   `json:"optional"`
	}
	if err := json.Unmarshal(v.ExternalAuthProviders, &providers); err != nil {
		return fmt.Errorf("decode external auth providers: %w", err)
	}
	out := make([]sdk.TemplateVersionExternalAuth, 0, len(providers))
	for _, p := range providers {
		out = append(out, sdk.TemplateVersionExternalAuth{ID: p.ID, Type: p.ID, Optional: p.Optional})
	}
	return httpapi.Write(c, http.StatusOK, out)
}

// templateVersionPresets lists a version's presets in the template's order
// (none until its import succeeded).
func (a *API) templateVersionPresets(c *gin.Context) error {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return err
	}
	ps, err := a.store.GetTemplateVersionPresets(c.Request.Context(), v.ID)
	if err != nil {
		return err
	}
	out := make([]sdk.Preset, 0, len(ps))
	for _, p := range ps {
		sp := sdk.Preset{
			ID: p.ID, Name: p.Name, Default: p.IsDefault, Description: p.Description, Icon: p.Icon,
			Parameters: make([]sdk.PresetParameter, 0, len(p.Parameters)),
		}
		if p.DesiredPrebuildInstances != nil {
			n := int(*p.DesiredPrebuildInstances)
			sp.DesiredPrebuildInstances = &n
		}
		for _, pp := range p.Parameters {
			sp.Parameters = append(sp.Parameters, sdk.PresetParameter{Name: pp.Name, Value: pp.Value})
		}
		out = append(out, sp)
	}
	return httpapi.Write(c, http.StatusOK, out)
}

// emptyList answers endpoints that exist for clients but hold no data in
// berth (legacy schema and parameters), after the same access check as
// their siblings.
func (a *API) emptyList(c *gin.Context) error {
	if _, err := a.templateVersionParam(c); err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, []struct{}{})
}
