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
	"github.com/berth-dev/berth/jobs"
)

func (a *API) createWorkspaceInOrganization(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	owner, err := a.userParam(c)
	if err != nil {
		return err
	}
	return a.createWorkspace(c, org, owner)
}

func (a *API) createUserWorkspace(c *gin.Context) error {
	owner, err := a.userParam(c)
	if err != nil {
		return err
	}
	return a.createWorkspace(c, nil, owner)
}

func (a *API) createWorkspace(c *gin.Context, org *db.Organization, owner *db.User) error {
	var req sdk.CreateWorkspaceRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	actor := httpmw.ActorFrom(c)
	tpl, version, err := a.workspaceTemplate(c, req)
	if err != nil {
		return err
	}
	if org != nil && org.ID != tpl.OrganizationID {
		return httpapi.BadRequest("Template is not in organization %q.", org.Name)
	}
	if tpl.DeprecationMessage != "" {
		return httpapi.BadRequest("Template %q has been deprecated, and cannot be used to create a new workspace.", tpl.Name).
			WithDetail("%s", tpl.DeprecationMessage)
	}
	if owner.ID != actor.User.ID && !actor.IsOwner() {
		return httpapi.NotFound()
	}
	if _, err := a.store.GetOrganizationMember(ctx, tpl.OrganizationID, owner.ID); errors.Is(err, db.ErrNotFound) {
		return httpapi.BadRequest("User %q is not a member of the template's organization.", owner.Username)
	} else if err != nil {
		return err
	}
	ws, _, err := a.jobs.CreateWorkspace(ctx, jobs.WorkspaceRequest{
		Owner: owner, Template: tpl, Version: version, Name: req.Name, TTLMillis: req.TTLMillis,
		AutostartSchedule: req.AutostartSchedule, AutomaticUpdates: string(req.AutomaticUpdates),
		Parameters: parameterValues(req.RichParameterValues), PresetID: req.TemplateVersionPresetID, Initiator: actor.User,
		Admin: canManageTemplates(actor),
	})
	if err != nil {
		return jobError(err)
	}
	out, err := a.convertWorkspace(ctx, actor.User, ws)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusCreated, out)
}

// workspaceTemplate resolves the template (and version, when named) a new
// workspace is created from, if the caller may use it. A template or
// version of an organization the caller cannot read gets the same answer
// as one that does not exist, and nothing about it is checked first.
func (a *API) workspaceTemplate(c *gin.Context, req sdk.CreateWorkspaceRequest) (*db.Template, *db.TemplateVersion, error) {
	ctx := c.Request.Context()
	var version *db.TemplateVersion
	switch {
	case req.TemplateVersionID != uuid.Nil:
		var err error
		version, err = a.store.GetTemplateVersionByID(ctx, req.TemplateVersionID)
		if errors.Is(err, db.ErrNotFound) {
			version, err = nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if version != nil && version.TemplateID.Valid {
			if ok, err := a.canReadOrg(c, version.OrganizationID); err != nil {
				return nil, nil, err
			} else if !ok {
				version = nil
			}
		}
		if version == nil || !version.TemplateID.Valid {
			return nil, nil, httpapi.BadRequest("Template version %q doesn't exist.", req.TemplateVersionID).
				WithValidation("template_version_id", "template version not found")
		}
		if version.Archived {
			return nil, nil, httpapi.BadRequest("Archived template versions cannot be used to make a workspace.").
				WithValidation("template_version_id", "template version archived")
		}
		if req.TemplateID != uuid.Nil && req.TemplateID != version.TemplateID.UUID {
			return nil, nil, httpapi.BadRequest("Template ID must match template version's template ID.")
		}
		req.TemplateID = version.TemplateID.UUID
	case req.TemplateID == uuid.Nil:
		return nil, nil, httpapi.BadRequest("Validation failed.").
			WithValidation("template_id", "Either template_id or template_version_id must be set.")
	}
	tpl, err := a.store.GetTemplateByIDAny(ctx, req.TemplateID)
	if errors.Is(err, db.ErrNotFound) {
		tpl, err = nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if tpl != nil {
		if ok, err := a.canReadOrg(c, tpl.OrganizationID); err != nil {
			return nil, nil, err
		} else if !ok {
			tpl = nil
		}
	}
	if tpl == nil {
		return nil, nil, httpapi.BadRequest("Template %q doesn't exist.", req.TemplateID).
			WithValidation("template_id", "template not found")
	}
	if tpl.Deleted {
		return nil, nil, httpapi.NotFound()
	}
	return tpl, version, nil
}

// parameterValues converts request parameter values.
func parameterValues(in []sdk.WorkspaceBuildParameter) []db.ParameterValue {
	out := make([]db.ParameterValue, 0, len(in))
	for _, p := range in {
		out = append(out, db.ParameterValue{Name: p.Name, Value: p.Value})
	}
	return out
}
