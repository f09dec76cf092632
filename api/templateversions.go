package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
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
	ctx := c.Request.Context()
	actor := httpmw.ActorFrom(c)

	he := httpapi.BadRequest("Validation failed.")
	if req.Provisioner != sdk.ProvisionerTypeEcho && req.Provisioner != sdk.ProvisionerTypeTerraform {
		he.WithValidation("provisioner", fmt.Sprintf("Validation failed for tag %q with value: \"%s\"", "oneof", req.Provisioner))
	}
	if req.StorageMethod != "" && req.StorageMethod != "file" {
		he.WithValidation("storage_method", fmt.Sprintf("Validation failed for tag %q with value: \"%s\"", "oneof", req.StorageMethod))
	}
	if req.Name != "" && !httpapi.VersionNameValid(req.Name) {
		he.WithValidation("name", fmt.Sprintf("Validation failed for tag %q with value: \"%s\"", "template_version_name", req.Name))
	}
	if len(req.Message) > 1048576 {
		he.WithValidation("message", "Validation failed for tag \"lt\" with value: \"...\"")
	}
	if len(he.Response.Validations) > 0 {
		return he
	}
	if req.ExampleID != "" && req.FileID != uuid.Nil {
		return httpapi.BadRequest("You cannot specify both an example_id and a file_id.")
	}
	if req.ExampleID != "" {
		return httpapi.BadRequest("Example not found.").WithDetail("No examples are shipped with berth.")
	}
	if req.FileID == uuid.Nil {
		return httpapi.BadRequest("Validation failed.").WithValidation("file_id", `Validation failed for tag "required" with value: ""`)
	}
	var tpl *db.Template
	if req.TemplateID != uuid.Nil {
		tpl, err = a.store.GetTemplateByID(ctx, req.TemplateID)
		if errors.Is(err, db.ErrNotFound) || err == nil && tpl.OrganizationID != org.ID {
			return httpapi.Errorf(http.StatusNotFound, "Template does not exist.")
		}
		if err != nil {
			return err
		}
	}
	file, err := a.store.GetFileMeta(ctx, req.FileID)
	if errors.Is(err, db.ErrNotFound) || err == nil && file.CreatedBy != actor.User.ID && !actor.IsOwner() {
		return httpapi.Errorf(http.StatusNotFound, "File not found.")
	}
	if err != nil {
		return err
	}

	tags := normalizeTags(req.ProvisionerTags, actor.User.ID)
	queue, err := a.store.PickTaskQueue(ctx, org.ID, string(req.Provisioner), tags)
	if err != nil {
		return err
	}
	if queue == "" {
		queue = a.disp.Queues().Provisioner(org.ID, []string{string(req.Provisioner)}, tags)
		a.log.Warn("no provisioner daemon matches the job's tags; it stays pending until one starts",
			"organization_id", org.ID, "provisioner", req.Provisioner, "tags", tags)
	}
	vars := make([]db.VariableValue, 0, len(req.UserVariableValues))
	for _, v := range req.UserVariableValues {
		vars = append(vars, db.VariableValue{Name: v.Name, Value: v.Value})
	}
	now := db.Now()
	versionID := uuid.New()
	input, err := json.Marshal(db.JobInput{
		TemplateVersionID:  uuid.NullUUID{UUID: versionID, Valid: true},
		UserVariableValues: vars,
	})
	if err != nil {
		return err
	}
	job := &db.ProvisionerJob{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OrganizationID: org.ID, InitiatorID: actor.User.ID,
		Provisioner: string(req.Provisioner), StorageMethod: "file", Type: db.JobTypeTemplateVersionImport,
		Input: input, Tags: tags, FileID: file.ID, TaskQueue: queue,
	}
	name := req.Name
	v := &db.TemplateVersion{
		ID: versionID, OrganizationID: org.ID, Message: req.Message, JobID: job.ID,
		CreatedBy: actor.User.ID, CreatedAt: now, UpdatedAt: now,
	}
	if tpl != nil {
		v.TemplateID = uuid.NullUUID{UUID: tpl.ID, Valid: true}
	}
	// A generated name may collide; try a few before giving up.
	for attempt := 0; ; attempt++ {
		if name == "" || req.Name == "" {
			name = generateVersionName()
		}
		v.Name = name
		err = a.store.InTx(ctx, func(tx *db.Store) error {
			if err := tx.InsertJob(ctx, job); err != nil {
				return err
			}
			return tx.InsertTemplateVersion(ctx, v)
		})
		var ce *db.ConflictError
		if errors.As(err, &ce) && ce.Constraint == "template_versions_template_name_idx" {
			if req.Name != "" || attempt >= 5 {
				return httpapi.Errorf(http.StatusConflict, "A template version with name %q already exists for this template.", name).
					WithValidation("name", "This value is already in use and should be unique.")
			}
			continue
		}
		if err != nil {
			return err
		}
		break
	}

	out, err := a.convertTemplateVersionFull(c, v, job, tpl, actor.User, true)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusCreated, out)
}

// normalizeTags applies Coder's tag rules: empty values are dropped, scope
// defaults to organization, scope=user pins owner to the initiator, and any
// other scope becomes organization with an empty owner.
func normalizeTags(in map[string]string, initiator uuid.UUID) map[string]string {
	out := make(map[string]string, len(in)+2)
	for k, v := range in {
		if v != "" {
			out[k] = v
		}
	}
	if out["scope"] == "user" {
		out["owner"] = initiator.String()
	} else {
		out["scope"] = "organization"
		out["owner"] = ""
	}
	return out
}

var (
	versionAdjectives = []string{"eager", "brave", "calm", "clever", "dazzling", "elated", "festive", "gallant", "happy", "jolly", "keen", "lucid", "modest", "nifty", "optimistic", "peaceful", "quirky", "relaxed", "serene", "trusting", "upbeat", "vibrant", "wizardly", "zealous"}
	versionSurnames   = []string{"turing", "lovelace", "hopper", "knuth", "ritchie", "thompson", "pike", "liskov", "dijkstra", "hamilton", "torvalds", "babbage", "shannon", "backus", "mccarthy", "perlman", "wozniak", "kay", "lamport", "hoare"}
)

func generateVersionName() string {
	return fmt.Sprintf("%s_%s%d", versionAdjectives[rand.IntN(len(versionAdjectives))],
		versionSurnames[rand.IntN(len(versionSurnames))], rand.IntN(10))
}

func (a *API) templateVersion(c *gin.Context) error {
	v, err := a.templateVersionParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
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
	job, err := a.store.CancelJob(ctx, jobID)
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
	if err := a.disp.Cancel(ctx, job); err != nil {
		// The cancel is durable in the row; the reconciler re-sends it.
		a.log.Warn("cancel job workflow", "job_id", jobID, "err", err)
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

// emptyList answers endpoints that exist for clients but hold no data in
// berth (legacy schema, presets, dynamic parameters), after the same
// access check as their siblings.
func (a *API) emptyList(c *gin.Context) error {
	if _, err := a.templateVersionParam(c); err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, []struct{}{})
}
