package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// newUser creates a member with the owner's password and returns a client
// signed in as them.
func newUser(ctx context.Context, t *testing.T, d *berthtest.Deployment, owner berthtest.Owner, username string) (*sdk.Client, sdk.User) {
	t.Helper()
	u, err := owner.Client.CreateUser(ctx, sdk.CreateUserRequest{
		Email: username + "@example.com", Username: username, Password: berthtest.OwnerPassword,
		LoginType: sdk.LoginTypePassword, OrganizationIDs: []uuid.UUID{owner.OrganizationID},
	})
	require.NoError(t, err)
	return login(ctx, t, d, username, berthtest.OwnerPassword), u
}

func login(ctx context.Context, t *testing.T, d *berthtest.Deployment, username, password string) *sdk.Client {
	t.Helper()
	c := d.Client()
	res, err := c.LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: username + "@example.com", Password: password})
	require.NoError(t, err)
	c.SetSessionToken(res.SessionToken)
	return c
}

// withToken is a client using token.
func withToken(d *berthtest.Deployment, token string) *sdk.Client {
	c := d.Client()
	c.SetSessionToken(token)
	return c
}

func TestUsersList(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	for _, name := range []string{"carol", "alice", "bob"} {
		_, err := c.CreateUser(ctx, sdk.CreateUserRequest{
			Email: name + "@example.com", Username: name, Password: berthtest.OwnerPassword,
			OrganizationIDs: []uuid.UUID{owner.OrganizationID},
		})
		require.NoError(t, err)
	}
	names := func(r sdk.GetUsersResponse) []string {
		out := []string{}
		for _, u := range r.Users {
			out = append(out, u.Username)
		}
		return out
	}

	all, err := c.Users(ctx, sdk.UsersRequest{})
	require.NoError(t, err)
	require.Equal(t, 4, all.Count)
	require.Equal(t, []string{"alice", "bob", "carol", "owner"}, names(all), "by username")
	require.Equal(t, sdk.UserStatusDormant, all.Users[0].Status, "new users are dormant")
	require.Equal(t, []uuid.UUID{owner.OrganizationID}, all.Users[0].OrganizationIDs)

	page, err := c.Users(ctx, sdk.UsersRequest{Limit: 2, Offset: 1})
	require.NoError(t, err)
	require.Equal(t, 4, page.Count, "the count is before paging")
	require.Equal(t, []string{"bob", "carol"}, names(page))
	page, err = c.Users(ctx, sdk.UsersRequest{AfterID: all.Users[1].ID})
	require.NoError(t, err)
	require.Equal(t, []string{"carol", "owner"}, names(page))
	_, err = c.Users(ctx, sdk.UsersRequest{AfterID: uuid.New()})
	requireStatus(t, err, http.StatusBadRequest, "")

	for q, want := range map[string][]string{
		"status:dormant":      {"alice", "bob", "carol"},
		"status:active":       {"owner"},
		"role:owner":          {"owner"},
		"role:member":         {"alice", "bob", "carol", "owner"},
		"ALI":                 {"alice"},
		"bob@example":         {"bob"},
		"login_type:password": {"alice", "bob", "carol", "owner"},
		"login_type:oidc":     {},
		`last_seen_after:"2000-01-01T00:00:00Z" status:dormant,active`: {"alice", "bob", "carol", "owner"},
		`created_before:"2000-01-01T00:00:00Z"`:                        {},
		"github_com_user_id:7":                                         {},
	} {
		r, err := c.Users(ctx, sdk.UsersRequest{Search: q})
		require.NoError(t, err, q)
		require.Equal(t, want, names(r), q)
		require.Equal(t, len(want), r.Count, q)
	}
	for _, q := range []string{"status:bogus", "nope:1", "last_seen_after:yesterday"} {
		_, err := c.Users(ctx, sdk.UsersRequest{Search: q})
		requireStatus(t, err, http.StatusBadRequest, "Invalid user search query.")
	}

	// The first authenticated request makes a dormant user active.
	alice := login(ctx, t, d, "alice", berthtest.OwnerPassword)
	me, err := alice.User(ctx, "me")
	require.NoError(t, err)
	require.Equal(t, sdk.UserStatusActive, me.Status)
	// Members list only themselves.
	mine, err := alice.Users(ctx, sdk.UsersRequest{})
	require.NoError(t, err)
	require.Equal(t, []string{"alice"}, names(mine))
	require.Equal(t, 1, mine.Count)
}

