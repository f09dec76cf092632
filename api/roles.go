package api

import (
	"net/http"
	"slices"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

// Coder's built-in roles, with the display names its API shows. The
// implied member roles are never stored nor listed as assignable.
var (
	siteRoleNames = map[string]string{
		db.RoleOwner:         "Owner",
		db.RoleUserAdmin:     "User Admin",
		db.RoleTemplateAdmin: "Template Admin",
		db.RoleAuditor:       "Auditor",
	}
	orgRoleNames = map[string]string{
		db.RoleOrgAdmin:                "Organization Admin",
		db.RoleOrgUserAdmin:            "Organization User Admin",
		db.RoleOrgTemplateAdmin:        "Organization Template Admin",
		db.RoleOrgAuditor:              "Organization Auditor",
		db.RoleOrgWorkspaceCreationBan: "Organization Workspace Creation Ban",
	}
)

// canAssignSiteRole: only owners assign site roles (a user admin may assign
// just the implied member role, as in Coder).
func canAssignSiteRole(actor *httpmw.Actor, role string) bool {
	return actor.IsOwner() || (role == db.RoleMember && actor.HasSiteRole(db.RoleUserAdmin))
}

// canAssignOrgRole: owners and organization admins assign any organization
// role; user admins and organization user admins only the implied member
// role.
func canAssignOrgRole(actor *httpmw.Actor, orgID uuid.UUID, role string) bool {
	if actor.IsOwner() || actor.HasOrgRole(orgID, db.RoleOrgAdmin) {
		return true
	}
	return role == db.RoleOrgMember && (actor.HasSiteRole(db.RoleUserAdmin) || actor.HasOrgRole(orgID, db.RoleOrgUserAdmin))
}

// canReadUsers: who may read every user (Coder's owner, user admin,
// template admin, auditor and organization admins); members read only
// themselves.
func canReadUsers(actor *httpmw.Actor) bool {
	return actor.HasSiteRole(db.RoleOwner, db.RoleUserAdmin, db.RoleTemplateAdmin, db.RoleAuditor) ||
		actor.HasAnyOrgRole(db.RoleOrgAdmin, db.RoleOrgUserAdmin)
}

// canManageUsers: who may create, suspend, activate and delete users and
// set their passwords.
func canManageUsers(actor *httpmw.Actor) bool {
	return actor.HasSiteRole(db.RoleOwner, db.RoleUserAdmin)
}

// canManageMembers: who may add and remove an organization's members.
func canManageMembers(actor *httpmw.Actor, orgID uuid.UUID) bool {
	return actor.HasSiteRole(db.RoleOwner, db.RoleUserAdmin) || actor.HasOrgRole(orgID, db.RoleOrgAdmin, db.RoleOrgUserAdmin)
}

func slimSiteRoles(roles []string) []sdk.SlimRole {
	out := make([]sdk.SlimRole, 0, len(roles))
	for _, r := range roles {
		out = append(out, sdk.SlimRole{Name: r, DisplayName: siteRoleNames[r]})
	}
	return out
}

func slimOrgRoles(orgID uuid.UUID, roles []string) []sdk.SlimRole {
	out := make([]sdk.SlimRole, 0, len(roles))
	for _, r := range roles {
		out = append(out, sdk.SlimRole{Name: r, DisplayName: orgRoleNames[r], OrganizationID: orgID.String()})
	}
	return out
}

func assignableRoles(names map[string]string, orgID uuid.UUID, can func(string) bool) []sdk.AssignableRoles {
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]sdk.AssignableRoles, 0, len(keys))
	for _, k := range keys {
		r := sdk.Role{
			Name: k, DisplayName: names[k],
			SitePermissions: []sdk.Permission{}, UserPermissions: []sdk.Permission{},
			OrganizationPermissions: []sdk.Permission{}, OrganizationMemberPermissions: []sdk.Permission{},
		}
		if orgID != uuid.Nil {
			r.OrganizationID = orgID.String()
		}
		out = append(out, sdk.AssignableRoles{Role: r, Assignable: can(k), BuiltIn: true})
	}
	return out
}

// checkRoles validates a requested role set against the catalogue and the
// caller's right to assign what changes; the implied member role may be
// listed and is dropped.
func checkRoles(names map[string]string, implied string, from, to []string, can func(string) bool) ([]string, error) {
	out := []string{}
	for _, r := range to {
		if r == implied {
			continue
		}
		if _, ok := names[r]; !ok {
			return nil, httpapi.BadRequest("%q is not a supported role", r)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	for _, r := range out {
		if !slices.Contains(from, r) && !can(r) {
			return nil, forbidden()
		}
	}
	for _, r := range from {
		if !slices.Contains(out, r) && !can(r) {
			return nil, forbidden()
		}
	}
	return out, nil
}

// forbidden is Coder's bare 403.
func forbidden() *httpapi.Error {
	return httpapi.Errorf(http.StatusForbidden, "Forbidden.")
}
