package api_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/provisioner/echo"
)

func TestFiles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true, MaxFileSize: 64 << 10})
	owner := d.CreateFirstUser(ctx)
	data, err := echo.TarJSON(`{"version":1}`)
	require.NoError(t, err)

	res, err := owner.Client.Request(ctx, http.MethodPost, "/api/v2/files", data, sdk.WithHeader("Content-Type", sdk.ContentTypeTar))
	require.NoError(t, err)
	var first sdk.UploadResponse
	require.NoError(t, sdk.DecodeJSON(res, &first))
	require.Equal(t, http.StatusCreated, res.StatusCode)

	// The same bytes from the same user: 200 and the same ID.
	res, err = owner.Client.Request(ctx, http.MethodPost, "/api/v2/files", data, sdk.WithHeader("Content-Type", sdk.ContentTypeTar))
	require.NoError(t, err)
	var again sdk.UploadResponse
	require.NoError(t, sdk.DecodeJSON(res, &again))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, first.ID, again.ID)

	got, ct, err := owner.Client.Download(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.Equal(t, sdk.ContentTypeTar, ct)

	_, err = owner.Client.Upload(ctx, "text/plain", bytes.NewReader(data))
	requireStatus(t, err, http.StatusBadRequest, `Unsupported content type header "text/plain".`)
	_, err = owner.Client.Upload(ctx, sdk.ContentTypeTar, bytes.NewReader([]byte("this is not a tar archive at all")))
	requireStatus(t, err, http.StatusBadRequest, "")
	_, err = owner.Client.Upload(ctx, sdk.ContentTypeZip, bytes.NewReader([]byte("PK broken")))
	requireStatus(t, err, http.StatusBadRequest, "Incomplete .zip archive file.")
	_, err = owner.Client.Upload(ctx, sdk.ContentTypeTar, bytes.NewReader(make([]byte, 128<<10)))
	requireStatus(t, err, http.StatusRequestEntityTooLarge, "")

	res, err = owner.Client.Request(ctx, http.MethodGet, "/api/v2/files/not-a-uuid", nil)
	require.NoError(t, err)
	requireStatus(t, sdk.ReadBodyAsError(res), http.StatusBadRequest, "File id must be a valid UUID.")
}

// zipOf returns a zip archive of n empty files.
func zipOf(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range n {
		_, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("f%d", i), Method: zip.Store})
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// tarOf returns a tar archive of n empty files.
func tarOf(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := range n {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("f%d", i), Mode: 0o644, Typeflag: tar.TypeReg}))
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// TestUploadArchiveLimits checks the caps on what an upload stores: a
// zip's converted tar counts against the size limit (200 empty files fit a
// 64 KiB zip but not a 64 KiB tar), and archives hold at most 10,000 entries.
func TestUploadArchiveLimits(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	small := berthtest.New(t, berthtest.Options{NoWorker: true, MaxFileSize: 64 << 10})
	owner := small.CreateFirstUser(ctx)
	z := zipOf(t, 200)
	require.Less(t, len(z), 64<<10)
	_, err := owner.Client.Upload(ctx, sdk.ContentTypeZip, bytes.NewReader(z))
	requireStatus(t, err, http.StatusRequestEntityTooLarge, "File is too large.")
	_, err = owner.Client.Upload(ctx, sdk.ContentTypeZip, bytes.NewReader(zipOf(t, 20)))
	require.NoError(t, err)

	big := berthtest.New(t, berthtest.Options{DB: small.DB, QueuePrefix: small.Queues.Prefix, NoWorker: true, MaxFileSize: 8 << 20})
	c := sdk.New(big.URL)
	c.SetSessionToken(owner.Client.SessionToken())
	for _, up := range []struct {
		ct   string
		data func(int) []byte
	}{{sdk.ContentTypeZip, func(n int) []byte { return zipOf(t, n) }}, {sdk.ContentTypeTar, func(n int) []byte { return tarOf(t, n) }}} {
		_, err = c.Upload(ctx, up.ct, bytes.NewReader(up.data(10_001)))
		requireStatus(t, err, http.StatusBadRequest, "Archive has too many entries.")
		_, err = c.Upload(ctx, up.ct, bytes.NewReader(up.data(10_000)))
		require.NoError(t, err, up.ct)
	}
}

// TestOverLimitUploadIsNotBuffered sends a 64 MiB upload to a server whose
// cap is 8 MiB, without a length and then declaring it: it is answered 413
// after reading at most the cap (nothing when the length is declared), and
// the request allocates far less than the cap: the body goes through a
// disk spool, not memory. Not parallel, so the allocation count is this
// request's.
func TestOverLimitUploadIsNotBuffered(t *testing.T) {
	ctx := t.Context()
	const limit = 8 << 20
	d := berthtest.New(t, berthtest.Options{NoWorker: true, MaxFileSize: limit})
	owner := d.CreateFirstUser(ctx)
	h := d.API.Handler()
	for _, declared := range []bool{false, true} {
		body := &countingReader{r: io.LimitReader(repeatByte(0), 64<<20)}
		req := httptest.NewRequest(http.MethodPost, "/api/v2/files", body)
		req.Header.Set("Content-Type", sdk.ContentTypeTar)
		req.Header.Set("Coder-Session-Token", owner.Client.SessionToken())
		req.ContentLength = -1
		if declared {
			req.ContentLength = 64 << 20
		}
		rec := httptest.NewRecorder()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		h.ServeHTTP(rec, req)
		runtime.ReadMemStats(&after)
		require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
		require.LessOrEqual(t, body.read, int64(limit+64<<10))
		if declared {
			require.Zero(t, body.read)
		}
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(limit/4), "bytes allocated while refusing the upload")
	}
}