// TestSuspendedAndDeletedUsers (issue 15 row 8): a suspended or deleted
// user's sessions and tokens are refused on their very next request.
func TestSuspendedAndDeletedUsers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	member, u := newUser(ctx, t, d, owner, "member")
	key, err := member.CreateToken(ctx, "me", sdk.CreateTokenRequest{TokenName: "t"})
	require.NoError(t, err)
	token := withToken(d, key.Key)
	_, err = token.User(ctx, "me")
	require.NoError(t, err)

	// Members may not suspend anyone; nobody suspends themselves or an owner.
	_, err = member.UpdateUserStatus(ctx, "owner", sdk.UserStatusSuspended)
	requireStatus(t, err, http.StatusNotFound, "")
	_, err = member.UpdateUserStatus(ctx, "me", sdk.UserStatusSuspended)
	requireStatus(t, err, http.StatusForbidden, "Forbidden.")
	_, err = c.UpdateUserStatus(ctx, "me", sdk.UserStatusSuspended)
	requireStatus(t, err, http.StatusBadRequest, "You cannot suspend yourself.")

	suspended, err := c.UpdateUserStatus(ctx, u.ID.String(), sdk.UserStatusSuspended)
	require.NoError(t, err)
	require.Equal(t, sdk.UserStatusSuspended, suspended.Status)
	for _, cl := range []*sdk.Client{member, token} {
		_, err = cl.User(ctx, "me")
		requireStatus(t, err, http.StatusUnauthorized, `User is not active (status = "suspended"). Contact an admin to reactivate your account.`)
	}
	_, err = d.Client().LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "member@example.com", Password: berthtest.OwnerPassword})
	requireStatus(t, err, http.StatusUnauthorized, "Your account is suspended. Contact an admin to reactivate your account.")

	// Activation restores the same sessions.
	active, err := c.UpdateUserStatus(ctx, "member", sdk.UserStatusActive)
	require.NoError(t, err)
	require.Equal(t, sdk.UserStatusActive, active.Status)
	_, err = token.User(ctx, "me")
	require.NoError(t, err)

	// An owner cannot be suspended.
	_, err = c.UpdateUserRoles(ctx, "member", sdk.UpdateRoles{Roles: []string{"owner"}})
	require.NoError(t, err)
	other, _ := newUser(ctx, t, d, owner, "other")
	_, err = other.UpdateUserStatus(ctx, "member", sdk.UserStatusSuspended)
	requireStatus(t, err, http.StatusNotFound, "")
	_, err = c.UpdateUserStatus(ctx, "member", sdk.UserStatusSuspended)
	requireStatus(t, err, http.StatusBadRequest, `You cannot suspend a user with the "owner" role. You must remove the role first.`)
	_, err = c.UpdateUserRoles(ctx, "member", sdk.UpdateRoles{Roles: []string{}})
	require.NoError(t, err)

	// Deleting: never yourself, never a user with workspaces.
	requireStatus(t, c.DeleteUser(ctx, "me"), http.StatusForbidden, "You cannot delete yourself!")
	requireStatus(t, member.DeleteUser(ctx, "other"), http.StatusNotFound, "")
	require.NoError(t, c.DeleteUser(ctx, "member"))
	for _, cl := range []*sdk.Client{member, token} {
		_, err = cl.User(ctx, "me")
		requireStatus(t, err, http.StatusUnauthorized, "You are signed out or your session has expired. Please sign in again to continue.")
	}
	_, err = c.User(ctx, "member")
	requireStatus(t, err, http.StatusNotFound, "")
	// The username is free again.
	_, again := newUser(ctx, t, d, owner, "member")
	require.NotEqual(t, u.ID, again.ID)
}

