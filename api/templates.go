package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

var allWeekdays = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

func (a *API) createTemplate(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	if err := requireTemplateAdmin(c); err != nil {
		return err
	}
	var req sdk.CreateTemplateRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	he := httpapi.BadRequest("Validation failed.")
	if !httpapi.NameValid(req.Name) {
		he.WithValidation("name", `Validation failed for tag "template_name" with value: "`+req.Name+`"`)
	}
	if !httpapi.DisplayNameValid(req.DisplayName) {
		he.WithValidation("display_name", `Validation failed for tag "template_display_name" with value: "`+req.DisplayName+`"`)
	}
	if len(req.Description) >= 128 {
		he.WithValidation("description", `Validation failed for tag "lt" with value: "`+req.Description+`"`)
	}
	if req.VersionID == uuid.Nil {
		he.WithValidation("template_version_id", `Validation failed for tag "required" with value: "00000000-0000-0000-0000-000000000000"`)
	}
	if len(he.Response.Validations) > 0 {
		return he
	}
	durations := httpapi.BadRequest("Invalid create template request.")
	for _, d := range []struct {
		field string
		v     *int64
	}{
		{"default_ttl_ms", req.DefaultTTLMillis}, {"activity_bump_ms", req.ActivityBumpMillis},
		{"failure_ttl_ms", req.FailureTTLMillis}, {"dormant_ttl_ms", req.TimeTilDormantMillis},
		{"delete_ttl_ms", req.TimeTilDormantAutoDeleteMillis},
	} {
		if d.v != nil && *d.v < 0 {
			durations.WithValidation(d.field, "Must be a positive integer.")
		}
	}
	if len(durations.Response.Validations) > 0 {
		return durations
	}

	ctx := c.Request.Context()
	actor := httpmw.ActorFrom(c)
	v, err := a.store.GetTemplateVersionByID(ctx, req.VersionID)
	if errors.Is(err, db.ErrNotFound) || err == nil && v.OrganizationID != org.ID {
		return httpapi.Errorf(http.StatusNotFound, "Template version %q does not exist.", req.VersionID)
	}
	if err != nil {
		return err
	}
	if v.Archived {
		return httpapi.BadRequest("The provided template version is archived.")
	}
	if v.TemplateID.Valid {
		return httpapi.BadRequest("Template version %s is already part of a template", v.ID)
	}
	job, err := a.store.GetJobByID(ctx, v.JobID)
	if err != nil {
		return err
	}

	now := db.Now()
	t := &db.Template{
		ID: uuid.New(), OrganizationID: org.ID, Name: req.Name, DisplayName: req.DisplayName,
		Description: req.Description, Icon: req.Icon, Provisioner: job.Provisioner, ActiveVersionID: v.ID,
		CreatedBy: actor.User.ID, CreatedAt: now, UpdatedAt: now,
		DefaultTTLMillis: deref(req.DefaultTTLMillis, 0), ActivityBumpMillis: deref(req.ActivityBumpMillis, 3600000),
		AutostopRequirementDaysOfWeek: []string{}, AutostopRequirementWeeks: 1,
		AutostartRequirementDaysOfWeek: allWeekdays,
		FailureTTLMillis:               deref(req.FailureTTLMillis, 0),
		TimeTilDormantMillis:           deref(req.TimeTilDormantMillis, 0),
		TimeTilDormantAutoDeleteMillis: deref(req.TimeTilDormantAutoDeleteMillis, 0),
		AllowUserCancelWorkspaceJobs:   deref(req.AllowUserCancelWorkspaceJobs, false),
		AllowUserAutostart:             deref(req.AllowUserAutostart, true),
		AllowUserAutostop:              deref(req.AllowUserAutostop, true),
		RequireActiveVersion:           req.RequireActiveVersion,
		MaxPortShareLevel:              string(deref(req.MaxPortShareLevel, "owner")),
		CORSBehavior:                   string(deref(req.CORSBehavior, "simple")),
		DisableEveryoneGroupAccess:     req.DisableEveryoneGroupAccess,
	}
	if r := req.AutostopRequirement; r != nil {
		if r.DaysOfWeek != nil {
			t.AutostopRequirementDaysOfWeek = r.DaysOfWeek
		}
		if r.Weeks > 0 {
			t.AutostopRequirementWeeks = r.Weeks
		}
	}
	if r := req.AutostartRequirement; r != nil && r.DaysOfWeek != nil {
		t.AutostartRequirementDaysOfWeek = r.DaysOfWeek
	}
	err = a.store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.InsertTemplate(ctx, t); err != nil {
			return err
		}
		return tx.AttachTemplateVersion(ctx, v.ID, t.ID)
	})
	var ce *db.ConflictError
	if errors.As(err, &ce) {
		return httpapi.Errorf(http.StatusConflict, "Template with name %q already exists.", req.Name).
			WithValidation("name", "This value is already in use and should be unique.")
	}
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.BadRequest("Template version %s is already part of a template", v.ID)
	}
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusCreated, convertTemplate(t, org, actor.User))
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func (a *API) templatesByOrganization(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	return a.writeTemplates(c, db.TemplateFilter{OrganizationIDs: []uuid.UUID{org.ID}})
}

