package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// TestArchiveTemplateVersions: Coder's archiving rules, archived versions
// hidden from lists and not buildable.
func TestArchiveTemplateVersions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	tpl := settingsTemplate(ctx, t, owner, "tpl", workspaceSpec, 0)
	ws := settingsWorkspace(ctx, t, owner, "me", tpl, "dev")
	addVersion := func(name, spec string) sdk.TemplateVersion {
		return berthtest.WaitJob(ctx, t, c, createVersion(ctx, t, owner, spec, func(r *sdk.CreateTemplateVersionRequest) {
			r.TemplateID, r.Name = tpl.ID, name
		}).ID)
	}
	unused := addVersion("unused", workspaceSpec)
	broken := addVersion("broken", `{"version": 1, "steps": {"parse": {"outcome": "fail"}}}`)
	require.Equal(t, sdk.ProvisionerJobFailed, broken.Job.Status)

	// The active version, also used by the workspace.
	err := c.SetArchiveTemplateVersion(ctx, tpl.ActiveVersionID, true)
	requireStatus(t, err, http.StatusBadRequest, "Unable to archive specified version, the version is likely in use by a workspace or currently set to the active version")
	requireStatus(t, c.SetArchiveTemplateVersion(ctx, unused.ID, false), http.StatusBadRequest, "Template version already unarchived")

	// Without "all", only failed versions go.
	res, err := c.ArchiveTemplateVersions(ctx, tpl.ID, false)
	require.NoError(t, err)
	require.Equal(t, tpl.ID, res.TemplateID)
	require.Equal(t, []sdk.TemplateVersion{broken}[0].ID, res.ArchivedIDs[0])
	require.Len(t, res.ArchivedIDs, 1)
	res, err = c.ArchiveTemplateVersions(ctx, tpl.ID, true)
	require.NoError(t, err)
	require.Equal(t, unused.ID, res.ArchivedIDs[0])
	require.Len(t, res.ArchivedIDs, 1)
	requireStatus(t, c.SetArchiveTemplateVersion(ctx, unused.ID, true), http.StatusBadRequest, "Template version already archived")

	vs, err := c.TemplateVersionsByTemplate(ctx, tpl.ID)
	require.NoError(t, err)
	require.Len(t, vs, 1, "archived versions are hidden")
	vs, err = c.TemplateVersionsByTemplate(ctx, tpl.ID, sdk.WithQueryParam("include_archived", "true"))
	require.NoError(t, err)
	require.Len(t, vs, 3)
	got, err := c.TemplateVersionByOrganizationAndName(ctx, "coder", "tpl", "unused")
	require.NoError(t, err)
	require.True(t, got.Archived)
	_, err = c.TemplateVersionByOrganizationAndName(ctx, "coder", "tpl", "nope")
	requireStatus(t, err, http.StatusNotFound, `No template version found by name "nope".`)

	// Archived versions are not built, nor promoted.
	_, err = c.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "start", TemplateVersionID: unused.ID})
	requireStatus(t, err, http.StatusBadRequest, "The provided template version is archived.")
	_, err = c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateVersionID: unused.ID, Name: "dev2"})
	e := requireStatus(t, err, http.StatusBadRequest, "Archived template versions cannot be used to make a workspace.")
	require.Equal(t, "template_version_id", e.Response.Validations[0].Field)
	err = c.UpdateActiveTemplateVersion(ctx, tpl.ID, sdk.UpdateActiveTemplateVersion{ID: unused.ID})
	requireStatus(t, err, http.StatusBadRequest, "The provided template version is archived.")

	require.NoError(t, c.SetArchiveTemplateVersion(ctx, unused.ID, false))
	_, err = c.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "start", TemplateVersionID: unused.ID})
	require.NoError(t, err)

	// Members may not archive.
	member, _ := newUser(ctx, t, d, owner, "member")
	requireStatus(t, member.SetArchiveTemplateVersion(ctx, unused.ID, true), http.StatusForbidden, "")
	_, err = member.ArchiveTemplateVersions(ctx, tpl.ID, true)
	requireStatus(t, err, http.StatusForbidden, "")
}

// TestDeploymentConfigAndRenames: GET /deployment/config for owners, and
// renames refused unless the operator allows them, with Coder's message.
func TestDeploymentConfigAndRenames(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	cfg, err := c.DeploymentConfig(ctx)
	require.NoError(t, err)
	require.NotNil(t, cfg.Values)
	require.False(t, cfg.Values.AllowWorkspaceRenames)
	require.Equal(t, "http://127.0.0.1:3000", cfg.Values.AccessURL)
	require.Equal(t, api.SessionLifetime, cfg.Values.Sessions.DefaultDuration)
	require.NotZero(t, cfg.Values.Sessions.MaximumTokenDuration)
	member, _ := newUser(ctx, t, d, owner, "member")
	_, err = member.DeploymentConfig(ctx)
	requireStatus(t, err, http.StatusForbidden, "Forbidden.")

	tpl := settingsTemplate(ctx, t, owner, "tpl", workspaceSpec, 0)
	ws := settingsWorkspace(ctx, t, owner, "me", tpl, "dev")
	require.False(t, ws.AllowRenames)
	err = c.UpdateWorkspace(ctx, ws.ID, sdk.UpdateWorkspaceRequest{Name: "other"})
	requireStatus(t, err, http.StatusBadRequest, "Workspace renames are not allowed.")
	require.NoError(t, c.UpdateWorkspace(ctx, ws.ID, sdk.UpdateWorkspaceRequest{Name: "dev"}), "no change is no rename")
}

