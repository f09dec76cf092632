package api

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/api/search"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/lifecycle"
	"github.com/berth-dev/berth/schedule"
)

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
	checkRequirements(durations, req.AutostopRequirement, req.AutostartRequirement)
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
		AutostartRequirementDaysOfWeek: schedule.AllWeekdays.Names(),
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
			t.AutostopRequirementDaysOfWeek = schedule.MustWeekdays(r.DaysOfWeek).Names()
		}
		if r.Weeks > 0 {
			t.AutostopRequirementWeeks = r.Weeks
		}
	}
	if r := req.AutostartRequirement; r != nil && r.DaysOfWeek != nil {
		t.AutostartRequirementDaysOfWeek = schedule.MustWeekdays(r.DaysOfWeek).Names()
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
	return httpapi.Write(c, http.StatusCreated, convertTemplate(t, org, actor.User, db.BuildTimeStats{}, db.TemplateUserCounts{}))
}

// checkRequirements adds a validation to he for each invalid autostop or
// autostart requirement field.
func checkRequirements(he *httpapi.Error, stop *sdk.TemplateAutostopRequirement, start *sdk.TemplateAutostartRequirement) {
	if stop != nil {
		if _, err := schedule.ParseWeekdays(stop.DaysOfWeek); err != nil {
			he.WithValidation("autostop_requirement.days_of_week", err.Error())
		}
		if stop.Weeks < 0 || stop.Weeks > schedule.MaxWeeks {
			he.WithValidation("autostop_requirement.weeks", fmt.Sprintf("Must be between 0 and %d.", schedule.MaxWeeks))
		}
	}
	if start != nil {
		if _, err := schedule.ParseWeekdays(start.DaysOfWeek); err != nil {
			he.WithValidation("autostart_requirement.days_of_week", err.Error())
		}
	}
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
	f, err := a.templateFilter(c)
	if err != nil {
		return err
	}
	f.OrganizationIDs = []uuid.UUID{org.ID}
	return a.writeTemplates(c, f)
}

// templateFilter turns the `q` query parameter into a store filter.
func (a *API) templateFilter(c *gin.Context) (db.TemplateFilter, error) {
	var f db.TemplateFilter
	sf, err := search.ParseTemplateQuery(c.Query("q"))
	if err != nil {
		return f, searchError(err)
	}
	ctx := c.Request.Context()
	f = db.TemplateFilter{
		IDs: sf.IDs, ExactName: sf.ExactName, NameContains: sf.Name, ExactDisplayName: sf.ExactDisplayName,
		DisplayNameContains: sf.DisplayName, AuthorID: sf.AuthorID, Deprecated: sf.Deprecated,
		Deleted: sf.Deleted != nil && *sf.Deleted,
	}
	if sf.AuthorUsername != "" {
		actor := httpmw.ActorFrom(c)
		id := actor.User.ID
		if sf.AuthorUsername != search.Me {
			u, err := a.store.GetUserByUsername(ctx, sf.AuthorUsername)
			if err != nil && !errors.Is(err, db.ErrNotFound) {
				return f, err
			}
			id = uuid.Nil // an unknown author matches nothing
			if err == nil {
				id = u.ID
			}
		}
		f.AuthorID = uuid.NullUUID{UUID: id, Valid: true}
	}
	if sf.Organization != "" {
		org, err := a.lookupOrganization(ctx, sf.Organization)
		if errors.Is(err, db.ErrNotFound) {
			f.IDs = []uuid.UUID{uuid.Nil}
		} else if err != nil {
			return f, err
		} else {
			f.OrganizationIDs = []uuid.UUID{org.ID}
		}
	}
	if sf.HasAITask != nil && *sf.HasAITask || sf.HasExternalAgent != nil && *sf.HasExternalAgent {
		// No template has AI tasks or external agents in berth.
		f.IDs = []uuid.UUID{uuid.Nil}
	}
	return f, nil
}

