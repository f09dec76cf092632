package provisioner_test

import (
	"archive/tar"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/provisioner"
)

func FuzzExtractArchive(f *testing.F) {
	f.Add(makeTar(f,
		entry{name: "echo.json", body: `{"version":1}`},
		entry{name: "d/", typ: tar.TypeDir},
		entry{name: "d/l", typ: tar.TypeSymlink, link: "../echo.json"},
		entry{name: "h", typ: tar.TypeLink, link: "echo.json"},
	))
	f.Add(makeTar(f, entry{name: "../escape", body: "x"}))
	f.Add(makeTar(f,
		entry{name: "p", typ: tar.TypeSymlink, link: "."},
		entry{name: "q", typ: tar.TypeSymlink, link: "p/.."},
		entry{name: "q/escape", body: "x"},
	))
	f.Add(makeTar(f, entry{name: "big", size: 1 << 20, nodata: true}))

	const maxBytes, maxFiles = 1 << 16, 32
	f.Fuzz(func(t *testing.T, data []byte) {
		parent, dir := extractDir(t)
		lim := provisioner.Limits{MaxBytes: maxBytes, MaxFiles: maxFiles}
		_ = provisioner.Extract(context.Background(), data, dir, lim)

		assertConfined(t, parent, dir)
		var (
			paths int
			size  int64
			seen  []fs.FileInfo // regular files, to count hard links once
		)
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == dir {
				return err
			}
			paths++
			if !d.Type().IsRegular() {
				return nil
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			for _, s := range seen {
				if os.SameFile(s, fi) {
					return nil
				}
			}
			seen = append(seen, fi)
			size += fi.Size()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if paths > maxFiles {
			t.Errorf("%d paths extracted, limit %d", paths, maxFiles)
		}
		if size > maxBytes {
			t.Errorf("%d bytes extracted, limit %d", size, maxBytes)
		}
	})
}
