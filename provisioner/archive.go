package provisioner

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
)

// ErrInvalidArchive is wrapped by every error Extract returns because of the
// archive's content, as opposed to I/O trouble or cancellation.
var ErrInvalidArchive = errors.New("invalid template archive")

// Default extraction limits.
const (
	DefaultMaxBytes = 100 << 20
	DefaultMaxFiles = 10_000
)

// Limits caps what Extract writes. A zero field means its default.
type Limits struct {
	MaxBytes int64 // total size of regular files
	MaxFiles int   // paths created: files, links and directories, implied ones included
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	return l
}

// archiveError is a content-caused extraction failure. It matches
// ErrInvalidArchive with errors.Is.
type archiveError struct{ err error }

func (e *archiveError) Error() string        { return "archive: " + e.err.Error() }
func (e *archiveError) Unwrap() error        { return e.err }
func (e *archiveError) Is(target error) bool { return target == ErrInvalidArchive }

func invalidf(format string, args ...any) error {
	return &archiveError{err: fmt.Errorf(format, args...)}
}

// IsTar reports whether data is not empty and reads as a well-formed tar
// stream. An archive with no entries (such as 1024 zero bytes) is valid.
func IsTar(data []byte) bool {
	if len(data) == 0 {
		return false
	}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return false
		}
	}
}

// Extract unpacks the tar archive tarData into dir, an existing empty
// directory. It rejects absolute names, ".." components and links that lead
// outside dir, and enforces lim. Devices, FIFOs and other special entries
// are skipped. Symbolic links must resolve inside dir; dangling ones are
// rejected too. On error dir may hold a partial extraction (without links
// that lead outside it); the caller removes it.
func Extract(ctx context.Context, tarData []byte, dir string, lim Limits) error {
	lim = lim.withDefaults()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open target directory: %w", err)
	}
	defer root.Close()

	x := extractor{root: root, lim: lim, dirs: make(map[string]bool)}
	err = x.extract(ctx, tar.NewReader(bytes.NewReader(tarData)))
	if lerr := x.checkSymlinks(); err == nil {
		err = lerr
	}
	return err
}

type extractor struct {
	root     *os.Root
	lim      Limits
	files    int             // paths created, directories included
	bytes    int64           // regular files' sizes
	dirs     map[string]bool // directories known to exist
	symlinks []string
}

func (x *extractor) extract(ctx context.Context, tr *tar.Reader) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return invalidf("read entry: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
}

// checkSymlinks runs once everything is in place, as links may precede
// their targets: each link must resolve, within the directory, to something
// that exists. It removes those that do not, even after a failed
// extraction, and reports the first.
func (x *extractor) checkSymlinks() error {
	var first error
	for _, name := range x.symlinks {
		if _, err := x.root.Stat(name); err == nil {
			continue
		}
		_ = x.root.Remove(name)
		if first == nil {
			first = invalidf("symbolic link %q does not resolve inside the target directory", name)
		}
	}
	return first
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
	default:
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil
	}
	if hdr.Typeflag == tar.TypeDir {
		return x.mkdirAll(name)
	}
	if err := x.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	// A later entry replaces an earlier one with the same name.
	if err := x.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fsError("create", name, err)
	}
	delete(x.dirs, name)
	if err := x.reserve(); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		return x.symlink(name, hdr.Linkname)
	case tar.TypeLink:
		return x.hardlink(name, hdr.Linkname)
	default:
		return x.file(name, hdr, r)
	}
}

// reserve counts one more path against the limit.
func (x *extractor) reserve() error {
	if x.files >= x.lim.MaxFiles {
		return invalidf("more than %d entries", x.lim.MaxFiles)
	}
	x.files++
	return nil
}

// mkdirAll creates dir and its missing parents, counting each against the
// limit.
func (x *extractor) mkdirAll(dir string) error {
	var missing []string
	for d := dir; d != "." && !x.dirs[d]; d = path.Dir(d) {
		missing = append(missing, d)
	}
	for _, d := range slices.Backward(missing) {
		if err := x.reserve(); err != nil {
			return err
		}
		if err := x.root.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fsError("create directory", d, err)
		}
		x.dirs[d] = true
	}
	return nil
}

func (x *extractor) file(name string, hdr *tar.Header, r io.Reader) error {
	if hdr.Size < 0 || hdr.Size > x.lim.MaxBytes-x.bytes {
		return invalidf("expanded size exceeds %s", formatBytes(x.lim.MaxBytes))
	}
	x.bytes += hdr.Size
	perm := os.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fsError("create file", name, err)
	}
	_, err = io.CopyN(f, r, hdr.Size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var pathErr *fs.PathError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pathErr):
		return fsError("write file", name, err)
	default: // the tar reader's
		return invalidf("read %q: %w", name, err)
	}
}

func (x *extractor) symlink(name, target string) error {
	if target == "" || path.IsAbs(target) ||
		strings.HasPrefix(path.Join(path.Dir(name), target)+"/", "../") {
		return invalidf("symbolic link %q points outside the target directory", name)
	}
	if err := x.root.Symlink(target, name); err != nil {
		return fsError("create symbolic link", name, err)
	}
	x.symlinks = append(x.symlinks, name)
	return nil
}

func (x *extractor) hardlink(name, target string) error {
	if path.IsAbs(target) || hasDotDot(target) {
		return invalidf("hard link %q points outside the target directory", name)
	}
	target = path.Clean(target)
	// Only regular files: a hard link to a symbolic link would move the
	// link's relative target.
	fi, err := x.root.Lstat(target)
	if err != nil || !fi.Mode().IsRegular() {
		return invalidf("hard link %q does not point to an earlier regular file", name)
	}
	if err := x.root.Link(target, name); err != nil {
		return fsError("create hard link", name, err)
	}
	return nil
}

// fsError wraps a failed file-system operation on name. Failures that the
// archive's content provokes (name clashes, paths through links that lead
// outside the directory, bad names) match ErrInvalidArchive; the rest are
// I/O trouble.
func fsError(op, name string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EEXIST, syscall.ENOTDIR, syscall.EISDIR, syscall.ENOTEMPTY,
			syscall.ELOOP, syscall.ENAMETOOLONG, syscall.EINVAL:
		default:
			return fmt.Errorf("%s %q: %w", op, name, err)
		}
	}
	// Without an errno, os.Root refused the path (it escapes the root).
	return invalidf("%s %q: %w", op, name, err)
}

// cleanName validates an entry name and returns it cleaned, relative to the
// target directory ("." for the directory itself).
func cleanName(name string) (string, error) {
	if path.IsAbs(name) {
		return "", invalidf("entry %q has an absolute path", name)
	}
	if hasDotDot(name) {
		return "", invalidf("entry %q escapes the target directory", name)
	}
	return path.Clean("./" + name), nil
}

func hasDotDot(name string) bool {
	for elem := range strings.SplitSeq(name, "/") {
		if elem == ".." {
			return true
		}
	}
	return false
}

func formatBytes(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