// searchError turns a query parse error into a Coder-shaped 400.
func searchError(err error) error {
	var se *search.Error
	if !errors.As(err, &se) {
		return err
	}
	he := httpapi.BadRequest("%s", se.Message)
	for _, v := range se.Validations {
		he.WithValidation(v.Field, v.Detail)
	}
	return he
}

func (a *API) templates(c *gin.Context) error {
	actor := httpmw.ActorFrom(c)
	f, err := a.templateFilter(c)
	if err != nil {
		return err
	}
	if !actor.IsOwner() {
		ids, err := a.store.GetOrganizationIDsByUser(c.Request.Context(), actor.User.ID)
		if err != nil {
			return err
		}
		if len(f.OrganizationIDs) > 0 && !slices.Contains(ids, f.OrganizationIDs[0]) || len(ids) == 0 {
			return httpapi.Write(c, http.StatusOK, []sdk.Template{})
		}
		if len(f.OrganizationIDs) == 0 {
			f.OrganizationIDs = ids
		}
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
	ids := make([]uuid.UUID, 0, len(ts))
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	stats, err := a.store.GetTemplateBuildTimeStats(ctx, ids, buildTimeStatsSince())
	if err != nil {
		return err
	}
	counts, err := a.store.GetTemplateUserCounts(ctx, ids, activeUsersSince())
	if err != nil {
		return err
	}
	out := make([]sdk.Template, 0, len(ts))
	for _, t := range ts {
		out = append(out, convertTemplate(t, orgs[t.OrganizationID], users[t.CreatedBy], stats[t.ID], counts[t.ID]))
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
	ctx := c.Request.Context()
	creator, err := a.store.GetUsersByIDs(ctx, []uuid.UUID{t.CreatedBy})
	if err != nil {
		return err
	}
	stats, err := a.store.GetTemplateBuildTimeStats(ctx, []uuid.UUID{t.ID}, buildTimeStatsSince())
	if err != nil {
		return err
	}
	counts, err := a.store.GetTemplateUserCounts(ctx, []uuid.UUID{t.ID}, activeUsersSince())
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertTemplate(t, org, creator[t.CreatedBy], stats[t.ID], counts[t.ID]))
}

// buildTimeStatsSince is where a template's build time statistics start,
// as in Coder: the last 30 days.
func buildTimeStatsSince() time.Time { return db.Now().Add(-30 * 24 * time.Hour) }

// activeUsersSince is where a template's active users are counted from:
// the last 7 days.
func activeUsersSince() time.Time { return db.Now().Add(-7 * 24 * time.Hour) }

func (a *API) patchTemplate(c *gin.Context) error {
	t, err := a.templateParam(c)
	if err != nil {
		return err
	}
	if err := requireTemplateAdmin(c); err != nil {
		return err
	}
	var req sdk.UpdateTemplateMeta
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	durations := httpapi.BadRequest("Invalid request to update template metadata!")
	for _, d := range []struct {
		field string
		v     int64
	}{
		{"default_ttl_ms", req.DefaultTTLMillis}, {"activity_bump_ms", req.ActivityBumpMillis},
		{"failure_ttl_ms", req.FailureTTLMillis}, {"time_til_dormant_ms", req.TimeTilDormantMillis},
		{"time_til_dormant_autodelete_ms", req.TimeTilDormantAutoDeleteMillis},
	} {
		if d.v < 0 {
			durations.WithValidation(d.field, "Must be a positive integer.")
		}
	}
	checkRequirements(durations, req.AutostopRequirement, req.AutostartRequirement)
	if len(durations.Response.Validations) > 0 {
		return durations
	}

	// Clients send the whole object: omitted booleans and durations are
	// written as false and 0, as Coder does; omitted pointers keep values.
	next := *t
	if req.Name != "" {
		next.Name = req.Name
	}
	next.DisplayName = deref(req.DisplayName, t.DisplayName)
	next.Description = deref(req.Description, t.Description)
	next.Icon = deref(req.Icon, t.Icon)
	next.DefaultTTLMillis = req.DefaultTTLMillis
	next.ActivityBumpMillis = req.ActivityBumpMillis
	next.FailureTTLMillis = req.FailureTTLMillis
	next.TimeTilDormantMillis = req.TimeTilDormantMillis
	next.TimeTilDormantAutoDeleteMillis = req.TimeTilDormantAutoDeleteMillis
	next.AllowUserAutostart = req.AllowUserAutostart
	next.AllowUserAutostop = req.AllowUserAutostop
	next.AllowUserCancelWorkspaceJobs = req.AllowUserCancelWorkspaceJobs
	next.RequireActiveVersion = req.RequireActiveVersion
	next.DisableEveryoneGroupAccess = req.DisableEveryoneGroupAccess
	next.DeprecationMessage = deref(req.DeprecationMessage, t.DeprecationMessage)
	next.MaxPortShareLevel = string(deref(req.MaxPortShareLevel, sdk.WorkspaceAgentPortShareLevel(t.MaxPortShareLevel)))
	next.CORSBehavior = string(deref(req.CORSBehavior, sdk.CORSBehavior(t.CORSBehavior)))
	if r := req.AutostopRequirement; r != nil {
		next.AutostopRequirementDaysOfWeek = schedule.MustWeekdays(r.DaysOfWeek).Names()
		next.AutostopRequirementWeeks = max(r.Weeks, 1)
	}
	if r := req.AutostartRequirement; r != nil {
		next.AutostartRequirementDaysOfWeek = schedule.MustWeekdays(r.DaysOfWeek).Names()
	}
	if templateSettingsEqual(t, &next) {
		c.Status(http.StatusNotModified)
		return nil
	}
	ctx := c.Request.Context()
	err = a.store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.UpdateTemplate(ctx, &next); err != nil {
			return err
		}
		return lifecycle.ApplyTemplateChange(ctx, tx, lifecycle.TemplateChange{
			Old: t, New: &next, UpdateWorkspaceLastUsedAt: req.UpdateWorkspaceLastUsedAt,
			UpdateWorkspaceDormantAt: req.UpdateWorkspaceDormantAt, Now: db.Now(), QuietHours: a.jobs.QuietHours,
		})
	})
	var ce *db.ConflictError
	if errors.As(err, &ce) {
		return httpapi.Errorf(http.StatusConflict, "Template with name %q already exists.", next.Name).
			WithValidation("name", "This value is already in use and should be unique.")
	}
	if err != nil {
		return err
	}
	org, err := a.store.GetOrganizationByID(ctx, t.OrganizationID)
	if err != nil {
		return err
	}
	return a.writeTemplate(c, &next, org)
}

