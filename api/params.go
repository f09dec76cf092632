package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/db"
)

// parseUUID parses a path or body ID, answering Coder's 400 when malformed.
func parseUUID(raw string) (uuid.UUID, error) {
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil, httpapi.BadRequest("Invalid UUID %q.", raw).WithDetail("%s", err.Error())
	}
	return id, nil
}

// notFoundAs turns db.ErrNotFound into the one 404.
func notFoundAs(err error) error {
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.NotFound()
	}
	return err
}

// canReadOrg reports whether the caller may read an organization's resources.
func (a *API) canReadOrg(c *gin.Context, orgID uuid.UUID) (bool, error) {
	actor := httpmw.ActorFrom(c)
	if actor.IsOwner() {
		return true, nil
	}
	_, err := a.store.GetOrganizationMember(c.Request.Context(), orgID, actor.User.ID)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// organizationParam loads {organization}: a UUID, a name or "default".
func (a *API) organizationParam(c *gin.Context) (*db.Organization, error) {
	org, err := a.lookupOrganization(c.Request.Context(), c.Param("organization"))
	if err != nil {
		return nil, notFoundAs(err)
	}
	ok, err := a.canReadOrg(c, org.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, httpapi.NotFound()
	}
	return org, nil
}

// lookupOrganization finds an organization by UUID, name or "default".
func (a *API) lookupOrganization(ctx context.Context, ref string) (*db.Organization, error) {
	if id, err := uuid.Parse(ref); err == nil {
		return a.store.GetOrganizationByID(ctx, id)
	}
	if ref == "default" {
		return a.store.GetDefaultOrganization(ctx)
	}
	return a.store.GetOrganizationByName(ctx, ref)
}

// userParam loads {user}: "me", a username or a UUID. Members may only
// see themselves.
func (a *API) userParam(c *gin.Context) (*db.User, error) {
	actor := httpmw.ActorFrom(c)
	raw := c.Param("user")
	ctx := c.Request.Context()
	var (
		u   *db.User
		err error
	)
	switch id, perr := uuid.Parse(raw); {
	case raw == "me":
		return actor.User, nil
	case perr == nil:
		u, err = a.store.GetUserByID(ctx, id)
	default:
		u, err = a.store.GetUserByUsername(ctx, raw)
	}
	if err != nil {
		return nil, notFoundAs(err)
	}
	if u.ID != actor.User.ID && !actor.IsOwner() {
		return nil, httpapi.NotFound()
	}
	return u, nil
}

// templateVersionParam loads {templateversion} if the caller may read it.
func (a *API) templateVersionParam(c *gin.Context) (*db.TemplateVersion, error) {
	id, err := parseUUID(c.Param("templateversion"))
	if err != nil {
		return nil, err
	}
	v, err := a.store.GetTemplateVersionByID(c.Request.Context(), id)
	if err != nil {
		return nil, notFoundAs(err)
	}
	ok, err := a.canReadOrg(c, v.OrganizationID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, httpapi.NotFound()
	}
	return v, nil
}

// templateParam loads {template} if the caller may read it.
func (a *API) templateParam(c *gin.Context) (*db.Template, error) {
	id, err := parseUUID(c.Param("template"))
	if err != nil {
		return nil, err
	}
	t, err := a.store.GetTemplateByID(c.Request.Context(), id)
	if err != nil {
		return nil, notFoundAs(err)
	}
	ok, err := a.canReadOrg(c, t.OrganizationID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, httpapi.NotFound()
	}
	return t, nil
}

// requireTemplateAdmin answers 403 unless the caller may manage templates.
func requireTemplateAdmin(c *gin.Context) error {
	if httpmw.ActorFrom(c).IsOwner() {
		return nil
	}
	return httpapi.Errorf(http.StatusForbidden, "Forbidden.").WithDetail("You do not have permission to manage templates.")
}
