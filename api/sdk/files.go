package sdk

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"
)

// Content types accepted by POST /files.
const (
	ContentTypeTar = "application/x-tar"
	ContentTypeZip = "application/zip"
)

// UploadResponse answers POST /files. The key is named hash, but the value is
// the file's ID.
type UploadResponse struct {
	ID uuid.UUID `json:"hash"`
}

// Upload calls POST /api/v2/files with the raw archive as the body. It accepts
// 201 (new file) and 200 (deduplicated).
func (c *Client) Upload(ctx context.Context, contentType string, r io.Reader) (UploadResponse, error) {
	return do[UploadResponse](ctx, c, http.MethodPost, "/api/v2/files", r,
		[]int{http.StatusCreated, http.StatusOK}, WithHeader("Content-Type", contentType))
}

// Download calls GET /api/v2/files/{fileID} and returns the bytes and their
// content type. Pass WithQueryParam("format", "zip") for a zip.
func (c *Client) Download(ctx context.Context, id uuid.UUID, opts ...RequestOption) ([]byte, string, error) {
	res, err := c.Request(ctx, http.MethodGet, "/api/v2/files/"+id.String(), nil, opts...)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, "", ReadBodyAsError(res)
	}
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, "", fmt.Errorf("read file body: %w", err)
	}
	return data, res.Header.Get("Content-Type"), nil
}
