package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// newTemplate imports a version and makes a template of it.
func newTemplate(t *testing.T, owner berthtest.Owner, name string) (sdk.Template, sdk.TemplateVersion) {
	ctx := t.Context()
	v := createVersion(ctx, t, owner, demoSpec)
	v = berthtest.WaitJob(ctx, t, owner.Client, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: name, VersionID: v.ID})
	require.NoError(t, err)
	return tpl, v
}

func TestTemplatePatchAndDelete(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	tpl, _ := newTemplate(t, owner, "alpha")
	other, _ := newTemplate(t, owner, "beta")

	display := "Alpha"
	updated, err := owner.Client.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{
		DisplayName: &display, DefaultTTLMillis: 7200000, ActivityBumpMillis: 60000, AllowUserAutostart: true,
	})
	require.NoError(t, err)
	require.Equal(t, "Alpha", updated.DisplayName)
	require.Equal(t, int64(7200000), updated.DefaultTTLMillis)
	require.True(t, updated.AllowUserAutostart)
	require.False(t, updated.AllowUserAutostop, "omitted booleans are written as false")
	require.True(t, updated.UpdatedAt.After(tpl.UpdatedAt))

	_, err = owner.Client.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{
		DisplayName: &display, DefaultTTLMillis: 7200000, ActivityBumpMillis: 60000, AllowUserAutostart: true,
	})
	require.ErrorIs(t, err, sdk.ErrNotModified)

	_, err = owner.Client.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{Name: "beta"})
	apiErr := requireStatus(t, err, http.StatusConflict, `Template with name "beta" already exists.`)
	require.Equal(t, "name", apiErr.Response.Validations[0].Field)
	_, err = owner.Client.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{Name: "bad name"})
	requireStatus(t, err, http.StatusBadRequest, "Validation failed.")
	_, err = owner.Client.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{DefaultTTLMillis: -1})
	apiErr = requireStatus(t, err, http.StatusBadRequest, "Invalid request to update template metadata!")
	require.Equal(t, []sdk.ValidationError{{Field: "default_ttl_ms", Detail: "Must be a positive integer."}}, apiErr.Response.Validations)

	require.NoError(t, owner.Client.DeleteTemplate(ctx, other.ID))
	_, err = owner.Client.Template(ctx, other.ID)
	requireStatus(t, err, http.StatusNotFound, "")
	list, err := owner.Client.TemplatesByOrganization(ctx, owner.OrganizationID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	// The name is free again.
	renamed, err := owner.Client.UpdateTemplateMeta(ctx, tpl.ID, sdk.UpdateTemplateMeta{Name: "beta"})
	require.NoError(t, err)
	require.Equal(t, "beta", renamed.Name)
}

func TestTemplateDAUs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	tpl, _ := newTemplate(t, owner, "daus")

	daus, err := owner.Client.TemplateDAUs(ctx, tpl.ID, 5)
	require.NoError(t, err)
	require.Equal(t, 5, daus.TZHourOffset)
	require.Len(t, daus.Entries, 61)
	today := time.Now().In(time.FixedZone("", 5*3600)).Format(time.DateOnly)
	require.Equal(t, today, daus.Entries[60].Date)
	for _, e := range daus.Entries {
		require.Zero(t, e.Amount)
	}
	res, err := owner.Client.Request(ctx, http.MethodGet, "/api/v2/templates/"+tpl.ID.String()+"/daus?bogus=1", nil)
	require.NoError(t, err)
	apiErr := requireStatus(t, sdk.ReadBodyAsError(res), http.StatusBadRequest, "Query parameters have invalid values.")
	require.Equal(t, "bogus", apiErr.Response.Validations[0].Field)
}

