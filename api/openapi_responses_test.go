package api_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// TestOpenAPIDescribesResponses runs a deployment through an import and a
// build, then checks real responses of its main routes against the served
// OpenAPI document with kin-openapi's response validator: a field the
// document lacks (objects admit no others), a missing required shape or a
// wrong type fails.
func TestOpenAPIDescribesResponses(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client

	res, err := c.Request(ctx, http.MethodGet, "/api/v2/openapi.json", nil)
	require.NoError(t, err)
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(ctx))
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)

	fileID := berthtest.UploadEcho(ctx, t, c, `{"version":1,"steps":{"plan":{"logs":[{"output":"hi"}]}}}`)
	v, err := c.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
		FileID: fileID, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
	})
	require.NoError(t, err)
	v = berthtest.WaitJob(ctx, t, c, v.ID)
	tpl, err := c.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "docs", VersionID: v.ID})
	require.NoError(t, err)
	ws, err := c.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "dev1"})
	require.NoError(t, err)
	b := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)

	for _, path := range []string{
		"/api/v2/buildinfo",
		"/api/v2/users/me",
		"/api/v2/users",
		"/api/v2/users/me/organizations",
		"/api/v2/organizations/" + owner.OrganizationID.String(),
		"/api/v2/organizations/" + owner.OrganizationID.String() + "/members",
		"/api/v2/organizations/" + owner.OrganizationID.String() + "/provisionerdaemons",
		"/api/v2/organizations/" + owner.OrganizationID.String() + "/provisionerjobs",
		"/api/v2/templates",
		"/api/v2/templates/" + tpl.ID.String(),
		"/api/v2/templates/" + tpl.ID.String() + "/versions",
		"/api/v2/templateversions/" + v.ID.String(),
		"/api/v2/templateversions/" + v.ID.String() + "/logs",
		"/api/v2/templateversions/" + v.ID.String() + "/resources",
		"/api/v2/templateversions/" + v.ID.String() + "/rich-parameters",
		"/api/v2/workspaces",
		"/api/v2/workspaces/" + ws.ID.String(),
		"/api/v2/workspaces/" + ws.ID.String() + "/builds",
		"/api/v2/workspacebuilds/" + b.ID.String(),
		"/api/v2/workspacebuilds/" + b.ID.String() + "/logs",
		"/api/v2/workspacebuilds/" + b.ID.String() + "/resources",
		"/api/v2/workspacebuilds/" + b.ID.String() + "/parameters",
		"/api/v2/deployment/config",
		"/api/v2/users/me/keys/tokens/tokenconfig",
		"/api/v2/users/me/quiet-hours",
	} {
		res, err := c.Request(ctx, http.MethodGet, path, nil)
		require.NoError(t, err, path)
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		require.Less(t, res.StatusCode, 300, "%s: %s", path, body)

		req, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		require.NoError(t, err)
		route, params, err := router.FindRoute(req)
		require.NoError(t, err, "%s is in the document", path)
		err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			},
			Status: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(body)),
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		})
		require.NoError(t, err, "%s: the response matches the document", path)
	}
}
