package api_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

func TestTemplates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	v := createVersion(ctx, t, owner, demoSpec)
	v = berthtest.WaitJob(ctx, t, owner.Client, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status)

	_, err := owner.Client.TemplateByName(ctx, owner.OrganizationID, "demo")
	requireStatus(t, err, http.StatusNotFound, "") // `templates push` reads a 404 as "create"

	ttl := int64(3600000)
	cancelJobs := true
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{
		Name: "demo", DisplayName: "Demo", Description: "A demo", Icon: "/icon.svg", VersionID: v.ID,
		DefaultTTLMillis: &ttl, AllowUserCancelWorkspaceJobs: &cancelJobs,
	})
	require.NoError(t, err)
	require.Equal(t, "demo", tpl.Name)
	require.Equal(t, "Demo", tpl.DisplayName)
	require.Equal(t, v.ID, tpl.ActiveVersionID)
	require.Equal(t, sdk.ProvisionerTypeEcho, tpl.Provisioner)
	require.Equal(t, ttl, tpl.DefaultTTLMillis)
	require.Equal(t, int64(3600000), tpl.ActivityBumpMillis)
	require.True(t, tpl.AllowUserCancelWorkspaceJobs)
	require.True(t, tpl.AllowUserAutostart)
	require.True(t, tpl.AllowUserAutostop)
	require.Equal(t, owner.UserID, tpl.CreatedByID)
	require.Equal(t, "owner", tpl.CreatedByName)
	require.Equal(t, "coder", tpl.OrganizationName)
	require.True(t, tpl.UseClassicParameterFlow)
	require.Len(t, tpl.AutostartRequirement.DaysOfWeek, 7)
	require.NotNil(t, tpl.AutostopRequirement.DaysOfWeek)

	got, err := owner.Client.Template(ctx, tpl.ID)
	require.NoError(t, err)
	require.Equal(t, tpl, got)
	got, err = owner.Client.TemplateByName(ctx, owner.OrganizationID, "demo")
	require.NoError(t, err)
	require.Equal(t, tpl, got)
	list, err := owner.Client.TemplatesByOrganization(ctx, owner.OrganizationID)
	require.NoError(t, err)
	require.Equal(t, []sdk.Template{tpl}, list)
	all, err := owner.Client.Templates(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []sdk.Template{tpl}, all)

	v, err = owner.Client.TemplateVersion(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, tpl.ID, v.TemplateID.UUID, "the version now belongs to the template")
	require.Equal(t, "demo", v.Job.Metadata.TemplateName)

	_, err = owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "other", VersionID: v.ID})
	requireStatus(t, err, http.StatusBadRequest, "Template version "+v.ID.String()+" is already part of a template")

	v2 := createVersion(ctx, t, owner, demoSpec)
	_, err = owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "demo", VersionID: v2.ID})
	apiErr := requireStatus(t, err, http.StatusConflict, `Template with name "demo" already exists.`)
	require.Equal(t, []sdk.ValidationError{{Field: "name", Detail: "This value is already in use and should be unique."}}, apiErr.Response.Validations)

	_, err = owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "x", VersionID: uuid.Nil})
	requireStatus(t, err, http.StatusBadRequest, "Validation failed.")
	_, err = owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "Not Valid!", VersionID: v2.ID})
	apiErr = requireStatus(t, err, http.StatusBadRequest, "Validation failed.")
	require.Equal(t, "name", apiErr.Response.Validations[0].Field)
	missing := uuid.New()
	_, err = owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "x", VersionID: missing})
	requireStatus(t, err, http.StatusNotFound, `Template version "`+missing.String()+`" does not exist.`)
	negative := int64(-1)
	_, err = owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "x", VersionID: v2.ID, DefaultTTLMillis: &negative})
	requireStatus(t, err, http.StatusBadRequest, "Invalid create template request.")

	// A member of the organization reads templates but cannot create them.
	_, err = owner.Client.CreateUser(ctx, sdk.CreateUserRequest{
		Email: "m@example.com", Username: "member", Password: berthtest.OwnerPassword, LoginType: sdk.LoginTypePassword,
	})
	require.NoError(t, err)
	mc := d.Client()
	login, err := mc.LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "m@example.com", Password: berthtest.OwnerPassword})
	require.NoError(t, err)
	mc.SetSessionToken(login.SessionToken)
	got, err = mc.Template(ctx, tpl.ID)
	require.NoError(t, err)
	require.Equal(t, tpl.ID, got.ID)
	_, err = mc.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "mine", VersionID: v2.ID})
	requireStatus(t, err, http.StatusForbidden, "")
}
