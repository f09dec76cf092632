package api_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/terraform"
)

// terraformDeployment is a deployment whose worker runs the real terraform
// provisioner with the locally built coder provider.
func terraformDeployment(t testing.TB) (*berthtest.Deployment, berthtest.Owner) {
	t.Helper()
	bin, mirror := testinfra.Terraform(t)
	tf, err := terraform.New(terraform.Options{
		Binary: bin, Mirror: mirror, PluginCacheDir: filepath.Join(t.TempDir(), "plugins"), ConfigDir: t.TempDir(),
		Grace: 10 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tf.Close() })
	d := berthtest.New(t, berthtest.Options{Provisioners: map[string]provisioner.Provisioner{terraform.Name: tf}})
	return d, d.CreateFirstUser(t.Context())
}

// importTerraform imports a template from provisioner/terraform/testdata.
func importTerraform(ctx context.Context, t testing.TB, owner berthtest.Owner, template string, vars ...sdk.VariableValue) sdk.TemplateVersion {
	t.Helper()
	fileID := berthtest.UploadDir(ctx, t, owner.Client, filepath.Join("..", "provisioner", "terraform", "testdata", template))
	v, err := owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
		FileID: fileID, Provisioner: sdk.ProvisionerTypeTerraform, StorageMethod: "file", UserVariableValues: vars,
	})
	require.NoError(t, err)
	return berthtest.WaitJob(ctx, t, owner.Client, v.ID)
}

func terraformTemplate(ctx context.Context, t testing.TB, owner berthtest.Owner, name, template string, vars ...sdk.VariableValue) sdk.Template {
	t.Helper()
	v := importTerraform(ctx, t, owner, template, vars...)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: name, VersionID: v.ID})
	require.NoError(t, err)
	return tpl
}

func buildLogs(ctx context.Context, t *testing.T, c *sdk.Client, id uuid.UUID) []sdk.ProvisionerJobLog {
	t.Helper()
	logs, err := c.WorkspaceBuildLogsAfter(ctx, id, 0)
	require.NoError(t, err)
	return logs
}

