package api

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

const (
	contentTypeTar = "application/x-tar"
	contentTypeZip = "application/zip"
)

func (a *API) uploadFile(c *gin.Context) error {
	ct, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if ct != contentTypeTar && ct != contentTypeZip {
		return httpapi.BadRequest("Unsupported content type header %q.", c.GetHeader("Content-Type"))
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, a.opts.MaxFileSize)
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return httpapi.Errorf(http.StatusRequestEntityTooLarge, "File is too large.").
				WithDetail("The maximum upload size is %d bytes.", a.opts.MaxFileSize)
		}
		return httpapi.BadRequest("Failed to read file from request.").WithDetail("%s", err.Error())
	}
	if ct == contentTypeZip {
		data, err = zipToTar(data, a.opts.MaxFileSize)
		if err != nil {
			return httpapi.BadRequest("Incomplete .zip archive file.").WithDetail("%s", err.Error())
		}
	} else if err := checkTar(data); err != nil {
		return httpapi.BadRequest("File is not a valid tar archive.").WithDetail("%s", err.Error())
	}
	sum := sha256.Sum256(data)
	f := &db.File{
		ID: uuid.New(), Hash: hex.EncodeToString(sum[:]), CreatedBy: httpmw.ActorFrom(c).User.ID,
		CreatedAt: db.Now(), Mimetype: contentTypeTar, Data: data,
	}
	stored, created, err := a.store.InsertFile(c.Request.Context(), f)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return httpapi.Write(c, status, sdk.UploadResponse{ID: stored.ID})
}

// checkTar reads every header of a tar archive.
func checkTar(data []byte) error {
	if len(data) == 0 {
		return errors.New("empty body")
	}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// zipToTar converts a zip archive to tar, keeping regular files and dirs.
func zipToTar(data []byte, limit int64) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var total int64
	for _, f := range zr.File {
		hdr := &tar.Header{Name: f.Name, Mode: int64(f.Mode().Perm()), ModTime: f.Modified}
		if f.FileInfo().IsDir() || strings.HasSuffix(f.Name, "/") {
			hdr.Typeflag = tar.TypeDir
			hdr.Mode |= 0o700
			if err := tw.WriteHeader(hdr); err != nil {
				return nil, err
			}
			continue
		}
		total += int64(f.UncompressedSize64)
		if total > limit {
			return nil, errors.New("archive expands beyond the upload limit")
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = int64(f.UncompressedSize64)
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			rc.Close()
			return nil, err
		}
		_, err = io.Copy(tw, io.LimitReader(rc, hdr.Size))
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (a *API) downloadFile(c *gin.Context) error {
	id, err := uuid.Parse(c.Param("fileID"))
	if err != nil {
		return httpapi.BadRequest("File id must be a valid UUID.").WithDetail("%s", err.Error())
	}
	f, err := a.store.GetFileByID(c.Request.Context(), id)
	if err != nil {
		return notFoundAs(err)
	}
	actor := httpmw.ActorFrom(c)
	if f.CreatedBy != actor.User.ID && !actor.IsOwner() {
		return httpapi.NotFound()
	}
	if c.Query("format") == "zip" {
		out, err := tarToZip(f.Data)
		if err != nil {
			return err
		}
		c.Data(http.StatusOK, contentTypeZip, out)
		return nil
	}
	c.Data(http.StatusOK, f.Mimetype, f.Data)
	return nil
}

func tarToZip(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		w, err := zw.Create(hdr.Name)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(w, tr); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
