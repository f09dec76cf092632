package sdk

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
)

// APIKeyScope is a token's scope; berth's tokens always have full access.
type APIKeyScope string

// APIKeyScope values.
const (
	APIKeyScopeAll      APIKeyScope = "all"
	APIKeyScopeCoderAll APIKeyScope = "coder:all"
)

// APIAllowListTarget is one entry of a token's allow list; it travels as
// the string "<type>:<id>", "*:*" allowing everything.
type APIAllowListTarget string

// AllowAll is the allow list entry of berth's tokens.
const AllowAll APIAllowListTarget = "*:*"

// APIKey describes a session or token (never its secret).
type APIKey struct {
	ID              string               `json:"id"`
	UserID          uuid.UUID            `json:"user_id"`
	LastUsed        time.Time            `json:"last_used"`
	ExpiresAt       time.Time            `json:"expires_at"`
	CreatedAt       time.Time            `json:"created_at"`
	UpdatedAt       time.Time            `json:"updated_at"`
	LoginType       LoginType            `json:"login_type"`
	Scope           APIKeyScope          `json:"scope"`
	Scopes          []APIKeyScope        `json:"scopes"`
	TokenName       string               `json:"token_name"`
	LifetimeSeconds int64                `json:"lifetime_seconds"`
	AllowList       []APIAllowListTarget `json:"allow_list"`
}

// APIKeyWithOwner is an APIKey with its owner's username.
type APIKeyWithOwner struct {
	APIKey
	Username string `json:"username"`
}

// CreateTokenRequest is the body of POST /users/{user}/keys/tokens.
// Lifetime 0 means the deployment's default token lifetime.
type CreateTokenRequest struct {
	Lifetime  time.Duration `json:"lifetime"`
	Scope     APIKeyScope   `json:"scope,omitempty"`
	Scopes    []APIKeyScope `json:"scopes,omitempty"`
	TokenName string        `json:"token_name"`
}

// TokenConfig answers GET /users/{user}/keys/tokens/tokenconfig.
type TokenConfig struct {
	MaxTokenLifetime time.Duration `json:"max_token_lifetime"`
}

func keysPath(user string) string { return "/api/v2/users/" + url.PathEscape(user) + "/keys" }

// GetTokenConfig calls GET /api/v2/users/{user}/keys/tokens/tokenconfig.
func (c *Client) GetTokenConfig(ctx context.Context, user string) (TokenConfig, error) {
	return get[TokenConfig](ctx, c, keysPath(user)+"/tokens/tokenconfig")
}

// CreateToken calls POST /api/v2/users/{user}/keys/tokens (201).
func (c *Client) CreateToken(ctx context.Context, user string, req CreateTokenRequest) (GenerateAPIKeyResponse, error) {
	return do[GenerateAPIKeyResponse](ctx, c, http.MethodPost, keysPath(user)+"/tokens", req, createdOnly)
}

// Tokens calls GET /api/v2/users/{user}/keys/tokens; includeAll lists every
// user's tokens the caller may see.
func (c *Client) Tokens(ctx context.Context, user string, includeAll bool) ([]APIKeyWithOwner, error) {
	path := keysPath(user) + "/tokens"
	if includeAll {
		path += "?include_all=true"
	}
	return get[[]APIKeyWithOwner](ctx, c, path)
}

// APIKeyByName calls GET /api/v2/users/{user}/keys/tokens/{name}.
func (c *Client) APIKeyByName(ctx context.Context, user, name string) (APIKey, error) {
	return get[APIKey](ctx, c, keysPath(user)+"/tokens/"+url.PathEscape(name))
}

// APIKeyByID calls GET /api/v2/users/{user}/keys/{id}.
func (c *Client) APIKeyByID(ctx context.Context, user, id string) (APIKey, error) {
	return get[APIKey](ctx, c, keysPath(user)+"/"+url.PathEscape(id))
}

// DeleteAPIKey calls DELETE /api/v2/users/{user}/keys/{id} (204).
func (c *Client) DeleteAPIKey(ctx context.Context, user, id string) error {
	return exec(ctx, c, http.MethodDelete, keysPath(user)+"/"+url.PathEscape(id), nil, noContent)
}
