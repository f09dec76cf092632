package sdk

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
)

// LoginType is how a user signs in.
type LoginType string

// LoginType values.
const (
	LoginTypePassword LoginType = "password"
	LoginTypeGithub   LoginType = "github"
	LoginTypeOIDC     LoginType = "oidc"
	LoginTypeToken    LoginType = "token"
	LoginTypeNone     LoginType = "none"
)

// UserStatus is the account state of a user.
type UserStatus string

// UserStatus values.
const (
	UserStatusActive    UserStatus = "active"
	UserStatusDormant   UserStatus = "dormant"
	UserStatusSuspended UserStatus = "suspended"
)

// SlimRole names a role granted to a user.
type SlimRole struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	// OrganizationID is set for organization roles and omitted for site roles.
	OrganizationID string `json:"organization_id,omitempty"`
}

// User is a full user record.
type User struct {
	ID              uuid.UUID   `json:"id"`
	Username        string      `json:"username"`
	Name            string      `json:"name"`
	Email           string      `json:"email"`
	AvatarURL       string      `json:"avatar_url"`
	CreatedAt       time.Time   `json:"created_at"`
	UpdatedAt       time.Time   `json:"updated_at"`
	LastSeenAt      time.Time   `json:"last_seen_at"`
	Status          UserStatus  `json:"status"`
	LoginType       LoginType   `json:"login_type"`
	ThemePreference string      `json:"theme_preference"`
	OrganizationIDs []uuid.UUID `json:"organization_ids"` // never null
	Roles           []SlimRole  `json:"roles"`            // never null
}

// MinimalUser is the short user form embedded in other objects.
type MinimalUser struct {
	ID        uuid.UUID `json:"id"`
	Username  string    `json:"username"`
	Name      string    `json:"name"`
	AvatarURL string    `json:"avatar_url"`
}

// CreateFirstUserRequest is the body of POST /users/first.
type CreateFirstUserRequest struct {
	Email    string `json:"email" validate:"email"`
	Username string `json:"username" validate:"username"`
	Name     string `json:"name,omitempty" validate:"user_real_name"`
	Password string `json:"password"`
}

// CreateFirstUserResponse answers POST /users/first.
type CreateFirstUserResponse struct {
	UserID         uuid.UUID `json:"user_id"`
	OrganizationID uuid.UUID `json:"organization_id"`
}

// LoginWithPasswordRequest is the body of POST /users/login.
type LoginWithPasswordRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginWithPasswordResponse answers POST /users/login.
type LoginWithPasswordResponse struct {
	SessionToken string `json:"session_token"`
}

// CreateUserRequest is the body of POST /users.
type CreateUserRequest struct {
	Email    string `json:"email" validate:"email"`
	Username string `json:"username" validate:"username"`
	Name     string `json:"name,omitempty" validate:"user_real_name"`
	Password string `json:"password"`
	// LoginType defaults to password when empty.
	LoginType       LoginType   `json:"login_type"`
	OrganizationIDs []uuid.UUID `json:"organization_ids"`
}

// GenerateAPIKeyResponse answers POST /users/{user}/keys.
type GenerateAPIKeyResponse struct {
	Key string `json:"key"`
}

// AuthMethod says whether a sign-in method is enabled.
type AuthMethod struct {
	Enabled bool `json:"enabled"`
}

// AuthMethods answers GET /users/authmethods.
type AuthMethods struct {
	TermsOfServiceURL string     `json:"terms_of_service_url"`
	Password          AuthMethod `json:"password"`
	Github            AuthMethod `json:"github"`
	OIDC              AuthMethod `json:"oidc"`
}

// AuthMethods calls GET /api/v2/users/authmethods (no auth).
func (c *Client) AuthMethods(ctx context.Context) (AuthMethods, error) {
	return get[AuthMethods](ctx, c, "/api/v2/users/authmethods")
}

