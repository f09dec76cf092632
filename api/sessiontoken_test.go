package api_test

import (
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// TestSessionTokenPlacement checks where a session token is accepted and
// that a 401 never repeats it: the query parameter only on streams (a
// websocket log follow, a workspace watch), the cookie Secure only when the
// access URL is https.
func TestSessionTokenPlacement(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true, API: api.Options{AccessURL: &url.URL{Scheme: "https", Host: "berth.example.com"}}})
	owner := d.CreateFirstUser(ctx)
	token := owner.Client.SessionToken()
	status := func(path string, opts ...sdk.RequestOption) (int, string) {
		t.Helper()
		res, err := d.Client().Request(ctx, http.MethodGet, path, nil, opts...)
		require.NoError(t, err)
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	inQuery := func(r *http.Request) {
		q := r.URL.Query()
		q.Set("coder_session_token", token)
		r.URL.RawQuery = q.Encode()
	}
	upgrade := func(r *http.Request) {
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
	}
	code, _ := status("/api/v2/users/me", inQuery)
	require.Equal(t, http.StatusUnauthorized, code, "a query token on a plain request")
	// On streams the query token authenticates: the missing resource then
	// answers 404 instead of 401.
	code, body := status("/api/v2/workspaces/"+uuid.NewString()+"/watch", inQuery)
	require.Equal(t, http.StatusNotFound, code, body)
	code, body = status("/api/v2/templateversions/"+uuid.NewString()+"/logs?follow", inQuery, upgrade)
	require.Equal(t, http.StatusNotFound, code, body)

	// A malformed token is refused without being repeated.
	const secret = "not-a-token-but-a-password-Hunter2"
	code, body = status("/api/v2/users/me", func(r *http.Request) { r.Header.Set("Coder-Session-Token", secret) })
	require.Equal(t, http.StatusUnauthorized, code)
	require.NotContains(t, body, "Hunter2")

	// Behind https the session cookie is Secure.
	res, err := d.Client().Request(ctx, http.MethodPost, "/api/v2/users/login",
		sdk.LoginWithPasswordRequest{Email: "owner@example.com", Password: berthtest.OwnerPassword})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	var found bool
	for _, ck := range res.Cookies() {
		if ck.Name == "coder_session_token" {
			found = true
			require.True(t, ck.Secure, "session cookie behind https")
		}
	}
	require.True(t, found)
}