func TestTemplateVersionsListPromoteAndRename(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	tpl, first := newTemplate(t, owner, "versions")

	inTemplate := func(r *sdk.CreateTemplateVersionRequest) { r.TemplateID = tpl.ID }
	second := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, demoSpec, inTemplate, func(r *sdk.CreateTemplateVersionRequest) { r.Name = "second" }).ID)
	failed := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner,
		`{"version":1,"steps":{"parse":{"outcome":"fail"}}}`, inTemplate).ID)
	require.Equal(t, sdk.ProvisionerJobFailed, failed.Job.Status)

	all, err := owner.Client.TemplateVersionsByTemplate(ctx, tpl.ID)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{first.ID, second.ID, failed.ID}, versionIDs(all))
	page, err := owner.Client.TemplateVersionsByTemplate(ctx, tpl.ID, sdk.WithPagination(sdk.Pagination{Limit: 1, Offset: 1}))
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{second.ID}, versionIDs(page))
	page, err = owner.Client.TemplateVersionsByTemplate(ctx, tpl.ID, sdk.WithPagination(sdk.Pagination{AfterID: first.ID}))
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{second.ID, failed.ID}, versionIDs(page))
	missing := uuid.New()
	_, err = owner.Client.TemplateVersionsByTemplate(ctx, tpl.ID, sdk.WithPagination(sdk.Pagination{AfterID: missing}))
	requireStatus(t, err, http.StatusBadRequest, `Record at "after_id" ("`+missing.String()+`") does not exist.`)
	_, err = owner.Client.TemplateVersionsByTemplate(ctx, tpl.ID, sdk.WithQueryParam("limit", "-1"))
	apiErr := requireStatus(t, err, http.StatusBadRequest, "Query parameters have invalid values.")
	require.Equal(t, "limit", apiErr.Response.Validations[0].Field)

	byName, err := owner.Client.TemplateVersionByName(ctx, tpl.ID, "second")
	require.NoError(t, err)
	require.Equal(t, second.ID, byName.ID)
	_, err = owner.Client.TemplateVersionByName(ctx, tpl.ID, "nope")
	requireStatus(t, err, http.StatusNotFound, "")

	require.NoError(t, owner.Client.UpdateActiveTemplateVersion(ctx, tpl.ID, sdk.UpdateActiveTemplateVersion{ID: second.ID}))
	got, err := owner.Client.Template(ctx, tpl.ID)
	require.NoError(t, err)
	require.Equal(t, second.ID, got.ActiveVersionID)
	err = owner.Client.UpdateActiveTemplateVersion(ctx, tpl.ID, sdk.UpdateActiveTemplateVersion{ID: failed.ID})
	apiErr = requireStatus(t, err, http.StatusForbidden, "Only versions that have been built successfully can be promoted.")
	require.Equal(t, "Attempted to promote a version with a failed build", apiErr.Response.Detail)
	loose := createVersion(ctx, t, owner, demoSpec)
	err = owner.Client.UpdateActiveTemplateVersion(ctx, tpl.ID, sdk.UpdateActiveTemplateVersion{ID: loose.ID})
	requireStatus(t, err, http.StatusBadRequest, "The provided template version doesn't belong to the specified template.")
	err = owner.Client.UpdateActiveTemplateVersion(ctx, tpl.ID, sdk.UpdateActiveTemplateVersion{ID: uuid.New()})
	requireStatus(t, err, http.StatusNotFound, "Template version not found.")

	msg := "now with a message"
	renamed, err := owner.Client.PatchTemplateVersion(ctx, failed.ID, sdk.PatchTemplateVersionRequest{Name: "third", Message: &msg})
	require.NoError(t, err)
	require.Equal(t, "third", renamed.Name)
	require.Equal(t, msg, renamed.Message)
	kept, err := owner.Client.PatchTemplateVersion(ctx, failed.ID, sdk.PatchTemplateVersionRequest{})
	require.NoError(t, err)
	require.Equal(t, "third", kept.Name, "an empty name keeps the current one")
	_, err = owner.Client.PatchTemplateVersion(ctx, failed.ID, sdk.PatchTemplateVersionRequest{Name: "second"})
	apiErr = requireStatus(t, err, http.StatusBadRequest, "template version name must be unique for a template")
	require.Equal(t, "name", apiErr.Response.Validations[0].Field)

	_, err = owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
		Name: "second", TemplateID: tpl.ID, FileID: first.Job.FileID, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
	})
	requireStatus(t, err, http.StatusConflict, `A template version with name "second" already exists for this template.`)
}

