package sdk

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// UsersRequest filters and pages GET /users.
type UsersRequest struct {
	// Search is the q grammar: status:, role:, login_type:,
	// last_seen_before:, last_seen_after:, created_before:, created_after:
	// and free text (username or email).
	Search  string
	AfterID uuid.UUID
	Limit   int
	Offset  int
}

// GetUsersResponse answers GET /users.
type GetUsersResponse struct {
	Users []User `json:"users"` // never null
	Count int    `json:"count"`
}

// Users calls GET /api/v2/users.
func (c *Client) Users(ctx context.Context, req UsersRequest) (GetUsersResponse, error) {
	q := url.Values{}
	if req.Search != "" {
		q.Set("q", req.Search)
	}
	if req.AfterID != uuid.Nil {
		q.Set("after_id", req.AfterID.String())
	}
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if req.Offset > 0 {
		q.Set("offset", strconv.Itoa(req.Offset))
	}
	path := "/api/v2/users"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return get[GetUsersResponse](ctx, c, path)
}

// UpdateUserStatus calls PUT /api/v2/users/{user}/status/{suspend|activate}.
func (c *Client) UpdateUserStatus(ctx context.Context, user string, status UserStatus) (User, error) {
	var action string
	switch status {
	case UserStatusSuspended:
		action = "suspend"
	case UserStatusActive:
		action = "activate"
	default:
		return User{}, fmt.Errorf("invalid status %q", status)
	}
	return do[User](ctx, c, http.MethodPut, fmt.Sprintf("/api/v2/users/%s/status/%s", url.PathEscape(user), action), nil, okOnly)
}

// DeleteUser calls DELETE /api/v2/users/{user}.
func (c *Client) DeleteUser(ctx context.Context, user string) error {
	return exec(ctx, c, http.MethodDelete, "/api/v2/users/"+url.PathEscape(user), nil, okOnly)
}

// UpdateUserPasswordRequest is the body of PUT /users/{user}/password.
// OldPassword is required when users change their own password.
type UpdateUserPasswordRequest struct {
	OldPassword string `json:"old_password"`
	Password    string `json:"password" validate:"required"`
}

// UpdateUserPassword calls PUT /api/v2/users/{user}/password (204).
func (c *Client) UpdateUserPassword(ctx context.Context, user string, req UpdateUserPasswordRequest) error {
	return exec(ctx, c, http.MethodPut, "/api/v2/users/"+url.PathEscape(user)+"/password", req, noContent)
}

// UpdateRoles is the body of PUT /users/{user}/roles and
// PUT /organizations/{org}/members/{user}/roles.
type UpdateRoles struct {
	Roles []string `json:"roles"`
}

// UserRoles answers GET /users/{user}/roles.
type UserRoles struct {
	Roles             []string               `json:"roles"`
	OrganizationRoles map[uuid.UUID][]string `json:"organization_roles"`
}

// UpdateUserRoles calls PUT /api/v2/users/{user}/roles.
func (c *Client) UpdateUserRoles(ctx context.Context, user string, req UpdateRoles) (User, error) {
	return do[User](ctx, c, http.MethodPut, "/api/v2/users/"+url.PathEscape(user)+"/roles", req, okOnly)
}

// UserRoles calls GET /api/v2/users/{user}/roles.
func (c *Client) UserRoles(ctx context.Context, user string) (UserRoles, error) {
	return get[UserRoles](ctx, c, "/api/v2/users/"+url.PathEscape(user)+"/roles")
}

// Permission is one entry of a role's permission lists.
type Permission struct {
	Negate       bool   `json:"negate"`
	ResourceType string `json:"resource_type"`
	Action       string `json:"action"`
}

// Role is a role with its permissions.
type Role struct {
	Name                          string       `json:"name"`
	OrganizationID                string       `json:"organization_id,omitempty"`
	DisplayName                   string       `json:"display_name"`
	SitePermissions               []Permission `json:"site_permissions"`
	UserPermissions               []Permission `json:"user_permissions"`
	OrganizationPermissions       []Permission `json:"organization_permissions"`
	OrganizationMemberPermissions []Permission `json:"organization_member_permissions"`
}

// AssignableRoles is a role and whether the caller may assign it.
type AssignableRoles struct {
	Role
	Assignable bool `json:"assignable"`
	BuiltIn    bool `json:"built_in"`
}

// ListSiteRoles calls GET /api/v2/users/roles.
func (c *Client) ListSiteRoles(ctx context.Context) ([]AssignableRoles, error) {
	return get[[]AssignableRoles](ctx, c, "/api/v2/users/roles")
}

// ListOrganizationRoles calls GET /api/v2/organizations/{org}/members/roles.
func (c *Client) ListOrganizationRoles(ctx context.Context, org string) ([]AssignableRoles, error) {
	return get[[]AssignableRoles](ctx, c, "/api/v2/organizations/"+url.PathEscape(org)+"/members/roles")
}

// OrganizationMember is a user's membership of an organization.
type OrganizationMember struct {
	UserID         uuid.UUID  `json:"user_id"`
	OrganizationID uuid.UUID  `json:"organization_id"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	Roles          []SlimRole `json:"roles"` // never null
}

// OrganizationMemberWithUserData is a membership with its user's details.
type OrganizationMemberWithUserData struct {
	Username    string     `json:"username"`
	Name        string     `json:"name,omitempty"`
	AvatarURL   string     `json:"avatar_url,omitempty"`
	Email       string     `json:"email"`
	GlobalRoles []SlimRole `json:"global_roles"` // never null
	OrganizationMember
}

// OrganizationMembers calls GET /api/v2/organizations/{org}/members.
func (c *Client) OrganizationMembers(ctx context.Context, org string) ([]OrganizationMemberWithUserData, error) {
	return get[[]OrganizationMemberWithUserData](ctx, c, "/api/v2/organizations/"+url.PathEscape(org)+"/members")
}

// PostOrganizationMember calls POST /api/v2/organizations/{org}/members/{user}.
func (c *Client) PostOrganizationMember(ctx context.Context, org, user string) (OrganizationMember, error) {
	return do[OrganizationMember](ctx, c, http.MethodPost, "/api/v2/organizations/"+url.PathEscape(org)+"/members/"+url.PathEscape(user), nil, okOnly)
}

// DeleteOrganizationMember calls DELETE /api/v2/organizations/{org}/members/{user} (204).
func (c *Client) DeleteOrganizationMember(ctx context.Context, org, user string) error {
	return exec(ctx, c, http.MethodDelete, "/api/v2/organizations/"+url.PathEscape(org)+"/members/"+url.PathEscape(user), nil, noContent)
}

// UpdateOrganizationMemberRoles calls PUT /api/v2/organizations/{org}/members/{user}/roles.
func (c *Client) UpdateOrganizationMemberRoles(ctx context.Context, org, user string, req UpdateRoles) (OrganizationMember, error) {
	return do[OrganizationMember](ctx, c, http.MethodPut, "/api/v2/organizations/"+url.PathEscape(org)+"/members/"+url.PathEscape(user)+"/roles", req, okOnly)
}