func (a *API) templates(c *gin.Context) error {
	actor := httpmw.ActorFrom(c)
	var f db.TemplateFilter
	if !actor.IsOwner() {
		ids, err := a.store.GetOrganizationIDsByUser(c.Request.Context(), actor.User.ID)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return httpapi.Write(c, http.StatusOK, []sdk.Template{})
		}
		f.OrganizationIDs = ids
	}
	return a.writeTemplates(c, f)
}

// writeTemplates lists templates with a fixed number of queries.
func (a *API) writeTemplates(c *gin.Context, f db.TemplateFilter) error {
	ctx := c.Request.Context()
	ts, err := a.store.ListTemplates(ctx, f)
	if err != nil {
		return err
	}
	userIDs := make([]uuid.UUID, 0, len(ts))
	for _, t := range ts {
		userIDs = append(userIDs, t.CreatedBy)
	}
	users, err := a.store.GetUsersByIDs(ctx, userIDs)
	if err != nil {
		return err
	}
	orgs, err := a.organizationsByID(c)
	if err != nil {
		return err
	}
	out := make([]sdk.Template, 0, len(ts))
	for _, t := range ts {
		out = append(out, convertTemplate(t, orgs[t.OrganizationID], users[t.CreatedBy]))
	}
	return httpapi.Write(c, http.StatusOK, out)
}

// organizationsByID loads every organization; there are few.
func (a *API) organizationsByID(c *gin.Context) (map[uuid.UUID]*db.Organization, error) {
	orgs, err := a.store.ListOrganizations(c.Request.Context())
	if err != nil {
		return nil, err
	}
	m := make(map[uuid.UUID]*db.Organization, len(orgs))
	for _, o := range orgs {
		m[o.ID] = o
	}
	return m, nil
}

func (a *API) templateByName(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	t, err := a.store.GetTemplateByOrgAndName(ctx, org.ID, c.Param("templatename"))
	if err != nil {
		return notFoundAs(err)
	}
	return a.writeTemplate(c, t, org)
}

func (a *API) template(c *gin.Context) error {
	t, err := a.templateParam(c)
	if err != nil {
		return err
	}
	org, err := a.store.GetOrganizationByID(c.Request.Context(), t.OrganizationID)
	if err != nil {
		return err
	}
	return a.writeTemplate(c, t, org)
}

func (a *API) writeTemplate(c *gin.Context, t *db.Template, org *db.Organization) error {
	creator, err := a.store.GetUsersByIDs(c.Request.Context(), []uuid.UUID{t.CreatedBy})
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertTemplate(t, org, creator[t.CreatedBy]))
}