func versionIDs(vs []sdk.TemplateVersion) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func TestTemplateVersionDryRun(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	spec := `{"version":1,"parameters":[{"name":"size","type":"string","default_value":"small"}],
	 "resources":[{"name":"dev","type":"echo_instance","metadata":[{"key":"size","value":"${param:size}"},{"key":"ws","value":"${workspace_name}"}]}],
	 "steps":{"plan:start":{"logs":[{"output":"dry ${workspace_name}"}]}}}`
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, spec).ID)

	job, err := owner.Client.CreateTemplateVersionDryRun(ctx, v.ID, sdk.CreateTemplateVersionDryRunRequest{
		WorkspaceName: "mine", RichParameterValues: []sdk.WorkspaceBuildParameter{{Name: "size", Value: "large"}},
	})
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobTypeTemplateVersionDryRun, job.Type)
	require.Equal(t, v.ID, *job.Input.TemplateVersionID)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		job, err = owner.Client.TemplateVersionDryRun(ctx, v.ID, job.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobSucceeded, job.Status)
	}, 60*time.Second, 20*time.Millisecond)

	res, err := owner.Client.TemplateVersionDryRunResources(ctx, v.ID, job.ID)
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Equal(t, []sdk.WorkspaceResourceMetadata{{Key: "size", Value: "large"}, {Key: "ws", Value: "mine"}}, res[0].Metadata)
	logs, err := owner.Client.TemplateVersionDryRunLogsAfter(ctx, v.ID, job.ID, 0)
	require.NoError(t, err)
	require.Contains(t, outputs(logs), "dry mine")
	ch, closer, err := owner.Client.TemplateVersionDryRunLogsFollow(ctx, v.ID, job.ID, 0)
	require.NoError(t, err)
	defer closer.Close()
	require.Equal(t, logs, drain(t, ch))
	mp, err := owner.Client.TemplateVersionDryRunMatchedProvisioners(ctx, v.ID, job.ID)
	require.NoError(t, err)
	require.Equal(t, 1, mp.Count)
	require.Equal(t, 1, mp.Available)
	err = owner.Client.CancelTemplateVersionDryRun(ctx, v.ID, job.ID)
	requireStatus(t, err, http.StatusBadRequest, "Job has already completed.")

	// Wrong version, unknown job, malformed ID.
	other := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, demoSpec).ID)
	_, err = owner.Client.TemplateVersionDryRun(ctx, other.ID, job.ID)
	requireStatus(t, err, http.StatusForbidden, "")
	_, err = owner.Client.TemplateVersionDryRun(ctx, v.ID, v.Job.ID)
	requireStatus(t, err, http.StatusForbidden, "")
	unknown := uuid.New()
	_, err = owner.Client.TemplateVersionDryRun(ctx, v.ID, unknown)
	requireStatus(t, err, http.StatusNotFound, `Provisioner job "`+unknown.String()+`" not found.`)
	r, err := owner.Client.Request(ctx, http.MethodGet, "/api/v2/templateversions/"+v.ID.String()+"/dry-run/xyz", nil)
	require.NoError(t, err)
	requireStatus(t, sdk.ReadBodyAsError(r), http.StatusBadRequest, `Job ID "xyz" must be a valid UUID.`)
}

