package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	member, u := newUser(ctx, t, d, owner, "member")

	cfg, err := c.GetTokenConfig(ctx, "me")
	require.NoError(t, err)
	require.Equal(t, 7*24*time.Hour, cfg.MaxTokenLifetime, "owners get the admin maximum")
	cfg, err = member.GetTokenConfig(ctx, "me")
	require.NoError(t, err)
	require.Equal(t, (100*365+25)*24*time.Hour, cfg.MaxTokenLifetime)

	key, err := member.CreateToken(ctx, "me", sdk.CreateTokenRequest{TokenName: "ci", Lifetime: time.Hour})
	require.NoError(t, err)
	_, err = withToken(d, key.Key).User(ctx, "me")
	require.NoError(t, err)
	_, err = member.CreateToken(ctx, "me", sdk.CreateTokenRequest{TokenName: "CI"})
	e := requireStatus(t, err, http.StatusConflict, `A token with name "CI" already exists.`)
	require.Equal(t, "name", e.Response.Validations[0].Field)
	_, err = c.CreateToken(ctx, "me", sdk.CreateTokenRequest{TokenName: "long", Lifetime: 8 * 24 * time.Hour})
	e = requireStatus(t, err, http.StatusBadRequest, "Failed to validate create API key request.")
	require.Equal(t, "lifetime must be less than 168h0m0s", e.Response.Detail)
	_, err = c.CreateToken(ctx, "me", sdk.CreateTokenRequest{Lifetime: -time.Hour})
	requireStatus(t, err, http.StatusBadRequest, "Failed to validate create API key request.")
	_, err = c.CreateToken(ctx, "me", sdk.CreateTokenRequest{Scope: "application_connect"})
	requireStatus(t, err, http.StatusBadRequest, "Failed to create API key.")

	// Owners create tokens for others; members cannot reach anyone else's.
	forMember, err := c.CreateToken(ctx, "member", sdk.CreateTokenRequest{TokenName: "from-owner"})
	require.NoError(t, err)
	got, err := withToken(d, forMember.Key).User(ctx, "me")
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
	_, err = member.CreateToken(ctx, "owner", sdk.CreateTokenRequest{})
	requireStatus(t, err, http.StatusNotFound, "")
	_, err = member.Tokens(ctx, "owner", false)
	requireStatus(t, err, http.StatusNotFound, "")
	_, err = c.CreateToken(ctx, "me", sdk.CreateTokenRequest{TokenName: "mine"})
	require.NoError(t, err)

	keys, err := member.Tokens(ctx, "me", false)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	require.Equal(t, "ci", keys[0].TokenName)
	require.Equal(t, "member", keys[0].Username)
	require.Equal(t, int64(3600), keys[0].LifetimeSeconds)
	require.Equal(t, sdk.LoginTypeToken, keys[0].LoginType)
	require.Equal(t, "from-owner", keys[1].TokenName)
	require.Equal(t, int64(7*24*3600), keys[1].LifetimeSeconds, "the default token lifetime")
	all, err := member.Tokens(ctx, "me", true)
	require.NoError(t, err)
	require.Len(t, all, 2, "include_all shows members only their own")
	all, err = c.Tokens(ctx, "me", true)
	require.NoError(t, err)
	require.Len(t, all, 3, "and owners everyone's")

	byName, err := member.APIKeyByName(ctx, "me", "ci")
	require.NoError(t, err)
	require.Equal(t, keys[0].ID, byName.ID)
	byID, err := member.APIKeyByID(ctx, "me", byName.ID)
	require.NoError(t, err)
	require.Equal(t, "ci", byID.TokenName)
	_, err = member.APIKeyByName(ctx, "me", "nope")
	requireStatus(t, err, http.StatusNotFound, "")
	_, err = member.APIKeyByID(ctx, "owner", byName.ID)
	requireStatus(t, err, http.StatusNotFound, "")
	_, err = c.APIKeyByID(ctx, "me", byName.ID)
	requireStatus(t, err, http.StatusNotFound, "") // another user's key under /users/me

	require.NoError(t, member.DeleteAPIKey(ctx, "me", byName.ID))
	_, err = withToken(d, key.Key).User(ctx, "me")
	requireStatus(t, err, http.StatusUnauthorized, "")
	requireStatus(t, member.DeleteAPIKey(ctx, "me", byName.ID), http.StatusNotFound, "")
}