// templateSettingsEqual compares everything a PATCH can change.
func templateSettingsEqual(a, b *db.Template) bool {
	x, y := *a, *b
	x.UpdatedAt, y.UpdatedAt = time.Time{}, time.Time{}
	return reflect.DeepEqual(x, y)
}

func (a *API) deleteTemplate(c *gin.Context) error {
	t, err := a.templateParam(c)
	if err != nil {
		return err
	}
	if err := requireTemplateAdmin(c); err != nil {
		return err
	}
	ctx := c.Request.Context()
	n, err := a.store.CountActiveWorkspacesByTemplate(ctx, t.ID)
	if err != nil {
		return err
	}
	if n > 0 {
		return httpapi.BadRequest("All workspaces must be deleted before a template can be removed.")
	}
	if err := a.store.SoftDeleteTemplate(ctx, t.ID); err != nil {
		return err
	}
	return httpapi.WriteMessage(c, http.StatusOK, "Template has been deleted!")
}

func (a *API) templateDAUs(c *gin.Context) error {
	tpl, err := a.templateParam(c)
	if err != nil {
		return err
	}
	if err := checkQueryKeys(c, "tz_offset"); err != nil {
		return err
	}
	offset := 0
	if raw := c.Query("tz_offset"); raw != "" {
		offset, err = strconv.Atoi(raw)
		if err != nil || offset < -12 || offset > 14 {
			return httpapi.BadRequest(invalidQuery).WithValidation("tz_offset", "Query param \"tz_offset\" must be an hour offset between -12 and 14.")
		}
	}
	zone := time.FixedZone("", offset*3600)
	today := time.Now().In(zone)
	start := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, zone).AddDate(0, 0, -60)
	// Amounts count the users who posted usage or started a workspace of
	// the template that day.
	amounts, err := a.store.GetTemplateDAUs(c.Request.Context(), tpl.ID, start, offset)
	if err != nil {
		return err
	}
	out := sdk.DAUsResponse{Entries: make([]sdk.DAUEntry, 0, 61), TZHourOffset: offset}
	for d := start; !d.After(today); d = d.AddDate(0, 0, 1) {
		date := d.Format(time.DateOnly)
		out.Entries = append(out.Entries, sdk.DAUEntry{Date: date, Amount: amounts[date]})
	}
	return httpapi.Write(c, http.StatusOK, out)
}