// build starts a build of the workspace and waits for it to succeed.
func build(t *testing.T, c *sdk.Client, workspaceID uuid.UUID, transition sdk.WorkspaceTransition, params ...sdk.WorkspaceBuildParameter) sdk.WorkspaceBuild {
	t.Helper()
	b, err := c.CreateWorkspaceBuild(t.Context(), workspaceID, sdk.CreateWorkspaceBuildRequest{Transition: transition, RichParameterValues: params})
	require.NoError(t, err)
	b = berthtest.WaitBuild(t, c, b.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	return b
}

func hasLog(logs []sdk.ProvisionerJobLog, stage string, level sdk.LogLevel, substr string) bool {
	for _, l := range logs {
		if (stage == "" || l.Stage == stage) && l.Level == level && strings.Contains(l.Output, substr) {
			return true
		}
	}
	return false
}

func TestTerraformImport(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, owner := terraformDeployment(t)
	c := owner.Client

	// A required variable without a value fails the import with the code
	// the CLI prompts on; the variables are readable.
	v := importTerraform(ctx, t, owner, "workspace")
	require.Equal(t, sdk.ProvisionerJobFailed, v.Job.Status)
	require.Equal(t, "REQUIRED_TEMPLATE_VARIABLES", string(v.Job.ErrorCode))
	vars, err := c.TemplateVersionVariables(ctx, v.ID)
	require.NoError(t, err)
	require.Len(t, vars, 3)

	v = importTerraform(ctx, t, owner, "workspace", sdk.VariableValue{Name: "api_key", Value: "s3cret"})
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	assert.Contains(t, v.Readme, "A test template with two parameters")

	// coder_workspace_preset data sources become the version's presets.
	presets, err := c.TemplateVersionPresets(ctx, v.ID)
	require.NoError(t, err)
	require.Len(t, presets, 2)
	assert.Equal(t, "Big", presets[0].Name)
	assert.Equal(t, []sdk.PresetParameter{{Name: "cpu", Value: "8"}, {Name: "image", Value: "debian"}}, presets[0].Parameters)
	require.NotNil(t, presets[0].DesiredPrebuildInstances)
	assert.Equal(t, 2, *presets[0].DesiredPrebuildInstances)
	assert.True(t, presets[1].Default)

	vars, err = c.TemplateVersionVariables(ctx, v.ID)
	require.NoError(t, err)
	require.Len(t, vars, 3)
	assert.Equal(t, "region", vars[0].Name)
	assert.Equal(t, "eu-west", vars[0].Value)
	assert.Equal(t, "number", vars[1].Type)
	assert.Equal(t, "api_key", vars[2].Name)
	assert.True(t, vars[2].Sensitive)
	assert.True(t, vars[2].Required)
	assert.NotEqual(t, "s3cret", vars[2].Value, "sensitive values are never returned")

	params, err := c.TemplateVersionRichParameters(ctx, v.ID)
	require.NoError(t, err)
	require.Len(t, params, 2)
	assert.Equal(t, "cpu", params[0].Name)
	assert.Equal(t, "CPU cores", params[0].DisplayName)
	assert.Equal(t, "number", params[0].Type)
	assert.True(t, params[0].Mutable)
	assert.Equal(t, "2", params[0].DefaultValue)
	require.NotNil(t, params[0].ValidationMin)
	assert.Equal(t, int32(1), *params[0].ValidationMin)
	assert.Equal(t, int32(8), *params[0].ValidationMax)
	assert.Equal(t, "image", params[1].Name)
	assert.False(t, params[1].Mutable)
	assert.Len(t, params[1].Options, 2)

	resources, err := c.TemplateVersionResources(ctx, v.ID)
	require.NoError(t, err)
	var start, stop []sdk.WorkspaceResource
	for _, r := range resources {
		if r.WorkspaceTransition == "start" {
			start = append(start, r)
		} else {
			stop = append(stop, r)
		}
	}
	require.Len(t, start, 2)
	require.Len(t, stop, 1)
	assert.Equal(t, "dev", start[0].Name)
	require.Len(t, start[0].Agents, 1)
	assert.Equal(t, "main", start[0].Agents[0].Name)
	assert.Equal(t, "linux", start[0].Agents[0].OperatingSystem)
	require.Len(t, start[0].Agents[0].Apps, 2)
	// Coder's order: display order, then display name ("Docs" < "code-server").
	assert.Equal(t, "docs", start[0].Agents[0].Apps[0].Slug)
	assert.Equal(t, "code-server", start[0].Agents[0].Apps[1].Slug)
	assert.Equal(t, []sdk.DisplayApp{"vscode", "web_terminal", "ssh_helper", "port_forwarding_helper"}, start[0].Agents[0].DisplayApps)
	assert.Equal(t, "home", stop[0].Name)

	logs, err := c.TemplateVersionLogsAfter(ctx, v.ID, 0)
	require.NoError(t, err)
	assert.True(t, hasLog(logs, "Initializing Terraform Directory", "info", "Terraform has been successfully initialized!"))
	assert.True(t, hasLog(logs, "Detecting persistent resources", "info", "data.coder_parameter.cpu: Refreshing..."))
	assert.True(t, hasLog(logs, "Detecting ephemeral resources", "info", "Plan:"))

	// A dry-run plans a start with the given parameters.
	dry, err := c.CreateTemplateVersionDryRun(ctx, v.ID, sdk.CreateTemplateVersionDryRunRequest{
		WorkspaceName: "preview", RichParameterValues: []sdk.WorkspaceBuildParameter{{Name: "cpu", Value: "3"}},
	})
	require.NoError(t, err)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		dry, err = c.TemplateVersionDryRun(ctx, v.ID, dry.ID)
		if assert.NoError(ct, err) {
			assert.False(ct, dry.Status.Active())
		}
	}, time.Minute, 20*time.Millisecond)
	require.Equal(t, sdk.ProvisionerJobSucceeded, dry.Status, dry.Error)
	dryRes, err := c.TemplateVersionDryRunResources(ctx, v.ID, dry.ID)
	require.NoError(t, err)
	require.Len(t, dryRes, 2)
	assert.Equal(t, "3", dryRes[1].Metadata[0].Value)
}

func TestTerraformWorkspaceLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, owner := terraformDeployment(t)
	c := owner.Client
	tpl := terraformTemplate(ctx, t, owner, "tf", "workspace", sdk.VariableValue{Name: "api_key", Value: "s3cret"})

	ws, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{
		TemplateID: tpl.ID, Name: "dev1",
		RichParameterValues: []sdk.WorkspaceBuildParameter{{Name: "cpu", Value: "4"}, {Name: "image", Value: "debian"}},
	})
	require.NoError(t, err)
	b := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	logs := buildLogs(ctx, t, c, b.ID)
	assert.True(t, hasLog(logs, "Initializing Terraform Directory", "info", "Terraform has been successfully initialized!"))
	assert.True(t, hasLog(logs, "Planning Infrastructure", "info", "Plan: 7 to add"))
	assert.True(t, hasLog(logs, "Starting workspace", "info", "Apply complete!"))

	res, err := c.WorkspaceBuildResources(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, res, 2)
	agent := res[0].Agents[0]
	assert.Equal(t, "main", agent.Name)
	assert.Equal(t, map[string]string{"REGION": "eu-west"}, agent.EnvironmentVariables)
	assert.Equal(t, int32(120), agent.ConnectionTimeoutSeconds, "the coder provider's default")
	require.Len(t, agent.Apps, 2)
	assert.Equal(t, sdk.WorkspaceAppSharingLevelAuthenticated, agent.Apps[0].SharingLevel)
	assert.Equal(t, sdk.WorkspaceAppHealthDisabled, agent.Apps[0].Health)
	assert.Equal(t, sdk.WorkspaceAppHealthInitializing, agent.Apps[1].Health, "code-server has a healthcheck")
	require.Len(t, agent.Scripts, 2)
	require.Len(t, agent.LogSources, 2)
	assert.Equal(t, "Startup Script", agent.Scripts[0].DisplayName)
	assert.True(t, agent.Scripts[0].RunOnStart)
	assert.Equal(t, agent.LogSources[0].ID, agent.Scripts[0].LogSourceID)
	assert.Equal(t, "Hello", agent.LogSources[1].DisplayName)
	assert.Equal(t, []sdk.WorkspaceResourceMetadata{
		{Key: "cpu", Value: "4"}, {Key: "owner", Value: "owner"}, {Key: "api_key", Sensitive: true},
	}, res[1].Metadata)
	state, err := c.WorkspaceBuildState(ctx, b.ID)
	require.NoError(t, err)
	assert.Contains(t, string(state), `"image": "debian"`, "the build's state holds what Terraform applied")
	assert.Contains(t, string(state), `"name": "dev1"`, "workspace facts reach the provider")

	// Stop: the machine goes, the volume stays.
	stop := build(t, c, ws.ID, "stop")
	res, err = c.WorkspaceBuildResources(ctx, stop.ID)
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, "home", res[0].Name)
	assert.True(t, hasLog(buildLogs(ctx, t, c, stop.ID), "Stopping workspace", "info", "Destruction complete"))

	// Start with a new value for the mutable parameter: the same agent
	// (its state was carried across builds) on a new machine.
	start := build(t, c, ws.ID, "start", sdk.WorkspaceBuildParameter{Name: "cpu", Value: "6"})
	res, err = c.WorkspaceBuildResources(ctx, start.ID)
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, agent.ID, res[0].Agents[0].ID)
	assert.Equal(t, "6", res[1].Metadata[0].Value)
	state, err = c.WorkspaceBuildState(ctx, start.ID)
	require.NoError(t, err)
	assert.Contains(t, string(state), `"image": "debian"`, "the immutable parameter keeps its value")

	// Delete destroys everything and deletes the workspace.
	del := build(t, c, ws.ID, "delete")
	assert.True(t, hasLog(buildLogs(ctx, t, c, del.ID), "Destroying workspace", "info", "Destruction complete"))
	state, err = c.WorkspaceBuildState(ctx, del.ID)
	require.NoError(t, err)
	assert.NotContains(t, string(state), "terraform_data")
	_, err = c.Workspace(ctx, ws.ID)
	requireStatus(t, err, 410, "")
}

