package sdk_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
)

// newClient starts srv and returns a client for it with the given token.
func newClient(t *testing.T, h http.Handler, token string) *sdk.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	c := sdk.New(u)
	c.SetSessionToken(token)
	return c
}

func writeJSON(t *testing.T, w http.ResponseWriter, code int, v any) {
	t.Helper()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		t.Errorf("encode response: %v", err)
	}
}

func TestClientSendsTokenAndJSON(t *testing.T) {
	t.Parallel()
	var got sdk.CreateTemplateRequest
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/organizations/"+orgID.String()+"/templates" {
			writeJSON(t, w, http.StatusNotFound, sdk.Response{Message: "wrong route " + r.Method + " " + r.URL.Path})
			return
		}
		if r.Header.Get(sdk.SessionTokenHeader) != "abcdefghij-0123456789012345678901" {
			writeJSON(t, w, http.StatusUnauthorized, sdk.Response{Message: "bad token"})
			return
		}
		if r.Header.Get("Content-Type") != "application/json" {
			writeJSON(t, w, http.StatusBadRequest, sdk.Response{Message: "Request body must be valid JSON."})
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			writeJSON(t, w, http.StatusBadRequest, sdk.Response{Message: err.Error()})
			return
		}
		writeJSON(t, w, http.StatusCreated, testTemplate())
	}), "abcdefghij-0123456789012345678901")

	require.Equal(t, "abcdefghij-0123456789012345678901", c.SessionToken())
	tpl, err := c.CreateTemplate(t.Context(), orgID, sdk.CreateTemplateRequest{Name: "docker", VersionID: tvID})
	require.NoError(t, err)
	require.Equal(t, testTemplate(), tpl)
	require.Equal(t, sdk.CreateTemplateRequest{Name: "docker", VersionID: tvID}, got)
}

func TestClientNoTokenHeaderWhenUnset(t *testing.T) {
	t.Parallel()
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header[sdk.SessionTokenHeader]; ok {
			writeJSON(t, w, http.StatusBadRequest, sdk.Response{Message: "unexpected token header"})
			return
		}
		writeJSON(t, w, http.StatusOK, sdk.BuildInfoResponse{Version: "v2.30.0", AgentAPIVersion: "1.0"})
	}), "")
	bi, err := c.BuildInfo(t.Context())
	require.NoError(t, err)
	require.Equal(t, "v2.30.0", bi.Version)
}

func TestClientErrorDecoding(t *testing.T) {
	t.Parallel()
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v2/users/first":
			writeJSON(t, w, http.StatusBadRequest, sdk.Response{
				Message:     "Validation failed.",
				Detail:      "password is weak",
				Validations: []sdk.ValidationError{{Field: "password", Detail: "Password is invalid"}},
			})
		case "/api/v2/templates/" + tplID.String():
			writeJSON(t, w, http.StatusNotFound, sdk.Response{Message: "Resource not found or you do not have access to this resource"})
		default:
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusUpgradeRequired)
			_, _ = io.WriteString(w, "Failed to accept websocket.\n")
		}
	}), "tok")

	_, err := c.CreateFirstUser(t.Context(), sdk.CreateFirstUserRequest{Email: "a@b.c", Username: "admin", Password: "x"})
	apiErr, ok := sdk.AsError(err)
	require.True(t, ok, "want *sdk.Error, got %T: %v", err, err)
	require.Equal(t, http.StatusBadRequest, apiErr.StatusCode())
	require.Equal(t, "Validation failed.", apiErr.Message)
	require.Equal(t, "password is weak", apiErr.Detail)
	require.Equal(t, []sdk.ValidationError{{Field: "password", Detail: "Password is invalid"}}, apiErr.Validations)
	require.Equal(t, http.MethodPost, apiErr.Method)
	require.Equal(t, "/api/v2/users/first", apiErr.Path)
	require.Equal(t,
		"POST /api/v2/users/first: unexpected status code 400: Validation failed.: password is weak\n\tpassword: Password is invalid",
		apiErr.Error())

	_, err = c.Template(t.Context(), tplID)
	require.True(t, sdk.IsStatus(err, http.StatusNotFound))
	require.EqualError(t, err,
		"GET /api/v2/templates/"+tplID.String()+": unexpected status code 404: Resource not found or you do not have access to this resource")

	_, err = c.TemplateVersionLogsAfter(t.Context(), tvID, 0)
	apiErr, ok = sdk.AsError(err)
	require.True(t, ok)
	require.Equal(t, http.StatusUpgradeRequired, apiErr.StatusCode())
	require.Equal(t, "Upgrade Required", apiErr.Message)
	require.Equal(t, "Failed to accept websocket.", apiErr.Detail)
}

