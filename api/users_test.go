package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

func requireStatus(t *testing.T, err error, status int, message string) *sdk.Error {
	t.Helper()
	apiErr, ok := sdk.AsError(err)
	require.True(t, ok, "want *sdk.Error, got %v", err)
	require.Equal(t, status, apiErr.StatusCode(), apiErr.Error())
	if message != "" {
		require.Equal(t, message, apiErr.Response.Message)
	}
	return apiErr
}

func TestFirstUserLoginAndTokens(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	c := d.Client()

	bi, err := c.BuildInfo(ctx)
	require.NoError(t, err)
	require.Equal(t, "v2.30.0", bi.Version)

	// 404 before set-up, with the build header `coder login` checks.
	res, err := c.Request(ctx, http.MethodGet, "/api/v2/users/first", nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Equal(t, "v2.30.0", res.Header.Get("X-Coder-Build-Version"))
	require.Equal(t, "application/json", res.Header.Get("Content-Type"))
	has, err := c.HasFirstUser(ctx)
	require.NoError(t, err)
	require.False(t, has)

	_, err = c.CreateFirstUser(ctx, sdk.CreateFirstUserRequest{Email: "a@example.com", Username: "a", Password: "short"})
	apiErr := requireStatus(t, err, http.StatusBadRequest, "Password is invalid")
	require.Equal(t, "password", apiErr.Response.Validations[0].Field)

	owner := d.CreateFirstUser(ctx)
	has, err = c.HasFirstUser(ctx)
	require.NoError(t, err)
	require.True(t, has)
	_, err = c.CreateFirstUser(ctx, sdk.CreateFirstUserRequest{Email: "b@example.com", Username: "b", Password: berthtest.OwnerPassword})
	requireStatus(t, err, http.StatusConflict, "The initial user has already been created.")

	_, err = c.LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "owner@example.com", Password: "wrong"})
	requireStatus(t, err, http.StatusUnauthorized, "Incorrect email or password.")
	_, err = c.LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "nobody@example.com", Password: "wrong"})
	requireStatus(t, err, http.StatusUnauthorized, "Incorrect email or password.")

	me, err := owner.Client.User(ctx, "me")
	require.NoError(t, err)
	require.Equal(t, owner.UserID, me.ID)
	require.Equal(t, "owner", me.Username)
	require.Equal(t, []sdk.SlimRole{{Name: "owner", DisplayName: "Owner"}}, me.Roles)
	require.Equal(t, owner.OrganizationID, me.OrganizationIDs[0])

	orgs, err := owner.Client.OrganizationsByUser(ctx, "me")
	require.NoError(t, err)
	require.Len(t, orgs, 1)
	require.Equal(t, "coder", orgs[0].Name)
	require.True(t, orgs[0].IsDefault)
	for _, ref := range []string{owner.OrganizationID.String(), "coder", "default"} {
		org, err := owner.Client.Organization(ctx, ref)
		require.NoError(t, err, ref)
		require.Equal(t, owner.OrganizationID, org.ID)
	}
	_, err = owner.Client.Organization(ctx, "nope")
	requireStatus(t, err, http.StatusNotFound, "Resource not found or you do not have access to this resource")

	// The token works as header and cookie (the query parameter only on
	// streams: TestSessionTokenPlacement).
	token := owner.Client.SessionToken()
	for name, opt := range map[string]sdk.RequestOption{
		"cookie": func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "coder_session_token", Value: token}) },
	} {
		res, err := c.Request(ctx, http.MethodGet, "/api/v2/users/me", nil, opt)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, name)
	}

	_, err = c.User(ctx, "me")
	apiErr = requireStatus(t, err, http.StatusUnauthorized, "You are signed out or your session has expired. Please sign in again to continue.")
	require.Equal(t, `Cookie "coder_session_token" or query parameter must be provided.`, apiErr.Response.Detail)
	bad := d.Client()
	bad.SetSessionToken("abcdefghij-0123456789012345678901")
	_, err = bad.User(ctx, "me")
	requireStatus(t, err, http.StatusUnauthorized, "You are signed out or your session has expired. Please sign in again to continue.")

	// A member sees only themselves; owners create them.
	member, err := owner.Client.CreateUser(ctx, sdk.CreateUserRequest{
		Email: "m@example.com", Username: "member", Password: berthtest.OwnerPassword, LoginType: sdk.LoginTypePassword,
	})
	require.NoError(t, err)
	require.Empty(t, member.Roles)
	_, err = owner.Client.CreateUser(ctx, sdk.CreateUserRequest{
		Email: "m@example.com", Username: "member", Password: berthtest.OwnerPassword, LoginType: sdk.LoginTypePassword,
	})
	requireStatus(t, err, http.StatusConflict, "User already exists.")
	mc := d.Client()
	login, err := mc.LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "m@example.com", Password: berthtest.OwnerPassword})
	require.NoError(t, err)
	mc.SetSessionToken(login.SessionToken)
	_, err = mc.User(ctx, "owner")
	requireStatus(t, err, http.StatusNotFound, "")
	key, err := mc.CreateAPIKey(ctx, "me")
	require.NoError(t, err)
	kc := d.Client()
	kc.SetSessionToken(key.Key)
	got, err := kc.User(ctx, "me")
	require.NoError(t, err)
	require.Equal(t, member.ID, got.ID)

	require.NoError(t, mc.Logout(ctx))
	_, err = mc.User(ctx, "me")
	requireStatus(t, err, http.StatusUnauthorized, "")
}
