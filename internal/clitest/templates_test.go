package clitest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// presetSpec is an echo template with a parameter, two presets and state.
const presetSpec = `{"version": 1,
 "parameters": [{"name": "size", "type": "string", "default_value": "small", "mutable": true,
   "options": [{"name": "Small", "value": "small"}, {"name": "Large", "value": "large"}]}],
 "presets": [{"name": "Big", "description": "A large one", "parameters": [{"name": "size", "value": "large"}]},
             {"name": "Tiny", "default": true, "parameters": [{"name": "size", "value": "small"}]}],
 "resources": [{"name": "dev", "type": "echo_instance", "transitions": ["start", "stop"]}],
 "steps": {"apply:start": {"state": "s1"}}}`

// echoDir writes an echo.json template, with the .tf file the CLI wants to
// see in a template directory (echo ignores it).
func echoDir(t *testing.T, spec string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "echo.json"), []byte(spec), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), nil, 0o600))
	return dir
}

// pushEcho pushes an echo.json template with the CLI as the given version.
func pushEcho(t *testing.T, c *cli, name, version, spec string) {
	t.Helper()
	c.ok(t.Context(), "templates", "push", name, "-d", echoDir(t, spec), "--test.provisioner", "echo", "--name", version, "-y")
}

// TestTemplatesCLI: coder templates presets list, create --preset, state
// push (with and without a build), rename, templates versions
// archive/unarchive and templates archive, on one deployment.
func TestTemplatesCLI(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{API: api.Options{AllowWorkspaceRenames: true}})
	owner := d.CreateFirstUser(ctx)
	c := newCLI(t, d, owner.Client.SessionToken())
	pushEcho(t, c, "tpl", "v1", presetSpec)

	out := c.ok(ctx, "templates", "presets", "list", "tpl", "-o", "json")
	require.Contains(t, out, `"Big"`)
	require.Contains(t, out, `"Tiny"`)
	table := c.ok(ctx, "templates", "presets", "list", "tpl")
	require.Contains(t, table, "A large one")

	c.ok(ctx, "create", "dev", "--template", "tpl", "--preset", "Big", "-y")
	ws, err := owner.Client.WorkspaceByOwnerAndName(ctx, "me", "dev")
	require.NoError(t, err)
	b := berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	presets, err := owner.Client.TemplateVersionPresets(ctx, ws.LatestBuild.TemplateVersionID)
	require.NoError(t, err)
	require.NotNil(t, b.TemplateVersionPresetID)
	require.Equal(t, "Big", presetName(presets, *b.TemplateVersionPresetID))
	params, err := owner.Client.WorkspaceBuildParameters(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, []sdk.WorkspaceBuildParameter{{Name: "size", Value: "large"}}, params)

	// state push --no-build stores the state on the latest build.
	stateFile := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.WriteFile(stateFile, []byte("pushed-1"), 0o600))
	require.Contains(t, c.ok(ctx, "state", "push", "dev", stateFile, "--no-build"), "State updated successfully.")
	require.Equal(t, "pushed-1\n", c.ok(ctx, "state", "pull", "dev"))

	// state push with a build runs a new build starting from the state
	// (the echo apply keeps the state it was given when its step sets none).
	require.NoError(t, os.WriteFile(stateFile, []byte("pushed-2"), 0o600))
	c.ok(ctx, "state", "push", "dev", stateFile)
	ws, err = owner.Client.WorkspaceByOwnerAndName(ctx, "me", "dev")
	require.NoError(t, err)
	require.Equal(t, int32(2), ws.LatestBuild.BuildNumber)
	b = berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	state, err := owner.Client.WorkspaceBuildState(ctx, ws.LatestBuild.ID)
	require.NoError(t, err)
	require.Equal(t, "s1", string(state), "the start's apply wrote its own state over the pushed one")

	// rename, allowed on this deployment.
	c.okIn(ctx, "dev\n", "rename", "dev", "dev2")
	_, err = owner.Client.WorkspaceByOwnerAndName(ctx, "me", "dev2")
	require.NoError(t, err)

	// A second version with a failing import, then archive and unarchive.
	pushEcho(t, c, "tpl", "v2", `{"version": 1}`)
	failing := `{"version": 1, "steps": {"parse": {"outcome": "fail", "error": "broken"}}}`
	_, _, err = c.run(ctx, "", "templates", "push", "tpl", "-d", echoDir(t, failing), "--test.provisioner", "echo", "--name", "v3", "-y")
	require.Error(t, err, "the import fails")

	// The active version (v2) and v1, which dev2's latest build uses, stay.
	out = c.fails(ctx, "templates", "versions", "archive", "tpl", "v2", "-y")
	require.Contains(t, out, "Unable to archive specified version")
	c.ok(ctx, "templates", "versions", "archive", "tpl", "v3", "-y")
	tpl, err := owner.Client.TemplateByName(ctx, owner.OrganizationID, "tpl")
	require.NoError(t, err)
	v3, err := owner.Client.TemplateVersionByName(ctx, tpl.ID, "v3")
	require.NoError(t, err)
	require.True(t, v3.Archived)
	c.ok(ctx, "templates", "versions", "unarchive", "tpl", "v3", "-y")
	v3, err = owner.Client.TemplateVersionByName(ctx, tpl.ID, "v3")
	require.NoError(t, err)
	require.False(t, v3.Archived)

	// templates archive archives the unused failed versions: v3 only.
	out = c.ok(ctx, "templates", "archive", "tpl", "-y")
	assert.Contains(t, out, "1")
	vs, err := owner.Client.TemplateVersionsByTemplate(ctx, tpl.ID)
	require.NoError(t, err)
	require.Len(t, vs, 2, "the archived v3 is hidden")
	c.ok(ctx, "templates", "archive", "tpl", "--all", "-y")
	vs, err = owner.Client.TemplateVersionsByTemplate(ctx, tpl.ID)
	require.NoError(t, err)
	require.Len(t, vs, 2, "v1 is in use and v2 is active")
}

func presetName(ps []sdk.Preset, id any) string {
	for _, p := range ps {
		if any(p.ID) == id {
			return p.Name
		}
	}
	raw, _ := json.Marshal(ps)
	return "not found in " + string(raw)
}