func TestClientBaseURLPrefixAndQuery(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/prefix/api/v2/workspaces" {
			writeJSON(t, w, http.StatusNotFound, sdk.Response{Message: r.URL.Path})
			return
		}
		q := r.URL.Query()
		if q.Get("q") != "owner:me template:\"my tpl\"" || q.Get("limit") != "5" || q.Has("offset") {
			writeJSON(t, w, http.StatusBadRequest, sdk.Response{Message: r.URL.RawQuery})
			return
		}
		writeJSON(t, w, http.StatusOK, sdk.WorkspacesResponse{Workspaces: []sdk.Workspace{testWorkspace()}, Count: 7})
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL + "/prefix")
	require.NoError(t, err)
	c := sdk.New(u)

	res, err := c.Workspaces(t.Context(), `owner:me template:"my tpl"`, 5, 0)
	require.NoError(t, err)
	require.Equal(t, 7, res.Count)
	require.Equal(t, []sdk.Workspace{testWorkspace()}, res.Workspaces)
}

func TestClientHasFirstUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code int
		want bool
	}{{http.StatusOK, true}, {http.StatusNotFound, false}} {
		c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(t, w, tc.code, sdk.Response{Message: "The initial user ..."})
		}), "")
		got, err := c.HasFirstUser(t.Context())
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func TestClientUploadDownload(t *testing.T) {
	t.Parallel()
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v2/files":
			if ct := r.Header.Get("Content-Type"); ct != sdk.ContentTypeTar {
				writeJSON(t, w, http.StatusBadRequest, sdk.Response{Message: "Unsupported content type header \"" + ct + "\"."})
				return
			}
			body, _ := io.ReadAll(r.Body)
			code := http.StatusCreated
			if string(body) == "again" {
				code = http.StatusOK // deduplicated
			}
			writeJSON(t, w, code, sdk.UploadResponse{ID: fileID})
		case r.Method == http.MethodGet && r.URL.Path == "/api/v2/files/"+fileID.String():
			w.Header().Set("Content-Type", sdk.ContentTypeTar)
			_, _ = io.WriteString(w, "tarbytes")
		default:
			writeJSON(t, w, http.StatusNotFound, sdk.Response{Message: "not found"})
		}
	}), "tok")

	for _, body := range []string{"first", "again"} {
		res, err := c.Upload(t.Context(), sdk.ContentTypeTar, strings.NewReader(body))
		require.NoError(t, err)
		require.Equal(t, fileID, res.ID)
	}
	_, err := c.Upload(t.Context(), "text/plain", strings.NewReader("x"))
	require.True(t, sdk.IsStatus(err, http.StatusBadRequest))

	data, ct, err := c.Download(t.Context(), fileID)
	require.NoError(t, err)
	require.Equal(t, "tarbytes", string(data))
	require.Equal(t, sdk.ContentTypeTar, ct)
}

func TestClientNotModified(t *testing.T) {
	t.Parallel()
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotModified)
	}), "tok")
	_, err := c.UpdateTemplateMeta(t.Context(), tplID, sdk.UpdateTemplateMeta{Name: "docker"})
	require.ErrorIs(t, err, sdk.ErrNotModified)
	_, err = c.UpdateWorkspaceDormancy(t.Context(), wsID, sdk.UpdateWorkspaceDormancy{Dormant: true})
	require.ErrorIs(t, err, sdk.ErrNotModified)
}