// HasFirstUser calls GET /api/v2/users/first (no auth): true on 200, false on
// 404.
func (c *Client) HasFirstUser(ctx context.Context) (bool, error) {
	res, err := c.Request(ctx, http.MethodGet, "/api/v2/users/first", nil)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	default:
		return false, ReadBodyAsError(res)
	}
}

// CreateFirstUser calls POST /api/v2/users/first (no auth; 201).
func (c *Client) CreateFirstUser(ctx context.Context, req CreateFirstUserRequest) (CreateFirstUserResponse, error) {
	return do[CreateFirstUserResponse](ctx, c, http.MethodPost, "/api/v2/users/first", req, createdOnly)
}

// LoginWithPassword calls POST /api/v2/users/login (no auth; 201). It does not
// store the token; call SetSessionToken with it.
func (c *Client) LoginWithPassword(ctx context.Context, req LoginWithPasswordRequest) (LoginWithPasswordResponse, error) {
	return do[LoginWithPasswordResponse](ctx, c, http.MethodPost, "/api/v2/users/login", req, createdOnly)
}

// Logout calls POST /api/v2/users/logout.
func (c *Client) Logout(ctx context.Context) error {
	return exec(ctx, c, http.MethodPost, "/api/v2/users/logout", nil, okOnly)
}

// User calls GET /api/v2/users/{user}; user is "me", a username or a UUID.
func (c *Client) User(ctx context.Context, user string) (User, error) {
	return get[User](ctx, c, "/api/v2/users/"+url.PathEscape(user))
}

// CreateUser calls POST /api/v2/users (201).
func (c *Client) CreateUser(ctx context.Context, req CreateUserRequest) (User, error) {
	return do[User](ctx, c, http.MethodPost, "/api/v2/users", req, createdOnly)
}

// CreateAPIKey calls POST /api/v2/users/{user}/keys (201) and returns a new
// session token.
func (c *Client) CreateAPIKey(ctx context.Context, user string) (GenerateAPIKeyResponse, error) {
	return do[GenerateAPIKeyResponse](ctx, c, http.MethodPost, fmt.Sprintf("/api/v2/users/%s/keys", url.PathEscape(user)), nil, createdOnly)
}

// UserQuietHoursScheduleResponse answers GET and PUT
// /users/{user}/quiet-hours.
type UserQuietHoursScheduleResponse struct {
	// RawSchedule is the daily cron spec in force (the deployment's
	// default unless UserSet).
	RawSchedule string `json:"raw_schedule"`
	UserSet     bool   `json:"user_set"`
	UserCanSet  bool   `json:"user_can_set"`
	// Time is the schedule's time of day (15:04) and Timezone its zone.
	Time     string    `json:"time"`
	Timezone string    `json:"timezone"`
	Next     time.Time `json:"next"`
}

// UpdateUserQuietHoursScheduleRequest is the body of
// PUT /users/{user}/quiet-hours; an empty schedule restores the default.
type UpdateUserQuietHoursScheduleRequest struct {
	Schedule string `json:"schedule"`
}

// UserQuietHoursSchedule calls GET /api/v2/users/{user}/quiet-hours.
func (c *Client) UserQuietHoursSchedule(ctx context.Context, user string) (UserQuietHoursScheduleResponse, error) {
	return get[UserQuietHoursScheduleResponse](ctx, c, "/api/v2/users/"+url.PathEscape(user)+"/quiet-hours")
}

// UpdateUserQuietHoursSchedule calls PUT /api/v2/users/{user}/quiet-hours.
func (c *Client) UpdateUserQuietHoursSchedule(ctx context.Context, user string, req UpdateUserQuietHoursScheduleRequest) (UserQuietHoursScheduleResponse, error) {
	return do[UserQuietHoursScheduleResponse](ctx, c, http.MethodPut, "/api/v2/users/"+url.PathEscape(user)+"/quiet-hours", req, okOnly)
}