// TestDeleteUserWithWorkspaces: Coder refuses with 417.
func TestDeleteUserWithWorkspaces(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	_, u := newUser(ctx, t, d, owner, "member")
	tpl := settingsTemplate(ctx, t, owner, "tpl", workspaceSpec, 0)
	settingsWorkspace(ctx, t, owner, "member", tpl, "dev")
	err := owner.Client.DeleteUser(ctx, u.ID.String())
	requireStatus(t, err, http.StatusExpectationFailed, "You cannot delete a user that has workspaces. Delete their workspaces and try again!")
}

// TestPasswordChange (issue 15 row 8): a password change ends the user's
// other sessions and tokens.
func TestPasswordChange(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	member, _ := newUser(ctx, t, d, owner, "member")
	second := login(ctx, t, d, "member", berthtest.OwnerPassword)
	key, err := member.CreateToken(ctx, "me", sdk.CreateTokenRequest{})
	require.NoError(t, err)
	token := withToken(d, key.Key)

	const next = "An0ther-l0ng-passphrase!"
	err = member.UpdateUserPassword(ctx, "me", sdk.UpdateUserPasswordRequest{Password: next})
	requireStatus(t, err, http.StatusBadRequest, "Old password is required.")
	err = member.UpdateUserPassword(ctx, "me", sdk.UpdateUserPasswordRequest{OldPassword: "wrong", Password: next})
	e := requireStatus(t, err, http.StatusBadRequest, "Old password is incorrect.")
	require.Equal(t, "old_password", e.Response.Validations[0].Field)
	err = member.UpdateUserPassword(ctx, "me", sdk.UpdateUserPasswordRequest{OldPassword: berthtest.OwnerPassword, Password: "short"})
	e = requireStatus(t, err, http.StatusBadRequest, "Invalid password.")
	require.Equal(t, "password", e.Response.Validations[0].Field)
	err = member.UpdateUserPassword(ctx, "me", sdk.UpdateUserPasswordRequest{OldPassword: berthtest.OwnerPassword, Password: berthtest.OwnerPassword})
	requireStatus(t, err, http.StatusBadRequest, "New password cannot match old password.")
	err = member.UpdateUserPassword(ctx, "owner", sdk.UpdateUserPasswordRequest{Password: next})
	requireStatus(t, err, http.StatusNotFound, "")

	require.NoError(t, member.UpdateUserPassword(ctx, "me", sdk.UpdateUserPasswordRequest{OldPassword: berthtest.OwnerPassword, Password: next}))
	_, err = member.User(ctx, "me")
	require.NoError(t, err, "the session that changed the password goes on")
	for _, cl := range []*sdk.Client{second, token} {
		_, err = cl.User(ctx, "me")
		requireStatus(t, err, http.StatusUnauthorized, "")
	}
	_, err = d.Client().LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "member@example.com", Password: berthtest.OwnerPassword})
	requireStatus(t, err, http.StatusUnauthorized, "Incorrect email or password.")
	third := login(ctx, t, d, "member", next)

	// An owner sets it without the old one; every session of the user ends.
	require.NoError(t, owner.Client.UpdateUserPassword(ctx, "member", sdk.UpdateUserPasswordRequest{Password: berthtest.OwnerPassword}))
	for _, cl := range []*sdk.Client{member, third} {
		_, err = cl.User(ctx, "me")
		requireStatus(t, err, http.StatusUnauthorized, "")
	}
	_, err = owner.Client.User(ctx, "me")
	require.NoError(t, err)
	login(ctx, t, d, "member", berthtest.OwnerPassword)
}

