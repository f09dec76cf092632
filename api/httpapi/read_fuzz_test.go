package httpapi_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/sdk"
)

// bodies are the request bodies the API decodes with httpapi.Read: the
// create endpoints' first, then every other write.
var bodies = []func() any{
	func() any { return new(sdk.CreateWorkspaceRequest) },
	func() any { return new(sdk.CreateWorkspaceBuildRequest) },
	func() any { return new(sdk.CreateTemplateRequest) },
	func() any { return new(sdk.CreateTemplateVersionRequest) },
	func() any { return new(sdk.CreateTemplateVersionDryRunRequest) },
	func() any { return new(sdk.CreateUserRequest) },
	func() any { return new(sdk.CreateFirstUserRequest) },
	func() any { return new(sdk.CreateTokenRequest) },
	func() any { return new(sdk.LoginWithPasswordRequest) },
	func() any { return new(sdk.UpdateTemplateMeta) },
	func() any { return new(sdk.PatchTemplateVersionRequest) },
	func() any { return new(sdk.ArchiveTemplateVersionsRequest) },
	func() any { return new(sdk.UpdateUserQuietHoursScheduleRequest) },
	func() any { return new(sdk.UpdateUserPasswordRequest) },
	func() any { return new(sdk.UpdateRoles) },
	func() any { return new(sdk.UpdateWorkspaceBuildStateRequest) },
	func() any { return new(sdk.UpdateWorkspaceRequest) },
	func() any { return new(sdk.UpdateWorkspaceAutostartRequest) },
	func() any { return new(sdk.UpdateWorkspaceAutomaticUpdatesRequest) },
	func() any { return new(sdk.UpdateWorkspaceTTLRequest) },
	func() any { return new(sdk.PutExtendWorkspaceRequest) },
	func() any { return new(sdk.PostWorkspaceUsageRequest) },
}

// FuzzReadBody: whatever a client sends, decoding and validating a request
// body never panics, and a refusal is a Coder-shaped 400 (never a 500).
// Seeds in testdata/fuzz/FuzzReadBody run in every `go test`.
func FuzzReadBody(f *testing.F) {
	for i, s := range []string{
		`{"template_id":"11111111-1111-4111-8111-111111111111","name":"dev","rich_parameter_values":[{"name":"a","value":"b"}]}`,
		`{"transition":"start","template_version_id":"11111111-1111-4111-8111-111111111111","log_level":"debug","state":"AAEC"}`,
		`{"name":"tpl","template_version_id":"11111111-1111-4111-8111-111111111111","default_ttl_ms":3600000,"autostop_requirement":{"days_of_week":["monday"],"weeks":1}}`,
		`{"file_id":"11111111-1111-4111-8111-111111111111","storage_method":"file","provisioner":"echo","tags":{"scope":"user"},"user_variable_values":[{"name":"x","value":"y"}]}`,
		`{"workspace_name":"w","rich_parameter_values":[],"user_variable_values":[{"name":"x","value":"y"}]}`,
		`{"email":"a@b.c","username":"al","password":"p","login_type":"password","organization_ids":["11111111-1111-4111-8111-111111111111"]}`,
		`{"lifetime":1e300,"scope":"all","token_name":"t"}`, `{"deadline":"2026-01-01T00:00:00Z"}`, `{"ttl_ms":-1}`,
		`{"schedule":"CRON_TZ=UTC 0 9 * * 1-5"}`, `{"roles":["owner",null]}`, `null`, `[]`, `"x"`, `{"name":` + "\"\xff\"}", ``,
	} {
		f.Add(uint8(i), []byte(s))
	}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		v := bodies[int(which)%len(bodies)]()
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		err := httpapi.Read(c, v)
		if err == nil {
			return
		}
		var he *httpapi.Error
		require.True(t, errors.As(err, &he), "%T %v", v, err)
		require.Equal(t, http.StatusBadRequest, he.Status, "%T %v", v, err)
		require.NotEmpty(t, he.Response.Message)
	})
}
