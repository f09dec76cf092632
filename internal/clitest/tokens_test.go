package clitest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// TestTokensCLI: coder tokens create, list, view and remove, and the
// created token works until it is removed.
func TestTokensCLI(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	c := newCLI(t, d, owner.Client.SessionToken())

	token := strings.TrimSpace(c.ok(ctx, "tokens", "create", "--name", "ci", "--lifetime", "24h"))
	require.Regexp(t, `^[a-zA-Z0-9]{10}-[a-zA-Z0-9]{22}$`, token)
	withToken := newCLI(t, d, token)
	require.Contains(t, withToken.ok(ctx, "users", "show", "me"), "owner@example.com")

	// Above the owner's maximum (7 days): the CLI refuses from tokenconfig.
	require.Contains(t, c.fails(ctx, "tokens", "create", "--name", "long", "--lifetime", "30d"), "greater than the maximum")

	var keys []sdk.APIKeyWithOwner
	require.NoError(t, json.Unmarshal([]byte(c.ok(ctx, "tokens", "list", "-o", "json")), &keys))
	require.Len(t, keys, 1)
	require.Equal(t, "ci", keys[0].TokenName)
	require.Equal(t, int64(24*3600), keys[0].LifetimeSeconds)
	require.True(t, strings.HasPrefix(token, keys[0].ID+"-"))
	require.Contains(t, c.ok(ctx, "tokens", "list"), "ci")

	require.Contains(t, c.ok(ctx, "tokens", "view", "ci"), keys[0].ID)
	require.Contains(t, c.ok(ctx, "tokens", "view", keys[0].ID), "ci")

	require.Contains(t, c.fails(ctx, "tokens", "create", "--name", "ci"), `A token with name "ci" already exists.`)

	c.ok(ctx, "tokens", "remove", "ci")
	out := withToken.fails(ctx, "users", "show", "me")
	require.Contains(t, out, "You are signed out or your session has expired.")
	require.NotContains(t, c.ok(ctx, "tokens", "list"), "ci")
	_ = uuid.Nil
}