// TestPushState: PUT /workspacebuilds/{id}/state is for template admins,
// and the next build starts from the pushed state.
func TestPushState(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	member, _ := newUser(ctx, t, d, owner, "member")
	// Applies keep the state they were given.
	tpl := settingsTemplate(ctx, t, owner, "tpl", `{"version": 1}`, 0)
	ws := settingsWorkspace(ctx, t, owner, "member", tpl, "dev")

	requireStatus(t, member.UpdateWorkspaceBuildState(ctx, ws.LatestBuild.ID, []byte("x")), http.StatusNotFound, "")
	require.NoError(t, c.UpdateWorkspaceBuildState(ctx, ws.LatestBuild.ID, []byte("pushed")))
	state, err := c.WorkspaceBuildState(ctx, ws.LatestBuild.ID)
	require.NoError(t, err)
	require.Equal(t, "pushed", string(state))

	b, err := member.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "stop"})
	require.NoError(t, err)
	b = berthtest.WaitBuild(t, c, b.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	state, err = c.WorkspaceBuildState(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, "pushed", string(state), "the stop started from the pushed state")

	// A build with state (coder state push without --no-build) is for
	// template admins too.
	_, err = member.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "start", ProvisionerState: []byte("y")})
	requireStatus(t, err, http.StatusForbidden, "Only template managers may provide custom state")
	b, err = c.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "start", ProvisionerState: []byte("second")})
	require.NoError(t, err)
	b = berthtest.WaitBuild(t, c, b.ID)
	state, err = c.WorkspaceBuildState(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, "second", string(state))
}

const presetsSpec = `{"version": 1,
 "parameters": [{"name": "size", "type": "string", "default_value": "small", "mutable": true,
   "options": [{"name": "Small", "value": "small"}, {"name": "Large", "value": "large"}]},
   {"name": "region", "type": "string", "default_value": "eu"}],
 "presets": [{"name": "Big", "description": "large", "icon": "/b.svg", "prebuild_instances": 1,
              "parameters": [{"name": "size", "value": "large"}, {"name": "region", "value": "us"}]},
             {"name": "Small", "default": true, "parameters": [{"name": "size", "value": "small"}]}]}`

// TestPresets: echo.json presets are listed, a build with a preset takes its
// values, and one without records the preset its values match.
func TestPresets(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	tpl := settingsTemplate(ctx, t, owner, "tpl", presetsSpec, 0)
	ps, err := c.TemplateVersionPresets(ctx, tpl.ActiveVersionID)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	big, small := ps[0], ps[1]
	one := 1
	require.Equal(t, sdk.Preset{
		ID: big.ID, Name: "Big", Description: "large", Icon: "/b.svg", DesiredPrebuildInstances: &one,
		Parameters: []sdk.PresetParameter{{Name: "size", Value: "large"}, {Name: "region", Value: "us"}},
	}, big)
	require.True(t, small.Default)

	ws, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{
		TemplateID: tpl.ID, Name: "big", TemplateVersionPresetID: big.ID,
		RichParameterValues: []sdk.WorkspaceBuildParameter{{Name: "size", Value: "small"}},
	})
	require.NoError(t, err)
	require.Equal(t, big.ID, *ws.LatestBuild.TemplateVersionPresetID)
	params, err := c.WorkspaceBuildParameters(ctx, ws.LatestBuild.ID)
	require.NoError(t, err)
	require.ElementsMatch(t, []sdk.WorkspaceBuildParameter{{Name: "size", Value: "large"}, {Name: "region", Value: "us"}}, params,
		"the preset's values win over the request's")
	berthtest.WaitBuild(t, c, ws.LatestBuild.ID)

	plain, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "plain"})
	require.NoError(t, err)
	require.Equal(t, small.ID, *plain.LatestBuild.TemplateVersionPresetID, "its default values match Small")
	berthtest.WaitBuild(t, c, plain.LatestBuild.ID)
	b, err := c.CreateWorkspaceBuild(ctx, plain.ID, sdk.CreateWorkspaceBuildRequest{
		Transition: "start", RichParameterValues: []sdk.WorkspaceBuildParameter{{Name: "size", Value: "large"}},
	})
	require.NoError(t, err)
	require.Nil(t, b.TemplateVersionPresetID, "no preset matches")

	_, err = c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{
		TemplateID: tpl.ID, Name: "bad", TemplateVersionPresetID: tpl.ID,
	})
	e := requireStatus(t, err, http.StatusBadRequest, "Invalid template version preset.")
	require.Equal(t, "template_version_preset_id", e.Response.Validations[0].Field)
}
