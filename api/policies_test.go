package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/berthtest"
)

// newOrgMember inserts a second organization and a user who belongs only
// to it (berth has no endpoint that creates organizations).
func newOrgMember(ctx context.Context, t *testing.T, d *berthtest.Deployment, owner berthtest.Owner, username string) (*sdk.Client, uuid.UUID) {
	t.Helper()
	now := db.Now()
	org := &db.Organization{ID: uuid.New(), Name: "org-" + username, DisplayName: "Other", CreatedAt: now, UpdatedAt: now}
	_, err := d.DB.NewInsert().Model(org).Exec(ctx)
	require.NoError(t, err)
	_, err = owner.Client.CreateUser(ctx, sdk.CreateUserRequest{
		Email: username + "@example.com", Username: username, Password: berthtest.OwnerPassword,
		LoginType: sdk.LoginTypePassword, OrganizationIDs: []uuid.UUID{org.ID},
	})
	require.NoError(t, err)
	return login(ctx, t, d, username, berthtest.OwnerPassword), org.ID
}

// Template policies: require_active_version holds members (not template
// admins) to the active version; a template without user autostart keeps
// a new workspace's schedule off.
func TestTemplatePolicies(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	tpl := lifecycleTemplate(ctx, t, owner, demoSpec, sdk.CreateTemplateRequest{Name: "policy"})
	old := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, demoSpec, func(r *sdk.CreateTemplateVersionRequest) {
		r.TemplateID = tpl.ID
	}).ID)
	_, err := owner.Client.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{RequireActiveVersion: true, AllowUserAutostop: true})
	require.NoError(t, err)
	member, _ := newUser(ctx, t, d, owner, "policyholder")

	_, err = member.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateVersionID: old.ID, Name: "old"})
	requireStatus(t, err, http.StatusForbidden, "cannot use non-active version: template requires active version")
	schedule := "CRON_TZ=UTC 30 9 * * 1-5"
	ws, err := member.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "fresh", AutostartSchedule: &schedule})
	require.NoError(t, err)
	require.Nil(t, ws.AutostartSchedule, "the template does not allow user autostart")
	require.Equal(t, sdk.ProvisionerJobSucceeded, berthtest.WaitBuild(t, member, ws.LatestBuild.ID).Job.Status)
	b, err := member.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: sdk.WorkspaceTransitionStop})
	require.NoError(t, err)
	berthtest.WaitBuild(t, member, b.ID)
	_, err = member.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: sdk.WorkspaceTransitionStart, TemplateVersionID: old.ID})
	requireStatus(t, err, http.StatusForbidden, "cannot use non-active version: template requires active version")
	err = member.UpdateWorkspaceAutostart(ctx, ws.ID, sdk.UpdateWorkspaceAutostartRequest{Schedule: &schedule})
	requireStatus(t, err, http.StatusBadRequest, "Autostart is not allowed for workspaces using this template.")

	// Template admins may use any version.
	adminWS, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateVersionID: old.ID, Name: "old"})
	require.NoError(t, err)
	require.Equal(t, old.ID, adminWS.LatestBuild.TemplateVersionID)
}

// A template or version of another organization gets the same answer as
// one that does not exist, on the create paths that take their IDs.
func TestCreateForeignEqualsMissing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	tpl := lifecycleTemplate(ctx, t, owner, demoSpec, sdk.CreateTemplateRequest{Name: "private"})
	archived := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, demoSpec, func(r *sdk.CreateTemplateVersionRequest) {
		r.TemplateID = tpl.ID
	}).ID)
	require.NoError(t, owner.Client.SetArchiveTemplateVersion(ctx, archived.ID, true))
	outsider, _ := newOrgMember(ctx, t, d, owner, "outsider")
	missing := uuid.New()

	answer := func(err error) (int, string) {
		t.Helper()
		var se *sdk.Error
		require.ErrorAs(t, err, &se)
		return se.StatusCode(), se.Message
	}
	_, err := outsider.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "x"})
	fs, fm := answer(err)
	_, err = outsider.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: missing, Name: "x"})
	ms, mm := answer(err)
	require.Equal(t, ms, fs)
	require.Equal(t, http.StatusBadRequest, fs)
	require.Equal(t, mm, `Template "`+missing.String()+`" doesn't exist.`)
	require.Equal(t, fm, `Template "`+tpl.ID.String()+`" doesn't exist.`)

	for _, id := range []uuid.UUID{tpl.ActiveVersionID, archived.ID} {
		_, err = outsider.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateVersionID: id, Name: "x"})
		fs, fm = answer(err)
		require.Equal(t, http.StatusBadRequest, fs)
		require.Equal(t, `Template version "`+id.String()+`" doesn't exist.`, fm, "an archived foreign version is not revealed either")
	}
	_, err = outsider.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateVersionID: missing, Name: "x"})
	_, mm = answer(err)
	require.Equal(t, `Template version "`+missing.String()+`" doesn't exist.`, mm)

	// A build naming another organization's version: as if it did not exist.
	ws, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "mine"})
	require.NoError(t, err)
	berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	foreign := insertForeignVersion(ctx, t, d, tpl)
	_, err = owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: sdk.WorkspaceTransitionStop, TemplateVersionID: foreign})
	requireStatus(t, err, http.StatusBadRequest, "template version does not exist")
}

// insertForeignVersion inserts an unattached version (a copy of tpl's
// active one) in a new organization.
func insertForeignVersion(ctx context.Context, t *testing.T, d *berthtest.Deployment, tpl sdk.Template) uuid.UUID {
	t.Helper()
	v, err := d.Store.GetTemplateVersionByID(ctx, tpl.ActiveVersionID)
	require.NoError(t, err)
	now := db.Now()
	org := &db.Organization{ID: uuid.New(), Name: "foreign-" + uuid.NewString()[:8], CreatedAt: now, UpdatedAt: now}
	_, err = d.DB.NewInsert().Model(org).Exec(ctx)
	require.NoError(t, err)
	job, err := d.Store.GetJobByID(ctx, v.JobID)
	require.NoError(t, err)
	fj := *job
	fj.ID, fj.OrganizationID = uuid.New(), org.ID
	require.NoError(t, d.Store.InsertJob(ctx, &fj))
	fv := *v
	fv.ID, fv.OrganizationID, fv.Name, fv.TemplateID, fv.JobID = uuid.New(), org.ID, "foreign", uuid.NullUUID{}, fj.ID
	_, err = d.DB.NewInsert().Model(&fv).Exec(ctx)
	require.NoError(t, err)
	return fv.ID
}
