package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/api/search"
	"github.com/berth-dev/berth/db"
)

// users serves GET /users: Coder's user search, paged by username, with the
// total count. Callers who may not read other users see only themselves.
func (a *API) users(c *gin.Context) error {
	sf, err := search.ParseUserQuery(c.Query("q"))
	if err != nil {
		return searchError(err)
	}
	p, err := parsePagination(c)
	if err != nil {
		return err
	}
	actor := httpmw.ActorFrom(c)
	f := db.UserListFilter{
		Search: sf.Search, Statuses: sf.Statuses, Roles: sf.Roles, LoginTypes: sf.LoginTypes,
		LastSeenBefore: sf.LastSeenBefore, LastSeenAfter: sf.LastSeenAfter,
		CreatedBefore: sf.CreatedBefore, CreatedAfter: sf.CreatedAfter,
		AfterID: p.AfterID, Limit: p.Limit, Offset: p.Offset,
	}
	if !canReadUsers(actor) {
		f.OnlyID = uuid.NullUUID{UUID: actor.User.ID, Valid: true}
	}
	ctx := c.Request.Context()
	if p.AfterID != uuid.Nil {
		ok, err := a.store.UserExists(ctx, p.AfterID)
		if err != nil {
			return err
		}
		if !ok {
			return afterIDMissing(p.AfterID)
		}
	}
	resp := sdk.GetUsersResponse{Users: []sdk.User{}}
	if sf.GithubComUserID != 0 {
		// No user signs in with GitHub here.
		return httpapi.Write(c, http.StatusOK, resp)
	}
	us, total, err := a.store.ListUsers(ctx, f)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, 0, len(us))
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	orgs, err := a.store.GetOrganizationIDsByUsers(ctx, ids)
	if err != nil {
		return err
	}
	for _, u := range us {
		resp.Users = append(resp.Users, convertUser(u, orgs[u.ID]))
	}
	resp.Count = total
	return httpapi.Write(c, http.StatusOK, resp)
}

// manageableUserParam loads {user} for an action only user managers may
// take: 404 for callers who cannot read the user, 403 for readers who
// cannot manage users.
func (a *API) manageableUserParam(c *gin.Context) (*db.User, error) {
	u, err := a.userParam(c)
	if err != nil {
		return nil, err
	}
	if !canManageUsers(httpmw.ActorFrom(c)) {
		if u.ID == httpmw.ActorFrom(c).User.ID || canReadUsers(httpmw.ActorFrom(c)) {
			return nil, forbidden()
		}
		return nil, httpapi.NotFound()
	}
	return u, nil
}

func (a *API) suspendUser(c *gin.Context) error  { return a.putUserStatus(c, db.UserStatusSuspended) }
func (a *API) activateUser(c *gin.Context) error { return a.putUserStatus(c, db.UserStatusActive) }
func (a *API) writeUser(c *gin.Context, u *db.User) error {
	orgs, err := a.store.GetOrganizationIDsByUser(c.Request.Context(), u.ID)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertUser(u, orgs))
}

// putUserStatus suspends or activates a user. Authentication reads the
// status with every request, so a suspended user's sessions and tokens
// are refused from their next request on.
func (a *API) putUserStatus(c *gin.Context, status string) error {
	u, err := a.manageableUserParam(c)
	if err != nil {
		return err
	}
	actor := httpmw.ActorFrom(c)
	if status == db.UserStatusSuspended {
		switch {
		case u.ID == actor.User.ID:
			return httpapi.BadRequest("You cannot suspend yourself.")
		case u.IsOwner():
			return httpapi.BadRequest("You cannot suspend a user with the %q role. You must remove the role first.", db.RoleOwner)
		}
	}
	updated, err := a.store.UpdateUserStatus(c.Request.Context(), u.ID, status)
	if err != nil {
		return notFoundAs(err)
	}
	return a.writeUser(c, updated)
}

// deleteUser soft-deletes a user without workspaces; their keys go with
// them.
func (a *API) deleteUser(c *gin.Context) error {
	u, err := a.manageableUserParam(c)
	if err != nil {
		return err
	}
	if u.ID == httpmw.ActorFrom(c).User.ID {
		return httpapi.Errorf(http.StatusForbidden, "You cannot delete yourself!")
	}
	ctx := c.Request.Context()
	n, err := a.store.CountWorkspacesByOwner(ctx, u.ID)
	if err != nil {
		return err
	}
	if n > 0 {
		return httpapi.Errorf(http.StatusExpectationFailed, "You cannot delete a user that has workspaces. Delete their workspaces and try again!")
	}
	if err := a.store.DeleteUser(ctx, u.ID); err != nil {
		return notFoundAs(err)
	}
	return httpapi.WriteMessage(c, http.StatusOK, "User has been deleted!")
}