func TestClientMessageOnlyEndpoints(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []string
	)
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		switch r.Method {
		case http.MethodPut:
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(t, w, http.StatusOK, sdk.Response{Message: "Job has been marked as canceled..."})
		}
	}), "tok")

	require.NoError(t, c.CancelTemplateVersion(t.Context(), tvID))
	require.NoError(t, c.CancelWorkspaceBuild(t.Context(), buildID, sdk.CancelWorkspaceBuildParams{ExpectStatus: sdk.CancelWorkspaceBuildStatusPending}))
	require.NoError(t, c.CancelTemplateVersionDryRun(t.Context(), tvID, jobID))
	require.NoError(t, c.UpdateActiveTemplateVersion(t.Context(), tplID, sdk.UpdateActiveTemplateVersion{ID: tvID}))
	require.NoError(t, c.DeleteTemplate(t.Context(), tplID))
	require.NoError(t, c.UpdateWorkspaceTTL(t.Context(), wsID, sdk.UpdateWorkspaceTTLRequest{}))
	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	require.Equal(t, []string{
		"PATCH /api/v2/templateversions/" + tvID.String() + "/cancel?",
		"PATCH /api/v2/workspacebuilds/" + buildID.String() + "/cancel?expect_status=pending",
		"PATCH /api/v2/templateversions/" + tvID.String() + "/dry-run/" + jobID.String() + "/cancel?",
		"PATCH /api/v2/templates/" + tplID.String() + "/versions?",
		"DELETE /api/v2/templates/" + tplID.String() + "?",
		"PUT /api/v2/workspaces/" + wsID.String() + "/ttl?",
	}, got)

	// A 204 endpoint answering 200 is an error.
	err := c.UpdateWorkspace(t.Context(), wsID, sdk.UpdateWorkspaceRequest{Name: "x"})
	require.True(t, sdk.IsStatus(err, http.StatusOK), "%v", err)
}

func TestClientLogsAfter(t *testing.T) {
	t.Parallel()
	logs := []sdk.ProvisionerJobLog{{ID: 8, CreatedAt: t0, Source: sdk.LogSourceProvisioner, Level: sdk.LogLevelInfo, Stage: "Planning", Output: "hi"}}
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/workspacebuilds/"+buildID.String()+"/logs" || r.URL.Query().Get("after") != "7" || r.URL.Query().Has("follow") {
			writeJSON(t, w, http.StatusBadRequest, sdk.Response{Message: r.URL.String()})
			return
		}
		writeJSON(t, w, http.StatusOK, logs)
	}), "tok")
	got, err := c.WorkspaceBuildLogsAfter(t.Context(), buildID, 7)
	require.NoError(t, err)
	require.Equal(t, logs, got)
}

func TestClientTransportError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	srv.Close()
	_, err = sdk.New(u).Workspace(t.Context(), uuid.New())
	require.Error(t, err)
	var apiErr *sdk.Error
	require.False(t, errors.As(err, &apiErr))
}

func TestClientPagination(t *testing.T) {
	t.Parallel()
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/api/v2/templates/"+tplID.String()+"/versions" ||
			q.Get("after_id") != tvID.String() || q.Get("limit") != "2" || q.Has("offset") || q.Get("include_archived") != "true" {
			writeJSON(t, w, http.StatusBadRequest, sdk.Response{Message: r.URL.String()})
			return
		}
		writeJSON(t, w, http.StatusOK, []sdk.TemplateVersion{testTemplateVersion()})
	}), "tok")
	got, err := c.TemplateVersionsByTemplate(t.Context(), tplID,
		sdk.WithPagination(sdk.Pagination{AfterID: tvID, Limit: 2}), sdk.WithQueryParam("include_archived", "true"))
	require.NoError(t, err)
	require.Equal(t, []sdk.TemplateVersion{testTemplateVersion()}, got)
}