func (a *API) templateVersionsByTemplate(c *gin.Context) error {
	t, err := a.templateParam(c)
	if err != nil {
		return err
	}
	if err := checkQueryKeys(c, "after_id", "limit", "offset", "include_archived"); err != nil {
		return err
	}
	p, err := parsePagination(c)
	if err != nil {
		return err
	}
	includeArchived := false
	if raw := c.Query("include_archived"); raw != "" {
		includeArchived, err = strconv.ParseBool(raw)
		if err != nil {
			return httpapi.BadRequest(invalidQuery).WithValidation("include_archived", "Query param \"include_archived\" must be a valid boolean.")
		}
	}
	ctx := c.Request.Context()
	if p.AfterID != uuid.Nil {
		v, err := a.store.GetTemplateVersionByID(ctx, p.AfterID)
		if errors.Is(err, db.ErrNotFound) || err == nil && v.TemplateID.UUID != t.ID {
			return afterIDMissing(p.AfterID)
		}
		if err != nil {
			return err
		}
	}
	vs, err := a.store.ListTemplateVersions(ctx, t.ID, db.VersionPage{
		AfterID: p.AfterID, Limit: p.Limit, Offset: p.Offset, IncludeArchived: includeArchived,
	})
	if err != nil {
		return err
	}
	out, err := a.convertTemplateVersions(c, vs, t)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, out)
}

func (a *API) templateVersionByName(c *gin.Context) error {
	t, err := a.templateParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	v, err := a.store.GetTemplateVersionByTemplateAndName(ctx, t.ID, c.Param("templateversionname"))
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.Errorf(http.StatusNotFound, "No template version found by name %q.", c.Param("templateversionname"))
	}
	if err != nil {
		return err
	}
	job, err := a.store.GetJobByID(ctx, v.JobID)
	if err != nil {
		return err
	}
	out, err := a.convertTemplateVersionFull(c, v, job, t, nil, false)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, out)
}

func (a *API) setActiveTemplateVersion(c *gin.Context) error {
	t, err := a.templateParam(c)
	if err != nil {
		return err
	}
	if err := requireTemplateAdmin(c); err != nil {
		return err
	}
	var req sdk.UpdateActiveTemplateVersion
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	v, err := a.store.GetTemplateVersionByID(ctx, req.ID)
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.Errorf(http.StatusNotFound, "Template version not found.")
	}
	if err != nil {
		return err
	}
	if !v.TemplateID.Valid || v.TemplateID.UUID != t.ID {
		return httpapi.BadRequest("The provided template version doesn't belong to the specified template.")
	}
	job, err := a.store.GetJobByID(ctx, v.JobID)
	if err != nil {
		return err
	}
	if job.Status != db.JobSucceeded {
		return httpapi.Errorf(http.StatusForbidden, "Only versions that have been built successfully can be promoted.").
			WithDetail("Attempted to promote a version with a %s build", job.Status)
	}
	if v.Archived {
		return httpapi.BadRequest("The provided template version is archived.")
	}
	if err := a.store.SetActiveTemplateVersion(ctx, t.ID, v.ID); err != nil {
		return err
	}
	return httpapi.WriteMessage(c, http.StatusOK, "Updated the active template version!")
}
