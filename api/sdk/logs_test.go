package sdk_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
)

func testLogs(n int) []sdk.ProvisionerJobLog {
	logs := make([]sdk.ProvisionerJobLog, n)
	for i := range logs {
		logs[i] = sdk.ProvisionerJobLog{
			ID: int64(6 + i), CreatedAt: t0, Source: sdk.LogSourceProvisioner,
			Level: sdk.LogLevelInfo, Stage: "Planning Infrastructure", Output: fmt.Sprintf("line %d", i),
		}
	}
	return logs
}

// followHandler checks what the SDK sends on a log follow, then sends logs
// and closes the socket with 1000 (the job is done).
func followHandler(t *testing.T, path string, logs []sdk.ProvisionerJobLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			writeJSON(t, w, http.StatusNotFound, sdk.Response{Message: "Resource not found or you do not have access to this resource"})
			return
		}
		cookie, err := r.Cookie(sdk.SessionTokenCookie)
		if err != nil || cookie.Value != "tok-en" {
			writeJSON(t, w, http.StatusUnauthorized, sdk.Response{
				Message: "You are signed out or your session has expired. Please sign in again to continue.",
				Detail:  `Cookie "coder_session_token" or query parameter must be provided.`,
			})
			return
		}
		q := r.URL.Query()
		if !q.Has("follow") || q.Get("after") != "5" {
			writeJSON(t, w, http.StatusBadRequest, sdk.Response{Message: "bad query " + r.URL.RawQuery})
			return
		}
		if ext := r.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
			writeJSON(t, w, http.StatusBadRequest, sdk.Response{Message: "compression requested: " + ext})
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer conn.CloseNow()
		for _, l := range logs {
			if err := wsjson.Write(r.Context(), conn, l); err != nil {
				t.Errorf("write log: %v", err)
				return
			}
		}
		_ = conn.Close(websocket.StatusNormalClosure, "done")
	})
}

func collect(ch <-chan sdk.ProvisionerJobLog) []sdk.ProvisionerJobLog {
	var out []sdk.ProvisionerJobLog
	for l := range ch {
		out = append(out, l)
	}
	return out
}

func TestLogsFollowReadsUntilClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		path   string
		follow func(c *sdk.Client, t *testing.T) (<-chan sdk.ProvisionerJobLog, func() error, error)
	}{
		{
			name: "template version",
			path: "/api/v2/templateversions/" + tvID.String() + "/logs",
			follow: func(c *sdk.Client, t *testing.T) (<-chan sdk.ProvisionerJobLog, func() error, error) {
				ch, cl, err := c.TemplateVersionLogsFollow(t.Context(), tvID, 5)
				if err != nil {
					return nil, nil, err
				}
				return ch, cl.Close, nil
			},
		},
		{
			name: "workspace build",
			path: "/api/v2/workspacebuilds/" + buildID.String() + "/logs",
			follow: func(c *sdk.Client, t *testing.T) (<-chan sdk.ProvisionerJobLog, func() error, error) {
				ch, cl, err := c.WorkspaceBuildLogsFollow(t.Context(), buildID, 5)
				if err != nil {
					return nil, nil, err
				}
				return ch, cl.Close, nil
			},
		},
		{
			name: "dry-run",
			path: "/api/v2/templateversions/" + tvID.String() + "/dry-run/" + jobID.String() + "/logs",
			follow: func(c *sdk.Client, t *testing.T) (<-chan sdk.ProvisionerJobLog, func() error, error) {
				ch, cl, err := c.TemplateVersionDryRunLogsFollow(t.Context(), tvID, jobID, 5)
				if err != nil {
					return nil, nil, err
				}
				return ch, cl.Close, nil
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := testLogs(3)
			c := newClient(t, followHandler(t, tc.path, want), "tok-en")
			ch, closeFn, err := tc.follow(c, t)
			require.NoError(t, err)
			require.Equal(t, want, collect(ch))
			require.NoError(t, closeFn())
			require.NoError(t, closeFn(), "Close is idempotent")
		})
	}
}

func TestLogsFollowEmpty(t *testing.T) {
	t.Parallel()
	c := newClient(t, followHandler(t, "/api/v2/templateversions/"+tvID.String()+"/logs", nil), "tok-en")
	ch, closer, err := c.TemplateVersionLogsFollow(t.Context(), tvID, 5)
	require.NoError(t, err)
	defer closer.Close()
	require.Empty(t, collect(ch))
}

func TestLogsFollowErrorBeforeUpgrade(t *testing.T) {
	t.Parallel()
	c := newClient(t, followHandler(t, "/api/v2/templateversions/"+tvID.String()+"/logs", nil), "wrong")
	_, _, err := c.TemplateVersionLogsFollow(t.Context(), tvID, 5)
	apiErr, ok := sdk.AsError(err)
	require.True(t, ok, "want *sdk.Error, got %T: %v", err, err)
	require.Equal(t, http.StatusUnauthorized, apiErr.StatusCode())
	require.Equal(t, `Cookie "coder_session_token" or query parameter must be provided.`, apiErr.Detail)

	_, _, err = c.WorkspaceBuildLogsFollow(t.Context(), buildID, 5)
	require.True(t, sdk.IsStatus(err, http.StatusNotFound), "%v", err)
}

func TestLogsFollowClientClose(t *testing.T) {
	t.Parallel()
	serverDone := make(chan struct{})
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(serverDone)
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer conn.CloseNow()
		if err := wsjson.Write(r.Context(), conn, testLogs(1)[0]); err != nil {
			t.Errorf("write: %v", err)
			return
		}
		// Never end on our own: wait until the client goes away.
		_, _, _ = conn.Read(r.Context())
	}), "tok-en")

	ch, closer, err := c.WorkspaceBuildLogsFollow(t.Context(), buildID, 0)
	require.NoError(t, err)
	require.Equal(t, testLogs(1)[0], <-ch)
	require.NoError(t, closer.Close())
	_, open := <-ch
	require.False(t, open, "channel closes after Close")
	<-serverDone
}

func TestWatchWorkspace(t *testing.T) {
	t.Parallel()
	ws := testWorkspace()
	c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/workspaces/"+wsID.String()+"/watch" || r.Header.Get(sdk.SessionTokenHeader) != "tok" {
			writeJSON(t, w, http.StatusNotFound, sdk.Response{Message: "not found"})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		b, err := json.Marshal(ws)
		if err != nil {
			t.Errorf("marshal: %v", err)
			return
		}
		fmt.Fprintf(w, "event: ping\n\nevent: data\ndata: %s\n\nevent: ping\n\nevent: data\ndata: %s\n\n", b, b)
	}), "tok")

	ch, err := c.WatchWorkspace(t.Context(), wsID)
	require.NoError(t, err)
	var got []sdk.Workspace
	for w := range ch {
		got = append(got, w)
	}
	require.Equal(t, []sdk.Workspace{ws, ws}, got)

	_, err = c.WatchWorkspace(t.Context(), tplID)
	require.True(t, sdk.IsStatus(err, http.StatusNotFound))
}
