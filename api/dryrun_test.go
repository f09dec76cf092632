package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// A member's dry-run uses the version's stored variables, runs under the
// member's own owner tag (never on the importing admin's user-scoped
// provisioner), and only its initiator and template admins see or cancel
// it. Template admins may override variables; the overrides leave the job
// input when the job completes.
func TestDryRunAuthorization(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	// Only the owner's own user-scoped provisioner runs.
	d.StartWorker(map[string]string{"scope": "user", "owner": owner.UserID.String()})
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, demoSpec, func(r *sdk.CreateTemplateVersionRequest) {
		r.ProvisionerTags = map[string]string{"scope": "user"}
	}).ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	require.Equal(t, owner.UserID.String(), v.Job.Tags["owner"])
	member, memberUser := newUser(ctx, t, d, owner, "dryrunner")
	other, _ := newUser(ctx, t, d, owner, "bystander")

	_, err := member.CreateTemplateVersionDryRun(ctx, v.ID, sdk.CreateTemplateVersionDryRunRequest{
		UserVariableValues: []sdk.VariableValue{{Name: "region", Value: "attacker.example.com"}},
	})
	requireStatus(t, err, http.StatusForbidden, "Forbidden.")

	job, err := member.CreateTemplateVersionDryRun(ctx, v.ID, sdk.CreateTemplateVersionDryRunRequest{WorkspaceName: "m"})
	require.NoError(t, err)
	require.Equal(t, memberUser.ID.String(), job.Tags["owner"], "a dry-run runs as its initiator")
	require.Equal(t, "user", job.Tags["scope"])
	row, err := d.Store.GetJobByID(ctx, job.ID)
	require.NoError(t, err)
	require.NotContains(t, string(row.Input), "user_variable_values", "stored variable values are not copied into the job")
	require.Equal(t, sdk.ProvisionerJobPending, job.Status, "no provisioner of the member's matches")

	// Another member gets the same 404 as for a job that does not exist.
	_, err = other.TemplateVersionDryRun(ctx, v.ID, job.ID)
	requireStatus(t, err, http.StatusNotFound, "")
	requireStatus(t, other.CancelTemplateVersionDryRun(ctx, v.ID, job.ID), http.StatusNotFound, "")
	_, err = other.TemplateVersionDryRunLogsAfter(ctx, v.ID, job.ID, 0)
	requireStatus(t, err, http.StatusNotFound, "")
	_, err = other.TemplateVersionDryRunResources(ctx, v.ID, job.ID)
	requireStatus(t, err, http.StatusNotFound, "")
	// The initiator and template admins see it; the initiator cancels it.
	_, err = owner.Client.TemplateVersionDryRun(ctx, v.ID, job.ID)
	require.NoError(t, err)
	_, err = member.TemplateVersionDryRun(ctx, v.ID, job.ID)
	require.NoError(t, err)
	require.NoError(t, member.CancelTemplateVersionDryRun(ctx, v.ID, job.ID))

	// A template admin may override a variable; the value is gone from the
	// job input once the job completes.
	job, err = owner.Client.CreateTemplateVersionDryRun(ctx, v.ID, sdk.CreateTemplateVersionDryRunRequest{
		UserVariableValues: []sdk.VariableValue{{Name: "region", Value: "override-canary"}},
	})
	require.NoError(t, err)
	require.Equal(t, owner.UserID.String(), job.Tags["owner"])
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		job, err = owner.Client.TemplateVersionDryRun(ctx, v.ID, job.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobSucceeded, job.Status)
	}, 60*time.Second, 20*time.Millisecond)
	res, err := owner.Client.TemplateVersionDryRunResources(ctx, v.ID, job.ID)
	require.NoError(t, err)
	require.Equal(t, "override-canary", res[0].Metadata[0].Value)
	row, err = d.Store.GetJobByID(ctx, job.ID)
	require.NoError(t, err)
	require.False(t, strings.Contains(string(row.Input), "override-canary"), "job input after completion: %s", row.Input)
}

// A member's build of a template imported with user-scoped tags runs under
// the workspace owner's tag, not the importing admin's.
func TestBuildOwnerTag(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	d.StartWorker(map[string]string{"scope": "user", "owner": owner.UserID.String()})
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, demoSpec, func(r *sdk.CreateTemplateVersionRequest) {
		r.ProvisionerTags = map[string]string{"scope": "user"}
	}).ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "scoped", VersionID: v.ID})
	require.NoError(t, err)
	member, memberUser := newUser(ctx, t, d, owner, "builder")
	ws, err := member.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "mine"})
	require.NoError(t, err)
	require.Equal(t, memberUser.ID.String(), ws.LatestBuild.Job.Tags["owner"])
	require.Equal(t, sdk.ProvisionerJobPending, ws.LatestBuild.Job.Status)
	// The owner's own workspace runs on the owner's provisioner.
	mine, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "mine"})
	require.NoError(t, err)
	require.Equal(t, owner.UserID.String(), mine.LatestBuild.Job.Tags["owner"])
	require.Equal(t, sdk.ProvisionerJobSucceeded, berthtest.WaitBuild(t, owner.Client, mine.LatestBuild.ID).Job.Status)
}