// putUserPassword changes a password and ends every other session and
// token of the user.
func (a *API) putUserPassword(c *gin.Context) error {
	u, err := a.userParam(c)
	if err != nil {
		return err
	}
	actor := httpmw.ActorFrom(c)
	self := u.ID == actor.User.ID
	if !self && !canManageUsers(actor) {
		return httpapi.NotFound()
	}
	var req sdk.UpdateUserPasswordRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	// The session's user carries no password hash: read it.
	if u, err = a.store.GetUserByID(c.Request.Context(), u.ID); err != nil {
		return notFoundAs(err)
	}
	if u.LoginType != string(sdk.LoginTypePassword) {
		return httpapi.BadRequest("Users without password login type cannot change their password.")
	}
	if self && req.OldPassword == "" {
		return httpapi.BadRequest("Old password is required.")
	}
	if err := validatePassword(req.Password); err != nil {
		return httpapi.BadRequest("Invalid password.").WithValidation("password", err.Error())
	}
	if req.OldPassword != "" && bcrypt.CompareHashAndPassword(u.HashedPassword, []byte(req.OldPassword)) != nil {
		return httpapi.BadRequest("Old password is incorrect.").WithValidation("old_password", "Old password is incorrect.")
	}
	if bcrypt.CompareHashAndPassword(u.HashedPassword, []byte(req.Password)) == nil {
		return httpapi.BadRequest("New password cannot match old password.")
	}
	hash, err := hashPassword(req.Password)
	if err != nil {
		return err
	}
	keep := ""
	if self {
		keep = actor.KeyID
	}
	if err := a.store.UpdateUserPassword(c.Request.Context(), u.ID, hash, keep); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// userRoles serves GET /users/{user}/roles: site roles and the roles in
// each organization.
func (a *API) userRoles(c *gin.Context) error {
	u, err := a.userParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	orgIDs, err := a.store.GetOrganizationIDsByUser(ctx, u.ID)
	if err != nil {
		return err
	}
	resp := sdk.UserRoles{Roles: append([]string{}, u.RBACRoles...), OrganizationRoles: map[uuid.UUID][]string{}}
	for _, o := range orgIDs {
		m, err := a.store.GetOrganizationMember(ctx, o, u.ID)
		if err != nil {
			return err
		}
		resp.OrganizationRoles[o] = append([]string{}, m.Roles...)
	}
	return httpapi.Write(c, http.StatusOK, resp)
}

// putUserRoles replaces a user's site roles.
func (a *API) putUserRoles(c *gin.Context) error {
	u, err := a.userParam(c)
	if err != nil {
		return err
	}
	actor := httpmw.ActorFrom(c)
	if u.ID == actor.User.ID {
		return httpapi.BadRequest("You cannot change your own roles.")
	}
	var req sdk.UpdateRoles
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	roles, err := checkRoles(siteRoleNames, db.RoleMember, u.RBACRoles, req.Roles,
		func(r string) bool { return canAssignSiteRole(actor, r) })
	if err != nil {
		return err
	}
	updated, err := a.store.UpdateUserRoles(c.Request.Context(), u.ID, roles)
	if err != nil {
		return notFoundAs(err)
	}
	return a.writeUser(c, updated)
}

// assignableSiteRoles serves GET /users/roles.
func (a *API) assignableSiteRoles(c *gin.Context) error {
	actor := httpmw.ActorFrom(c)
	return httpapi.Write(c, http.StatusOK, assignableRoles(siteRoleNames, uuid.Nil,
		func(r string) bool { return canAssignSiteRole(actor, r) }))
}

// assignableOrgRoles serves GET /organizations/{org}/members/roles.
func (a *API) assignableOrgRoles(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	actor := httpmw.ActorFrom(c)
	return httpapi.Write(c, http.StatusOK, assignableRoles(orgRoleNames, org.ID,
		func(r string) bool { return canAssignOrgRole(actor, org.ID, r) }))
}

func convertMember(m db.OrganizationMember) sdk.OrganizationMember {
	return sdk.OrganizationMember{
		UserID: m.UserID, OrganizationID: m.OrganizationID, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
		Roles: slimOrgRoles(m.OrganizationID, m.Roles),
	}
}

func convertMemberWithUser(m db.OrganizationMemberWithUser) sdk.OrganizationMemberWithUserData {
	return sdk.OrganizationMemberWithUserData{
		Username: m.User.Username, Name: m.User.Name, AvatarURL: m.User.AvatarURL, Email: m.User.Email,
		GlobalRoles: slimSiteRoles(m.User.RBACRoles), OrganizationMember: convertMember(m.Member),
	}
}

// organizationMembers serves GET /organizations/{org}/members: every
// member of the organization can see the others, as in Coder.
func (a *API) organizationMembers(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	ms, err := a.store.ListOrganizationMembers(c.Request.Context(), org.ID, uuid.NullUUID{})
	if err != nil {
		return err
	}
	out := make([]sdk.OrganizationMemberWithUserData, 0, len(ms))
	for _, m := range ms {
		out = append(out, convertMemberWithUser(m))
	}
	return httpapi.Write(c, http.StatusOK, out)
}

// memberParam loads {organization} and {user} for a membership change.
func (a *API) memberParam(c *gin.Context) (*db.Organization, *db.User, error) {
	org, err := a.organizationParam(c)
	if err != nil {
		return nil, nil, err
	}
	actor := httpmw.ActorFrom(c)
	if !canManageMembers(actor, org.ID) {
		return nil, nil, httpapi.NotFound()
	}
	u, err := a.anyUserParam(c)
	if err != nil {
		return nil, nil, err
	}
	return org, u, nil
}

// anyUserParam loads {user} for callers allowed to read every user.
func (a *API) anyUserParam(c *gin.Context) (*db.User, error) {
	raw := c.Param("user")
	ctx := c.Request.Context()
	if raw == "me" {
		return httpmw.ActorFrom(c).User, nil
	}
	var (
		u   *db.User
		err error
	)
	if id, perr := uuid.Parse(raw); perr == nil {
		u, err = a.store.GetUserByID(ctx, id)
	} else {
		u, err = a.store.GetUserByUsername(ctx, raw)
	}
	return u, notFoundAs(err)
}

// postOrganizationMember adds a user to an organization.
func (a *API) postOrganizationMember(c *gin.Context) error {
	org, u, err := a.memberParam(c)
	if err != nil {
		return err
	}
	now := db.Now()
	m := &db.OrganizationMember{UserID: u.ID, OrganizationID: org.ID, Roles: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := a.store.InsertOrganizationMember(c.Request.Context(), m); err != nil {
		var ce *db.ConflictError
		if errors.As(err, &ce) {
			return httpapi.BadRequest("User is already an organization member")
		}
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertMember(*m))
}

// deleteOrganizationMember removes a user from an organization.
func (a *API) deleteOrganizationMember(c *gin.Context) error {
	org, u, err := a.memberParam(c)
	if err != nil {
		return err
	}
	if u.ID == httpmw.ActorFrom(c).User.ID {
		return httpapi.BadRequest("cannot remove self from an organization")
	}
	if err := a.store.DeleteOrganizationMember(c.Request.Context(), org.ID, u.ID); err != nil {
		return notFoundAs(err)
	}
	c.Status(http.StatusNoContent)
	return nil
}

// putMemberRoles replaces a member's organization roles.
func (a *API) putMemberRoles(c *gin.Context) error {
	org, err := a.organizationParam(c)
	if err != nil {
		return err
	}
	u, err := a.anyUserParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	m, err := a.store.GetOrganizationMember(ctx, org.ID, u.ID)
	if err != nil {
		return notFoundAs(err)
	}
	actor := httpmw.ActorFrom(c)
	if u.ID == actor.User.ID {
		return httpapi.BadRequest("You cannot change your own organization roles.")
	}
	// Only those who manage the organization's members touch their roles,
	// even to change nothing.
	if !canManageMembers(actor, org.ID) {
		return forbidden()
	}
	var req sdk.UpdateRoles
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	roles, err := checkRoles(orgRoleNames, db.RoleOrgMember, m.Roles, req.Roles,
		func(r string) bool { return canAssignOrgRole(actor, org.ID, r) })
	if err != nil {
		return err
	}
	if err := a.store.UpdateOrganizationMemberRoles(ctx, org.ID, u.ID, roles); err != nil {
		return notFoundAs(err)
	}
	m.Roles, m.UpdatedAt = roles, db.Now()
	return httpapi.Write(c, http.StatusOK, convertMember(*m))
}
