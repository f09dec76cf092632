package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/provisioner/echo"
)

// countingReader serves a login body whose password is n bytes of 'a' and
// counts what the server read of it.
type countingReader struct {
	r    io.Reader
	read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}

func hugeLogin(n int64) *countingReader {
	return &countingReader{r: io.MultiReader(
		strings.NewReader(`{"email":"a@example.com","password":"`),
		io.LimitReader(repeatByte('a'), n),
		strings.NewReader(`"}`),
	)}
}

type repeatByte byte

func (b repeatByte) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestHugeLoginBodyIsRefusedUnread posts an unauthenticated login with a
// 64 MiB password, once without a length (chunked) and once declaring it:
// both get a Coder-shaped 413, the first after reading no more than the cap,
// the second after reading nothing.
func TestHugeLoginBodyIsRefusedUnread(t *testing.T) {
	t.Parallel()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	h := d.API.Handler()
	const size = 64 << 20
	for _, declared := range []bool{false, true} {
		body := hugeLogin(size)
		req := httptest.NewRequest(http.MethodPost, "/api/v2/users/login", body)
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = -1
		if declared {
			req.ContentLength = size + 64
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
		var resp sdk.Response
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
		require.Equal(t, "Request body is too large.", resp.Message)
		if declared {
			require.Zero(t, body.read)
		} else {
			require.LessOrEqual(t, body.read, int64(httpapi.MaxBodySize+64<<10))
		}
	}
	// A body under the cap is read as before.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/v2/users/login", bytes.NewReader([]byte(`{"email":"a@example.com","password":"x"}`)))
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
}

// TestStreamsOutliveWriteTimeout runs a server whose read and write
// timeouts are one second and checks that a slow upload, a log follow and a
// workspace watch still complete or deliver after that: uploads and
// long-lived streams lift their deadlines.
func TestStreamsOutliveWriteTimeout(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	// The streams are served by a second API server on the same database
	// whose timeouts are short; the setup goes through the first, whose
	// handlers (bcrypt under -race) may take longer than that.
	short := berthtest.New(t, berthtest.Options{DB: d.DB, QueuePrefix: d.Queues.Prefix, NoWorker: true,
		HTTPServer: func(s *http.Server) { s.ReadTimeout, s.WriteTimeout = time.Second, time.Second }})
	owner := d.CreateFirstUser(ctx)
	streams := sdk.New(short.URL)
	streams.SetSessionToken(owner.Client.SessionToken())
	// An upload may take longer than the read and write timeouts.
	tarball, err := echo.TarJSON(`{"version": 1}`)
	require.NoError(t, err)
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write(tarball[:512])
		time.Sleep(2500 * time.Millisecond)
		_, _ = pw.Write(tarball[512:])
		_ = pw.Close()
	}()
	_, err = streams.Upload(ctx, sdk.ContentTypeTar, pr)
	require.NoError(t, err, "a slow upload")

	v := createVersion(ctx, t, owner, `{"version": 1,
	  "steps": {"parse": {"logs": [{"output": "early"}, {"output": "late", "delay_ms": 2500}]}}}`)
	logs, closer, err := streams.TemplateVersionLogsFollow(ctx, v.ID, 0)
	require.NoError(t, err)
	defer closer.Close()
	var outputs []string
	for l := range logs {
		outputs = append(outputs, l.Output)
	}
	require.Contains(t, outputs, "late")
	v = berthtest.WaitJob(ctx, t, owner.Client, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status)

	v = berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner, workspaceSpec).ID)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "deadline", VersionID: v.ID})
	require.NoError(t, err)
	ws, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "deadline"})
	require.NoError(t, err)
	berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	events, err := streams.WatchWorkspace(ctx, ws.ID)
	require.NoError(t, err)
	<-events
	// Past both deadlines of the watch's connection (not a timing
	// assertion: the wait only has to exceed the configured timeouts).
	time.Sleep(2500 * time.Millisecond)
	require.NoError(t, owner.Client.UpdateWorkspaceAutomaticUpdates(ctx, ws.ID, sdk.UpdateWorkspaceAutomaticUpdatesRequest{AutomaticUpdates: "always"}))
	for {
		select {
		case w, ok := <-events:
			require.True(t, ok, "the watch ended at the server's write deadline")
			if w.AutomaticUpdates == "always" {
				return
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no watch event within 30s")
		}
	}
}
