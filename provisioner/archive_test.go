package provisioner_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/provisioner"
)

// entry is one tar entry for tests. Type defaults to a regular file.
type entry struct {
	name   string
	body   string
	typ    byte
	link   string
	mode   int64
	size   int64 // overrides len(body) in the header when non-zero
	nodata bool  // write the header only
}

func makeTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	truncated := false
	for _, e := range entries {
		truncated = truncated || e.nodata
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
			if e.size != 0 {
				hdr.Size = e.size
			}
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if hdr.Typeflag == tar.TypeReg && !e.nodata {
			_, err := tw.Write([]byte(e.body))
			require.NoError(t, err)
		}
	}
	// Entries without their data make Close fail, leaving a truncated
	// archive, which is what the callers want.
	if err := tw.Close(); !truncated {
		require.NoError(t, err)
	}
	return buf.Bytes()
}

// extractDir returns an empty target directory nested inside a parent whose
// contents the test can check for escapes.
func extractDir(t testing.TB) (parent, dir string) {
	t.Helper()
	parent = t.TempDir()
	dir = filepath.Join(parent, "a", "b", "root")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return parent, dir
}

func TestExtract(t *testing.T) {
	t.Parallel()
	_, dir := extractDir(t)
	data := makeTar(t,
		entry{name: "./", typ: tar.TypeDir},
		entry{name: "echo.json", body: `{"version":1}`},
		entry{name: "sub/", typ: tar.TypeDir, mode: 0o700},
		entry{name: "sub/deep/run.sh", body: "#!/bin/sh\n", mode: 0o755},
		entry{name: "sub/link", typ: tar.TypeSymlink, link: "../echo.json"},
		entry{name: "dirlink", typ: tar.TypeSymlink, link: "sub/deep"},
		entry{name: "hard", typ: tar.TypeLink, link: "sub/deep/run.sh"},
		entry{name: "fifo", typ: tar.TypeFifo},
		entry{name: "dup", body: "first"},
		entry{name: "dup", body: "second"},
	)
	require.NoError(t, provisioner.Extract(context.Background(), data, dir, provisioner.Limits{}))

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return string(b)
	}
	require.Equal(t, `{"version":1}`, read("echo.json"))
	require.Equal(t, `{"version":1}`, read("sub/link"))
	require.Equal(t, "#!/bin/sh\n", read("dirlink/run.sh"))
	require.Equal(t, "#!/bin/sh\n", read("hard"))
	require.Equal(t, "second", read("dup"))

	fi, err := os.Stat(filepath.Join(dir, "sub/deep/run.sh"))
	require.NoError(t, err)
	require.NotZero(t, fi.Mode().Perm()&0o100, "executable bit kept")
	fi, err = os.Stat(filepath.Join(dir, "echo.json"))
	require.NoError(t, err)
	require.Zero(t, fi.Mode().Perm()&0o111)
	_, err = os.Lstat(filepath.Join(dir, "fifo"))
	require.ErrorIs(t, err, fs.ErrNotExist, "special files are skipped")
}

func TestExtractRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []entry
		lim     provisioner.Limits
		want    string
	}{
		{
			name:    "dot dot",
			entries: []entry{{name: "../x", body: "x"}},
			want:    `archive: entry "../x" escapes the target directory`,
		},
		{
			name:    "inner dot dot",
			entries: []entry{{name: "a/../../x", body: "x"}},
			want:    `archive: entry "a/../../x" escapes the target directory`,
		},
		{
			name:    "harmless dot dot",
			entries: []entry{{name: "a/../x", body: "x"}},
			want:    `archive: entry "a/../x" escapes the target directory`,
		},
		{
			name:    "absolute",
			entries: []entry{{name: "/etc/x", body: "x"}},
			want:    `archive: entry "/etc/x" has an absolute path`,
		},
		{
			name:    "absolute symlink",
			entries: []entry{{name: "l", typ: tar.TypeSymlink, link: "/etc/passwd"}},
			want:    `archive: symbolic link "l" points outside the target directory`,
		},
		{
			name:    "relative symlink escape",
			entries: []entry{{name: "d/l", typ: tar.TypeSymlink, link: "../../x"}},
			want:    `archive: symbolic link "d/l" points outside the target directory`,
		},
		{
			name:    "symlink to parent",
			entries: []entry{{name: "l", typ: tar.TypeSymlink, link: ".."}},
			want:    `archive: symbolic link "l" points outside the target directory`,
		},
		{
			// Lexically "q" points at ".", but "p" is the directory itself,
			// so "p/.." is its parent.
			name: "symlink escape through symlink",
			entries: []entry{
				{name: "p", typ: tar.TypeSymlink, link: "."},
				{name: "q", typ: tar.TypeSymlink, link: "p/.."},
			},
			want: `archive: symbolic link "q" does not resolve inside the target directory`,
		},
		{
			name: "write through escaping symlink",
			entries: []entry{
				{name: "p", typ: tar.TypeSymlink, link: "."},
				{name: "q", typ: tar.TypeSymlink, link: "p/.."},
				{name: "q/evil", body: "x"},
			},
			want: `archive: create "q/evil"`,
		},
		{
			name:    "dangling symlink",
			entries: []entry{{name: "l", typ: tar.TypeSymlink, link: "missing"}},
			want:    `archive: symbolic link "l" does not resolve inside the target directory`,
		},
		{
			name:    "hard link escape",
			entries: []entry{{name: "h", typ: tar.TypeLink, link: "../x"}},
			want:    `archive: hard link "h" points outside the target directory`,
		},
		{
			name:    "absolute hard link",
			entries: []entry{{name: "h", typ: tar.TypeLink, link: "/etc/passwd"}},
			want:    `archive: hard link "h" points outside the target directory`,
		},
		{
			name: "hard link to symlink",
			entries: []entry{
				{name: "f", body: "x"},
				{name: "d/s", typ: tar.TypeSymlink, link: "../f"},
				{name: "h", typ: tar.TypeLink, link: "d/s"},
			},
			want: `archive: hard link "h" does not point to an earlier regular file`,
		},
		{
			name:    "size cap",
			entries: []entry{{name: "a", body: "12345"}, {name: "b", body: "123456"}},
			lim:     provisioner.Limits{MaxBytes: 10},
			want:    "archive: expanded size exceeds 10 bytes",
		},
		{
			name:    "default size cap",
			entries: []entry{{name: "big", size: 100<<20 + 1, nodata: true}},
			want:    "archive: expanded size exceeds 100 MiB",
		},
		{
			name:    "file cap",
			entries: []entry{{name: "a"}, {name: "b/", typ: tar.TypeDir}, {name: "c"}},
			lim:     provisioner.Limits{MaxFiles: 2},
			want:    "archive: more than 2 entries",
		},
		{
			name:    "implied directories count",
			entries: []entry{{name: "a/b/c/f", body: "x"}},
			lim:     provisioner.Limits{MaxFiles: 3},
			want:    "archive: more than 3 entries",
		},
		{
			name:    "truncated",
			entries: []entry{{name: "a", size: 1000, body: "short", nodata: true}},
			want:    `archive: read "a"`,
		},
		{
			name:    "file over directory",
			entries: []entry{{name: "d/f", body: "x"}, {name: "d", body: "x"}},
			want:    `archive: create "d"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent, dir := extractDir(t)
			err := provisioner.Extract(context.Background(), makeTar(t, tt.entries...), dir, tt.lim)
			require.ErrorIs(t, err, provisioner.ErrInvalidArchive)
			require.ErrorContains(t, err, tt.want)
			require.True(t, strings.HasPrefix(err.Error(), tt.want), err.Error())
			assertConfined(t, parent, dir)
		})
	}
}

func TestExtractNotTar(t *testing.T) {
	t.Parallel()
	_, dir := extractDir(t)
	err := provisioner.Extract(context.Background(), []byte(strings.Repeat("not a tar ", 100)), dir, provisioner.Limits{})
	require.ErrorIs(t, err, provisioner.ErrInvalidArchive)
	require.ErrorContains(t, err, "archive: read entry: ")
}

func TestExtractIOError(t *testing.T) {
	t.Parallel()
	err := provisioner.Extract(context.Background(), makeTar(t, entry{name: "a"}),
		filepath.Join(t.TempDir(), "missing"), provisioner.Limits{})
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.NotErrorIs(t, err, provisioner.ErrInvalidArchive)
}

func TestExtractCanceled(t *testing.T) {
	t.Parallel()
	_, dir := extractDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := provisioner.Extract(ctx, makeTar(t, entry{name: "a"}), dir, provisioner.Limits{})
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, provisioner.ErrInvalidArchive)
}

func TestIsTar(t *testing.T) {
	t.Parallel()
	valid := makeTar(t, entry{name: "a", body: strings.Repeat("hello", 100)})
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"empty tar", make([]byte, 1024), true},
		{"archive", valid, true},
		{"no bytes", nil, false},
		{"text", []byte("hello world"), false},
		{"zip magic", append([]byte("PK\x03\x04"), make([]byte, 1020)...), false},
		{"truncated", valid[:520], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, provisioner.IsTar(tt.data))
		})
	}
}

// assertConfined fails unless everything under parent is dir or inside it,
// and every link inside dir resolves inside it or not at all.
func assertConfined(t testing.TB, parent, dir string) {
	t.Helper()
	realDir, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	err = filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == ".." || strings.HasPrefix(rel, "../") {
			// Outside dir: only its ancestors may exist.
			if !strings.HasPrefix(dir, p+string(filepath.Separator)) {
				t.Errorf("%s was created outside the target directory", p)
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Errorf("link %s does not resolve: %v", p, err)
			return nil
		}
		if target != realDir && !strings.HasPrefix(target, realDir+string(filepath.Separator)) {
			t.Errorf("link %s resolves outside the target directory, to %s", p, target)
		}
		return nil
	})
	require.NoError(t, err)
}
