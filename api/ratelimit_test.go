package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/provisioner/echo"
)

// requestsBefore429 calls do until it answers 429 (at most max times) and
// returns how many calls passed, after checking the 429 carries Coder's
// message for limit.
func requestsBefore429(t *testing.T, limit, max int, do func() error) int {
	t.Helper()
	for i := range max {
		err := do()
		if apiErr, ok := sdk.AsError(err); ok && apiErr.StatusCode() == http.StatusTooManyRequests {
			require.Equal(t, fmt.Sprintf("You've been rate limited for sending more than %d requests in 1m0s.", limit),
				apiErr.Response.Message)
			return i
		}
	}
	t.Fatalf("no 429 within %d requests", max)
	return 0
}

// TestRateLimits checks the per-user API and upload limits and the per-IP
// login limit (shared by the first-user route), with Coder's 429. A sliding
// window never counts more requests than were made, so no 429 comes before
// the limit; one may come a little after it when the test crosses a minute.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const apiLimit, loginLimit, filesLimit = 20, 5, 2
	d := berthtest.New(t, berthtest.Options{NoWorker: true, API: api.Options{
		RateLimitAPI: apiLimit, RateLimitLogin: loginLimit, RateLimitFiles: filesLimit,
	}})
	owner := d.CreateFirstUser(ctx) // 2 login-limited requests
	_, err := owner.Client.CreateUser(ctx, sdk.CreateUserRequest{
		Email: "m@example.com", Username: "member", Password: berthtest.OwnerPassword, LoginType: sdk.LoginTypePassword,
	})
	require.NoError(t, err)
	member := d.Client()
	login, err := member.LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "m@example.com", Password: berthtest.OwnerPassword}) // 3
	require.NoError(t, err)
	member.SetSessionToken(login.SessionToken)

	tarball, err := echo.TarJSON(`{"version": 1}`)
	require.NoError(t, err)
	upload := func(c *sdk.Client) func() error {
		return func() error {
			_, err := c.Upload(ctx, sdk.ContentTypeTar, bytes.NewReader(tarball))
			return err
		}
	}
	require.GreaterOrEqual(t, requestsBefore429(t, filesLimit, filesLimit+3, upload(owner.Client)), filesLimit)
	require.NoError(t, upload(member)(), "the upload limit is per user")

	me := func(c *sdk.Client) func() error {
		return func() error { _, err := c.User(ctx, "me"); return err }
	}
	require.GreaterOrEqual(t, requestsBefore429(t, apiLimit, apiLimit+5, me(owner.Client)), apiLimit-filesLimit-4)
	require.NoError(t, me(member)(), "the API limit is per user")

	// Once a user exists, the first-user route answers 409 before it
	// checks (and hashes) the password, as Coder does.
	_, err = d.Client().CreateFirstUser(ctx, sdk.CreateFirstUserRequest{Email: "x@example.com", Username: "x", Password: "weak"}) // 4
	requireStatus(t, err, http.StatusConflict, "The initial user has already been created.")
	wrong := func() error {
		_, err := d.Client().LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "m@example.com", Password: "wrong"})
		return err
	}
	require.GreaterOrEqual(t, requestsBefore429(t, loginLimit, loginLimit+3, wrong), 1)
	_, err = d.Client().CreateFirstUser(ctx, sdk.CreateFirstUserRequest{Email: "x@example.com", Username: "x", Password: "weak"})
	requireStatus(t, err, http.StatusTooManyRequests, "")
}
