package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/jobs"
)

// tokenUserParam loads {user} for the key routes: users manage their own
// keys, site owners everyone's (Coder's API key permissions). Anyone else
// gets the one 404.
func (a *API) tokenUserParam(c *gin.Context) (*db.User, error) {
	u, err := a.userParam(c)
	if err != nil {
		return nil, err
	}
	actor := httpmw.ActorFrom(c)
	if u.ID != actor.User.ID && !actor.IsOwner() {
		return nil, httpapi.NotFound()
	}
	return u, nil
}

// maxTokenLifetime is Coder's rule: owners get the admin maximum, everyone
// else the general one.
func (a *API) maxTokenLifetime(u *db.User) time.Duration {
	if u.IsOwner() {
		return a.opts.MaxAdminTokenLifetime
	}
	return a.opts.MaxTokenLifetime
}

func (a *API) tokenConfig(c *gin.Context) error {
	u, err := a.tokenUserParam(c)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, sdk.TokenConfig{MaxTokenLifetime: a.maxTokenLifetime(u)})
}

// postToken creates a named token with a lifetime within the maximum.
func (a *API) postToken(c *gin.Context) error {
	u, err := a.tokenUserParam(c)
	if err != nil {
		return err
	}
	var req sdk.CreateTokenRequest
	if err := httpapi.Read(c, &req); err != nil {
		return err
	}
	scopes := append([]sdk.APIKeyScope{}, req.Scopes...)
	if req.Scope != "" {
		scopes = append(scopes, req.Scope)
	}
	for _, s := range scopes {
		if s != sdk.APIKeyScopeAll && s != sdk.APIKeyScopeCoderAll {
			return httpapi.BadRequest("Failed to create API key.").WithDetail("invalid or unsupported API key scope: %q", s)
		}
	}
	lifetime := a.opts.DefaultTokenLifetime
	if req.Lifetime != 0 {
		max := a.maxTokenLifetime(u)
		switch {
		case req.Lifetime < 0:
			return httpapi.BadRequest("Failed to validate create API key request.").
				WithDetail("lifetime must be positive number greater than 0")
		case req.Lifetime > max:
			return httpapi.BadRequest("Failed to validate create API key request.").
				WithDetail("lifetime must be less than %v", max)
		}
		lifetime = req.Lifetime
	}
	name := req.TokenName
	if name == "" {
		name = jobs.GenerateName()
	}
	token, key, err := newAPIKey(u.ID, string(sdk.LoginTypeToken), lifetime)
	if err != nil {
		return err
	}
	key.TokenName = name
	if err := a.store.InsertAPIKey(c.Request.Context(), key); err != nil {
		var ce *db.ConflictError
		if errors.As(err, &ce) {
			return httpapi.Errorf(http.StatusConflict, "A token with name %q already exists.", name).
				WithValidation("name", "This value is already in use and should be unique.")
		}
		return err
	}
	return httpapi.Write(c, http.StatusCreated, sdk.GenerateAPIKeyResponse{Key: token})
}

func convertAPIKey(k *db.APIKey) sdk.APIKey {
	return sdk.APIKey{
		ID: k.ID, UserID: k.UserID, LastUsed: k.LastUsed, ExpiresAt: k.ExpiresAt, CreatedAt: k.CreatedAt,
		UpdatedAt: k.UpdatedAt, LoginType: sdk.LoginType(k.LoginType),
		Scope: sdk.APIKeyScopeAll, Scopes: []sdk.APIKeyScope{sdk.APIKeyScopeCoderAll},
		TokenName: k.TokenName, LifetimeSeconds: k.LifetimeSeconds,
		AllowList: []sdk.APIAllowListTarget{sdk.AllowAll},
	}
}

// tokens lists a user's tokens; include_all lists every user's for site
// owners and still only the caller's own for everyone else.
func (a *API) tokens(c *gin.Context) error {
	u, err := a.tokenUserParam(c)
	if err != nil {
		return err
	}
	all, _ := strconv.ParseBool(c.Query("include_all"))
	actor := httpmw.ActorFrom(c)
	owner := u.ID
	if all {
		owner = uuid.Nil
		if !actor.IsOwner() {
			owner = actor.User.ID
		}
	}
	ctx := c.Request.Context()
	ks, err := a.store.ListTokens(ctx, owner)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, 0, len(ks))
	for _, k := range ks {
		ids = append(ids, k.UserID)
	}
	users, err := a.store.GetUsersByIDs(ctx, ids)
	if err != nil {
		return err
	}
	out := make([]sdk.APIKeyWithOwner, 0, len(ks))
	for _, k := range ks {
		row := sdk.APIKeyWithOwner{APIKey: convertAPIKey(k)}
		if o := users[k.UserID]; o != nil {
			row.Username = o.Username
		}
		out = append(out, row)
	}
	return httpapi.Write(c, http.StatusOK, out)
}

func (a *API) apiKeyByName(c *gin.Context) error {
	u, err := a.tokenUserParam(c)
	if err != nil {
		return err
	}
	k, err := a.store.GetTokenByName(c.Request.Context(), u.ID, c.Param("keyname"))
	if err != nil {
		return notFoundAs(err)
	}
	return httpapi.Write(c, http.StatusOK, convertAPIKey(k))
}

// userKeyParam loads {keyid}, one of {user}'s keys.
func (a *API) userKeyParam(c *gin.Context) (*db.User, *db.APIKey, error) {
	u, err := a.tokenUserParam(c)
	if err != nil {
		return nil, nil, err
	}
	k, err := a.store.GetAPIKeyByID(c.Request.Context(), c.Param("keyid"))
	if err != nil {
		return nil, nil, notFoundAs(err)
	}
	if k.UserID != u.ID {
		return nil, nil, httpapi.NotFound()
	}
	return u, k, nil
}

func (a *API) apiKeyByID(c *gin.Context) error {
	_, k, err := a.userKeyParam(c)
	if err != nil {
		return err
	}
	return httpapi.Write(c, http.StatusOK, convertAPIKey(k))
}

// deleteAPIKey deletes a key; requests with it fail from then on.
func (a *API) deleteAPIKey(c *gin.Context) error {
	u, k, err := a.userKeyParam(c)
	if err != nil {
		return err
	}
	if err := a.store.DeleteUserAPIKey(c.Request.Context(), u.ID, k.ID); err != nil {
		return notFoundAs(err)
	}
	c.Status(http.StatusNoContent)
	return nil
}
