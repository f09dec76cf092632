package api_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

func TestOrganizationProvisionerJobs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	org := owner.OrganizationID.String()
	tpl := settingsTemplate(ctx, t, owner, "tpl", workspaceSpec, 0)
	ws := settingsWorkspace(ctx, t, owner, "me", tpl, "dev")
	// No worker has the tag: the import stays pending.
	createVersion(ctx, t, owner, `{"version": 1}`,
		func(r *sdk.CreateTemplateVersionRequest) { r.ProvisionerTags = map[string]string{"env": "x"} })

	jobs, err := c.OrganizationProvisionerJobs(ctx, org, sdk.OrganizationProvisionerJobsOptions{})
	require.NoError(t, err)
	require.Len(t, jobs, 3)
	require.Equal(t, sdk.ProvisionerJobPending, jobs[0].Status)
	require.Equal(t, "x", jobs[0].Tags["env"])
	build, imp := jobs[1], jobs[2]
	require.Equal(t, sdk.ProvisionerJobTypeWorkspaceBuild, build.Type, "newest first")
	require.Equal(t, ws.LatestBuild.Job.ID, build.ID)
	require.Equal(t, "dev", build.Metadata.WorkspaceName)
	require.Equal(t, ws.ID, *build.Metadata.WorkspaceID)
	require.Equal(t, "tpl", build.Metadata.TemplateName)
	require.Equal(t, tpl.ID, build.Metadata.TemplateID)
	require.Equal(t, ws.LatestBuild.ID, *build.Input.WorkspaceBuildID)
	require.Equal(t, "test-worker", build.WorkerName)
	require.Equal(t, sdk.ProvisionerJobTypeTemplateVersionImport, imp.Type)
	require.Equal(t, "tpl", imp.Metadata.TemplateName)
	require.Equal(t, tpl.ActiveVersionID, *imp.Input.TemplateVersionID)

	for name, tc := range map[string]struct {
		opts sdk.OrganizationProvisionerJobsOptions
		want []uuid.UUID
	}{
		"limit":     {sdk.OrganizationProvisionerJobsOptions{Limit: 1}, []uuid.UUID{jobs[0].ID}},
		"status":    {sdk.OrganizationProvisionerJobsOptions{Status: []sdk.ProvisionerJobStatus{sdk.ProvisionerJobSucceeded}}, []uuid.UUID{build.ID, imp.ID}},
		"ids":       {sdk.OrganizationProvisionerJobsOptions{IDs: []uuid.UUID{imp.ID, build.ID}}, []uuid.UUID{build.ID, imp.ID}},
		"tags":      {sdk.OrganizationProvisionerJobsOptions{Tags: map[string]string{"env": "x"}}, []uuid.UUID{jobs[0].ID}},
		"initiator": {sdk.OrganizationProvisionerJobsOptions{InitiatorID: uuid.New()}, []uuid.UUID{}},
	} {
		got, err := c.OrganizationProvisionerJobs(ctx, org, tc.opts)
		require.NoError(t, err, name)
		ids := []uuid.UUID{}
		for _, j := range got {
			ids = append(ids, j.ID)
		}
		require.Equal(t, tc.want, ids, name)
	}
	one, err := c.OrganizationProvisionerJob(ctx, org, build.ID)
	require.NoError(t, err)
	require.Equal(t, build, one)
	_, err = c.OrganizationProvisionerJob(ctx, org, uuid.New())
	requireStatus(t, err, http.StatusNotFound, "Resource not found or you do not have access to this resource")
	res, err := c.Request(ctx, http.MethodGet, "/api/v2/organizations/"+org+"/provisionerjobs?status=bogus&bogus=1", nil)
	require.NoError(t, err)
	e := requireStatus(t, sdk.ReadBodyAsError(res), http.StatusBadRequest, "Invalid query parameters.")
	res.Body.Close()
	require.Len(t, e.Response.Validations, 2)

	// Plain members cannot read the organization's jobs, as in Coder;
	// template admins can.
	member, u := newUser(ctx, t, d, owner, "member")
	_, err = member.OrganizationProvisionerJobs(ctx, org, sdk.OrganizationProvisionerJobsOptions{})
	requireStatus(t, err, http.StatusNotFound, "")
	_, err = member.OrganizationProvisionerJob(ctx, org, build.ID)
	requireStatus(t, err, http.StatusNotFound, "")
	_, err = c.UpdateOrganizationMemberRoles(ctx, org, u.ID.String(), sdk.UpdateRoles{Roles: []string{"organization-template-admin"}})
	require.NoError(t, err)
	got, err := member.OrganizationProvisionerJobs(ctx, org, sdk.OrganizationProvisionerJobsOptions{})
	require.NoError(t, err)
	require.Len(t, got, 3)
}