func TestUserRoles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	member, u := newUser(ctx, t, d, owner, "member")

	roles, err := c.ListSiteRoles(ctx)
	require.NoError(t, err)
	require.Len(t, roles, 4)
	for _, r := range roles {
		require.True(t, r.Assignable, r.Name)
		require.True(t, r.BuiltIn)
	}
	require.Equal(t, "auditor", roles[0].Name)
	require.Equal(t, "Auditor", roles[0].DisplayName)
	mine, err := member.ListSiteRoles(ctx)
	require.NoError(t, err)
	for _, r := range mine {
		require.False(t, r.Assignable, r.Name)
	}

	_, err = member.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "x", VersionID: uuid.New()})
	requireStatus(t, err, http.StatusForbidden, "")
	got, err := c.UpdateUserRoles(ctx, u.ID.String(), sdk.UpdateRoles{Roles: []string{"template-admin", "member"}})
	require.NoError(t, err)
	require.Equal(t, []sdk.SlimRole{{Name: "template-admin", DisplayName: "Template Admin"}}, got.Roles)
	// The new role applies to the member's next request.
	_, err = member.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "x", VersionID: uuid.New()})
	e := requireStatus(t, err, http.StatusNotFound, "")
	require.Contains(t, e.Response.Message, "Template version", "past the role check")
	ur, err := member.UserRoles(ctx, "me")
	require.NoError(t, err)
	require.Equal(t, []string{"template-admin"}, ur.Roles)
	require.Equal(t, map[uuid.UUID][]string{owner.OrganizationID: {}}, ur.OrganizationRoles)

	_, err = c.UpdateUserRoles(ctx, "member", sdk.UpdateRoles{Roles: []string{"bogus"}})
	requireStatus(t, err, http.StatusBadRequest, `"bogus" is not a supported role`)
	_, err = c.UpdateUserRoles(ctx, "me", sdk.UpdateRoles{Roles: []string{}})
	requireStatus(t, err, http.StatusBadRequest, "You cannot change your own roles.")
	// A template admin reads users but assigns no roles.
	_, err = member.UpdateUserRoles(ctx, "owner", sdk.UpdateRoles{Roles: []string{}})
	requireStatus(t, err, http.StatusForbidden, "Forbidden.")
}

func TestOrganizationMembers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	member, u := newUser(ctx, t, d, owner, "member")
	org := owner.OrganizationID.String()

	ms, err := member.OrganizationMembers(ctx, org)
	require.NoError(t, err)
	require.Len(t, ms, 2, "members see each other")
	require.Equal(t, "member", ms[0].Username)
	require.Equal(t, []sdk.SlimRole{}, ms[0].Roles)
	require.Equal(t, []sdk.SlimRole{{Name: "owner", DisplayName: "Owner"}}, ms[1].GlobalRoles)

	_, err = c.PostOrganizationMember(ctx, org, "member")
	requireStatus(t, err, http.StatusBadRequest, "User is already an organization member")
	requireStatus(t, member.DeleteOrganizationMember(ctx, org, "owner"), http.StatusNotFound, "")
	requireStatus(t, c.DeleteOrganizationMember(ctx, org, "me"), http.StatusBadRequest, "cannot remove self from an organization")

	m, err := c.UpdateOrganizationMemberRoles(ctx, org, u.ID.String(), sdk.UpdateRoles{Roles: []string{"organization-admin"}})
	require.NoError(t, err)
	require.Equal(t, "organization-admin", m.Roles[0].Name)
	_, err = c.UpdateOrganizationMemberRoles(ctx, org, "member", sdk.UpdateRoles{Roles: []string{"owner"}})
	requireStatus(t, err, http.StatusBadRequest, `"owner" is not a supported role`)
	roles, err := member.ListOrganizationRoles(ctx, org)
	require.NoError(t, err)
	require.Len(t, roles, 5)
	for _, r := range roles {
		require.True(t, r.Assignable, "an organization admin assigns organization roles: %s", r.Name)
		require.Equal(t, org, r.OrganizationID)
	}

	require.NoError(t, c.DeleteOrganizationMember(ctx, org, "member"))
	_, err = member.OrganizationMembers(ctx, org)
	requireStatus(t, err, http.StatusNotFound, "")
	requireStatus(t, c.DeleteOrganizationMember(ctx, org, "member"), http.StatusNotFound, "")
	got, err := c.PostOrganizationMember(ctx, org, "member")
	require.NoError(t, err)
	require.Equal(t, u.ID, got.UserID)
	require.Equal(t, []sdk.SlimRole{}, got.Roles)
}

