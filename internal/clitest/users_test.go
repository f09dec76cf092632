package clitest_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// TestUsersCLI: coder users list, show, create, edit-roles, suspend,
// activate and delete.
func TestUsersCLI(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	c := newCLI(t, d, owner.Client.SessionToken())

	c.ok(ctx, "users", "create", "--username", "alice", "--email", "alice@example.com", "--full-name", "Alice A")
	out := c.ok(ctx, "users", "list", "-o", "json")
	var users []sdk.User
	require.NoError(t, json.Unmarshal([]byte(out), &users))
	require.Len(t, users, 2)
	require.Equal(t, "alice", users[0].Username)
	require.Equal(t, sdk.UserStatusDormant, users[0].Status)
	require.Equal(t, "owner", users[1].Username)

	out = c.ok(ctx, "users", "show", "alice", "-o", "json")
	var alice sdk.User
	require.NoError(t, json.Unmarshal([]byte(out), &alice))
	require.Equal(t, "alice@example.com", alice.Email)

	c.ok(ctx, "users", "edit-roles", "alice", "--roles", "template-admin,auditor", "-y")
	got, err := owner.Client.User(ctx, "alice")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"template-admin", "auditor"}, roleNames(got.Roles))

	c.yes(ctx, "users", "suspend", "alice")
	got, err = owner.Client.User(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, sdk.UserStatusSuspended, got.Status)
	c.yes(ctx, "users", "activate", "alice")
	got, err = owner.Client.User(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, sdk.UserStatusActive, got.Status)

	require.Contains(t, c.fails(ctx, "users", "suspend", "owner"), "You cannot suspend yourself.")

	c.yes(ctx, "users", "delete", "alice")
	_, err = owner.Client.User(ctx, "alice")
	require.True(t, sdk.IsStatus(err, 404), "%v", err)
}

func roleNames(rs []sdk.SlimRole) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}
