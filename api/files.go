package api

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

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

// maxArchiveEntries caps the entries of an uploaded archive: the workers'
// extraction limit (provisioner.DefaultMaxFiles), checked at the door so a
// zip's central directory is never parsed past it.
const maxArchiveEntries = 10_000

// uploadReadTimeout replaces the server's read timeout for an upload body,
// which may be the whole file size cap on a slow link.
const uploadReadTimeout = 10 * time.Minute

func (a *API) uploadFile(c *gin.Context) error {
	ct, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if ct != contentTypeTar && ct != contentTypeZip {
		return httpapi.BadRequest("Unsupported content type header %q.", c.GetHeader("Content-Type"))
	}
	limit := a.opts.MaxFileSize
	tooLarge := httpapi.Errorf(http.StatusRequestEntityTooLarge, "File is too large.").
		WithDetail("The maximum upload size is %d bytes.", limit)
	if c.Request.ContentLength > limit {
		return tooLarge // refused unread
	}
	httpapi.ExtendRead(c, uploadReadTimeout)
	// The body is spooled to disk, never held whole in memory: an
	// over-limit upload costs a copy buffer, and only a file that will be
	// stored is read into memory (once) for the insert.
	spool, err := newSpool()
	if err != nil {
		return err
	}
	defer spool.remove()
	if _, err := io.Copy(spool.f, http.MaxBytesReader(c.Writer, c.Request.Body, limit)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge
		}
		return httpapi.BadRequest("Failed to read file from request.").WithDetail("%s", err.Error())
	}
	stored := spool
	if ct == contentTypeZip {
		tarSpool, err := newSpool()
		if err != nil {
			return err
		}
		defer tarSpool.remove()
		if err := zipToTar(spool.f, spool.size(), tarSpool.f, limit); err != nil {
			if errors.Is(err, errTooManyEntries) {
				return tooManyEntries()
			}
			if errors.Is(err, errArchiveTooLarge) {
				return tooLarge.WithDetail("The archive converted to tar exceeds the maximum upload size of %d bytes.", limit)
			}
			return httpapi.BadRequest("Incomplete .zip archive file.").WithDetail("%s", err.Error())
		}
		stored = tarSpool
	} else if spool.size() == 0 {
		return httpapi.BadRequest("File is not a valid tar archive.").WithDetail("empty body")
	} else if err := checkTar(io.NewSectionReader(spool.f, 0, spool.size())); err != nil {
		if errors.Is(err, errTooManyEntries) {
			return tooManyEntries()
		}
		return httpapi.BadRequest("File is not a valid tar archive.").WithDetail("%s", err.Error())
	}
	data, err := stored.bytes()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	f := &db.File{
		ID: uuid.New(), Hash: hex.EncodeToString(sum[:]), CreatedBy: httpmw.ActorFrom(c).User.ID,
		CreatedAt: db.Now(), Mimetype: contentTypeTar, Data: data,
	}
	out, created, err := a.store.InsertFile(c.Request.Context(), f)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return httpapi.Write(c, status, sdk.UploadResponse{ID: out.ID})
}

func tooManyEntries() error {
	return httpapi.BadRequest("Archive has too many entries.").WithDetail("%s", errTooManyEntries.Error())
}

// spool is a temporary file an upload streams through.
type spool struct {
	f *os.File
	n int64
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "berth-upload-*")
	if err != nil {
		return nil, fmt.Errorf("create upload spool: %w", err)
	}
	return &spool{f: f, n: -1}, nil
}

func (s *spool) size() int64 {
	if s.n < 0 {
		if st, err := s.f.Stat(); err == nil {
			s.n = st.Size()
		}
	}
	return s.n
}

func (s *spool) bytes() ([]byte, error) {
	data := make([]byte, s.size())
	if _, err := s.f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read upload spool: %w", err)
	}
	return data, nil
}

func (s *spool) remove() {
	_ = s.f.Close()
	_ = os.Remove(s.f.Name())
}

var (
	errArchiveTooLarge = errors.New("archive exceeds the upload limit")
	errTooManyEntries  = fmt.Errorf("archive has more than %d entries", maxArchiveEntries)
)

// checkTar reads every header of a tar archive.
func checkTar(r io.Reader) error {
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n >= maxArchiveEntries {
			return errTooManyEntries
		}
	}
}

// zipEntryCount reads the entry count of a zip's end-of-central-directory
// record, so an archive with too many entries is refused before
// archive/zip parses (and allocates) its whole directory. A zip64 count
// (0xFFFF) is over the cap anyway.
func zipEntryCount(r io.ReaderAt, size int64) (int, error) {
	const eocdLen, maxComment = 22, 65535
	n := min(size, eocdLen+maxComment)
	if n < eocdLen {
		return 0, zip.ErrFormat
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	for i := len(buf) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == 0x06054b50 {
			return int(binary.LittleEndian.Uint16(buf[i+10:])), nil
		}
	}
	return 0, zip.ErrFormat
}

// limitedWriter fails once more than n bytes are written.
type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errArchiveTooLarge
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

// zipToTar converts a zip archive to tar, keeping regular files and dirs.
// The tar written (headers and padding included: what is stored) must fit
// in limit bytes, and the zip may hold at most maxArchiveEntries entries.
func zipToTar(r io.ReaderAt, size int64, out io.Writer, limit int64) error {
	entries, err := zipEntryCount(r, size)
	if err != nil {
		return err
	}
	if entries > maxArchiveEntries {
		return errTooManyEntries
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return err
	}
	if len(zr.File) > maxArchiveEntries {
		return errTooManyEntries
	}
	bw := bufio.NewWriter(&limitedWriter{w: out, n: limit})
	tw := tar.NewWriter(bw)
	for _, f := range zr.File {
		hdr := &tar.Header{Name: f.Name, Mode: int64(f.Mode().Perm()), ModTime: f.Modified}
		if f.FileInfo().IsDir() || strings.HasSuffix(f.Name, "/") {
			hdr.Typeflag = tar.TypeDir
			hdr.Mode |= 0o700
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			continue
		}
		if f.UncompressedSize64 > uint64(limit) {
			return errArchiveTooLarge
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = int64(f.UncompressedSize64)
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			rc.Close()
			return err
		}
		_, err = io.Copy(tw, io.LimitReader(rc, hdr.Size))
		rc.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
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
