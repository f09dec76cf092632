package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/logctx"
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

// canReadOrg reports whether the caller may read an organization's
// resources: the organization's members, and site owners, template admins,
// user admins and auditors. Memberships come
// with the caller's session, so this costs no query.
func (a *API) canReadOrg(c *gin.Context, orgID uuid.UUID) (bool, error) {
	actor := httpmw.ActorFrom(c)
	return actor.MemberOf(orgID) ||
		actor.HasSiteRole(db.RoleOwner, db.RoleTemplateAdmin, db.RoleUserAdmin, db.RoleAuditor), nil
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
// see themselves; owners, user and template admins, auditors and
// organization admins see everyone (Coder's read permission on users).
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
	if u.ID != actor.User.ID && !canReadUsers(actor) {
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
	logctx.Add(c.Request.Context(), slog.String("template_version_id", v.ID.String()))
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
	logctx.Add(c.Request.Context(), slog.String("template_id", t.ID.String()))
	ok, err := a.canReadOrg(c, t.OrganizationID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, httpapi.NotFound()
	}
	return t, nil
}

// requireTemplateAdmin answers 403 unless the caller may manage templates:
// site owners and template admins.
func requireTemplateAdmin(c *gin.Context) error {
	if canManageTemplates(httpmw.ActorFrom(c)) {
		return nil
	}
	return httpapi.Errorf(http.StatusForbidden, "Forbidden.").WithDetail("You do not have permission to manage templates.")
}

// canManageTemplates: site owners and template admins.
func canManageTemplates(actor *httpmw.Actor) bool {
	return actor.HasSiteRole(db.RoleOwner, db.RoleTemplateAdmin)
}