// TestKeyCacheSeesWritesElsewhere: the server serves keys from its cache
// (a write made with the auth trigger disabled goes unseen), and a write made
// anywhere else (another replica, a SQL session) applies within the time
// its notification takes, well before the cache's own expiry.
func TestKeyCacheSeesWritesElsewhere(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	member, u := newUser(ctx, t, d, owner, "member")
	require.Eventually(t, d.PubSub.Listening, 10*time.Second, 10*time.Millisecond)
	me := func() error {
		_, err := member.User(ctx, "me")
		return err
	}
	require.NoError(t, me())
	require.NoError(t, me())

	// Unannounced, a suspension is not seen: the key came from the cache.
	err := d.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, "ALTER TABLE users DISABLE TRIGGER users_auth_changed")
		if err == nil {
			_, err = tx.ExecContext(ctx, "UPDATE users SET status = 'suspended' WHERE id = ?", u.ID)
		}
		if err == nil {
			_, err = tx.ExecContext(ctx, "ALTER TABLE users ENABLE TRIGGER users_auth_changed")
		}
		return err
	})
	require.NoError(t, err)
	require.NoError(t, me())
	// Any announced change makes the server read keys again.
	_, err = d.DB.ExecContext(ctx, "UPDATE users SET updated_at = now() WHERE id = ?", u.ID)
	require.NoError(t, err)
	suspended := `User is not active (status = "suspended"). Contact an admin to reactivate your account.`
	eventuallyStatus := func(status int, message string) {
		t.Helper()
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			err := me()
			if status == http.StatusOK {
				assert.NoError(c, err)
				return
			}
			apiErr, ok := sdk.AsError(err)
			if assert.True(c, ok, "want *sdk.Error, got %v", err) {
				assert.Equal(c, status, apiErr.StatusCode())
				assert.Equal(c, message, apiErr.Response.Message)
			}
		}, 2*time.Second, 5*time.Millisecond)
	}
	eventuallyStatus(http.StatusUnauthorized, suspended)

	_, err = d.DB.ExecContext(ctx, "UPDATE users SET status = 'active' WHERE id = ?", u.ID)
	require.NoError(t, err)
	eventuallyStatus(http.StatusOK, "")
	// Losing the organization: its pages are gone at once.
	_, err = member.Organization(ctx, owner.OrganizationID.String())
	require.NoError(t, err)
	_, err = d.DB.ExecContext(ctx, "DELETE FROM organization_members WHERE user_id = ?", u.ID)
	require.NoError(t, err)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, err := member.Organization(ctx, owner.OrganizationID.String())
		apiErr, ok := sdk.AsError(err)
		if assert.True(c, ok, "want *sdk.Error, got %v", err) {
			assert.Equal(c, http.StatusNotFound, apiErr.StatusCode())
		}
	}, 2*time.Second, 5*time.Millisecond)
	// A key revoked elsewhere.
	_, err = d.DB.ExecContext(ctx, "DELETE FROM api_keys WHERE user_id = ?", u.ID)
	require.NoError(t, err)
	eventuallyStatus(http.StatusUnauthorized, "You are signed out or your session has expired. Please sign in again to continue.")
}
