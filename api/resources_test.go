package api_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// TestEchoAgentDetails: agents of echo templates carry their apps, scripts,
// environment and display apps to the resources endpoints, as with Coder's
// echo provisioner.
func TestEchoAgentDetails(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, `{"version": 1,
	  "resources": [{"name": "dev", "type": "echo_instance", "transitions": ["start"],
	    "agents": [{"name": "main", "operating_system": "linux", "architecture": "amd64", "token": "secret",
	      "env": {"FOO": "bar"}, "connection_timeout_seconds": 300, "display_apps": ["vscode", "ssh_helper"],
	      "apps": [{"slug": "web", "display_name": "Web", "url": "http://localhost:3000", "sharing_level": "public",
	                "healthcheck": {"url": "http://localhost:3000/h", "interval": 5, "threshold": 2}},
	               {"slug": "cli", "command": "bash", "open_in": "tab", "order": -1}],
	      "scripts": [{"display_name": "Setup", "script": "make", "run_on_start": true, "timeout_seconds": 30}]}]}]}`).ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	res, err := owner.Client.TemplateVersionResources(ctx, v.ID)
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Len(t, res[0].Agents, 1)
	a := res[0].Agents[0]
	assert.Equal(t, map[string]string{"FOO": "bar"}, a.EnvironmentVariables)
	assert.Equal(t, int32(300), a.ConnectionTimeoutSeconds)
	assert.Equal(t, []sdk.DisplayApp{"vscode", "ssh_helper"}, a.DisplayApps)
	require.Len(t, a.Apps, 2)
	assert.Equal(t, "cli", a.Apps[0].Slug, "order -1 sorts first")
	assert.Equal(t, sdk.WorkspaceAppOpenInTab, a.Apps[0].OpenIn)
	assert.Equal(t, sdk.WorkspaceAppSharingLevelOwner, a.Apps[0].SharingLevel)
	assert.Equal(t, sdk.WorkspaceAppSharingLevelPublic, a.Apps[1].SharingLevel)
	assert.Equal(t, sdk.Healthcheck{URL: "http://localhost:3000/h", Interval: 5, Threshold: 2}, a.Apps[1].Healthcheck)
	require.Len(t, a.Scripts, 1)
	assert.Equal(t, int64(30*time.Second), a.Scripts[0].Timeout)
	require.Len(t, a.LogSources, 1)
	assert.Equal(t, "Setup", a.LogSources[0].DisplayName)

	// Echo agents that say nothing of display apps show none, as in Coder.
	v2 := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, workspaceSpec).ID)
	res, err = owner.Client.TemplateVersionResources(ctx, v2.ID)
	require.NoError(t, err)
	require.NotEmpty(t, res[0].Agents)
	assert.Empty(t, res[0].Agents[0].DisplayApps)
	assert.NotNil(t, res[0].Agents[0].DisplayApps)
	assert.Zero(t, res[0].Agents[0].ConnectionTimeoutSeconds, "as the template says: unset")
}