func TestTemplateVersionDryRunCancelAndEarly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	spec := `{"version":1,"steps":{"plan:start":{"outcome":"hang"}}}`
	v := createVersion(ctx, t, owner, spec)
	_, err := owner.Client.CreateTemplateVersionDryRun(ctx, v.ID, sdk.CreateTemplateVersionDryRunRequest{})
	requireStatus(t, err, http.StatusTooEarly, "Template version import job hasn't completed!")
	require.NoError(t, owner.Client.CancelTemplateVersion(ctx, v.ID))
	v = berthtest.WaitJob(ctx, t, owner.Client, v.ID)
	require.Equal(t, sdk.ProvisionerJobCanceled, v.Job.Status)

	// A canceled import still allows dry-runs (only a pending one is refused).
	job, err := owner.Client.CreateTemplateVersionDryRun(ctx, v.ID, sdk.CreateTemplateVersionDryRunRequest{})
	require.NoError(t, err)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		job, err = owner.Client.TemplateVersionDryRun(ctx, v.ID, job.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobRunning, job.Status)
	}, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, owner.Client.CancelTemplateVersionDryRun(ctx, v.ID, job.ID))
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		job, err = owner.Client.TemplateVersionDryRun(ctx, v.ID, job.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobCanceled, job.Status)
	}, 30*time.Second, 20*time.Millisecond)
	err = owner.Client.CancelTemplateVersionDryRun(ctx, v.ID, job.ID)
	requireStatus(t, err, http.StatusBadRequest, "Job has already completed.")
}

// TestLogsFollowAcrossAPIServers follows one job through two API servers
// that share a database: both receive every line through Postgres.
func TestLogsFollowAcrossAPIServers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d1 := berthtest.New(t, berthtest.Options{})
	d2 := berthtest.New(t, berthtest.Options{DB: d1.DB, QueuePrefix: d1.Queues.Prefix, NoWorker: true})
	owner := d1.CreateFirstUser(ctx)
	other := berthtest.Owner{Client: sdk.New(d2.URL), UserID: owner.UserID, OrganizationID: owner.OrganizationID}
	other.Client.SetSessionToken(owner.Client.SessionToken())

	v := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan":{"logs":[{"output":"tick","delay_ms":100,"repeat":5}]}}}`)
	ch1, c1, err := owner.Client.TemplateVersionLogsFollow(ctx, v.ID, 0)
	require.NoError(t, err)
	defer c1.Close()
	ch2, c2, err := other.Client.TemplateVersionLogsFollow(ctx, v.ID, 0)
	require.NoError(t, err)
	defer c2.Close()
	got1, got2 := drain(t, ch1), drain(t, ch2)
	all, err := owner.Client.TemplateVersionLogsAfter(ctx, v.ID, 0)
	require.NoError(t, err)
	require.Equal(t, all, got1)
	require.Equal(t, all, got2)
}

func TestTemplatesSearch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	alpha, _ := newTemplate(t, owner, "alpha-one")
	beta, _ := newTemplate(t, owner, "beta-two")
	dep := "use beta"
	_, err := owner.Client.UpdateTemplateMeta(ctx, alpha.ID, sdk.UpdateTemplateMeta{DeprecationMessage: &dep})
	require.NoError(t, err)

	for q, want := range map[string][]uuid.UUID{
		"":                                {beta.ID},
		"deprecated:true":                 {alpha.ID},
		"exact_name:beta-two":             {beta.ID},
		"name:two":                        {beta.ID},
		"two":                             {beta.ID},
		"author:me":                       {beta.ID},
		"author:nobody":                   {},
		"organization:coder":              {beta.ID},
		"ids:" + beta.ID.String():         {beta.ID},
		"has_external_agent:true":         {},
		"deprecated:true exact_name:beta": {},
	} {
		got, err := owner.Client.Templates(ctx, q)
		require.NoError(t, err, q)
		ids := []uuid.UUID{}
		for _, tpl := range got {
			ids = append(ids, tpl.ID)
		}
		require.Equal(t, want, ids, q)
	}
	_, err = owner.Client.Templates(ctx, "bogus:1")
	apiErr := requireStatus(t, err, http.StatusBadRequest, "Invalid template search query.")
	require.Equal(t, "bogus", apiErr.Response.Validations[0].Field)
}