func TestTerraformFailedApply(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, owner := terraformDeployment(t)
	c := owner.Client
	tpl := terraformTemplate(ctx, t, owner, "failing", "failing")

	ws, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "broken"})
	require.NoError(t, err)
	b := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobFailed, b.Job.Status)
	assert.Contains(t, b.Job.Error, "local-exec provisioner error")
	assert.Contains(t, b.Job.Error, "exit status 3")
	logs := buildLogs(ctx, t, c, b.ID)
	assert.True(t, hasLog(logs, "Starting workspace", "info", "about to fail"))
	assert.True(t, hasLog(logs, "Starting workspace", "error", "Error: local-exec provisioner error"))
	state, err := c.WorkspaceBuildState(ctx, b.ID)
	require.NoError(t, err)
	assert.Contains(t, string(state), `"volume"`, "the failed apply's state is kept with the build")

	del := build(t, c, ws.ID, "delete")
	assert.True(t, hasLog(buildLogs(ctx, t, c, del.ID), "", "info", "terraform_data.volume: Destruction complete"),
		"the delete destroyed what the failed start created")
}

func TestTerraformCancelSlowApply(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, owner := terraformDeployment(t)
	c := owner.Client
	tpl := terraformTemplate(ctx, t, owner, "slow", "slow")

	ws, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "slow"})
	require.NoError(t, err)
	id := ws.LatestBuild.ID
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		assert.True(ct, hasLog(buildLogs(ctx, t, c, id), "Starting workspace", "info", "(local-exec): slow step started"))
	}, time.Minute, 50*time.Millisecond, "the slow step's output arrives while it runs")
	require.NoError(t, c.CancelWorkspaceBuild(ctx, id, sdk.CancelWorkspaceBuildParams{}))
	b := berthtest.WaitBuild(t, c, id)
	require.Equal(t, sdk.ProvisionerJobCanceled, b.Job.Status, b.Job.Error)
	logs := buildLogs(ctx, t, c, id)
	assert.True(t, hasLog(logs, "", "info", "Interrupt received"), "terraform was interrupted, not killed")
	assert.False(t, hasLog(logs, "", "info", "(local-exec): slow step done"))
	state, err := c.WorkspaceBuildState(ctx, id)
	require.NoError(t, err)
	assert.Contains(t, string(state), `"first"`, "the partial apply's state is kept")

	del := build(t, c, ws.ID, "delete")
	assert.True(t, hasLog(buildLogs(ctx, t, c, del.ID), "", "info", "terraform_data.first: Destruction complete"))
}

// BenchmarkTerraform measures a real Terraform import and start build of
// testdata/workspace (init, plans, apply with the coder provider from the
// mirror), reporting the server-side job time (completed_at − created_at).
func BenchmarkTerraform(b *testing.B) {
	ctx := b.Context()
	_, owner := terraformDeployment(b)
	c := owner.Client
	key := sdk.VariableValue{Name: "api_key", Value: "k"}
	jobMillis := func(j sdk.ProvisionerJob) float64 {
		require.Equal(b, sdk.ProvisionerJobSucceeded, j.Status, j.Error)
		return float64(j.CompletedAt.Sub(j.CreatedAt).Microseconds()) / 1000
	}
	b.Run("import", func(b *testing.B) {
		var total float64
		for b.Loop() {
			total += jobMillis(importTerraform(ctx, b, owner, "workspace", key).Job)
		}
		b.ReportMetric(total/float64(b.N), "job-ms/op")
	})
	tpl := terraformTemplate(ctx, b, owner, "bench", "workspace", key)
	b.Run("start-build", func(b *testing.B) {
		var total float64
		for b.Loop() {
			ws, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{
				TemplateID: tpl.ID, Name: "b" + strings.ReplaceAll(uuid.NewString()[:8], "-", ""),
			})
			require.NoError(b, err)
			total += jobMillis(berthtest.WaitBuild(b, c, ws.LatestBuild.ID).Job)
		}
		b.ReportMetric(total/float64(b.N), "job-ms/op")
	})
}
