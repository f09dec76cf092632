package api_test

import (
	"bytes"
	"net/http"
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
