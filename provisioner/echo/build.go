package echo

import (
	"archive/tar"
	"bytes"
	"fmt"
	"maps"
	"slices"
)

// TarJSON returns a tar archive holding one file, echo.json, with the given
// content. Tests use it to build echo templates.
func TarJSON(spec string) ([]byte, error) {
	return Tar(map[string][]byte{scriptFile: []byte(spec)})
}

// Tar returns a tar archive of files, keyed by slash-separated path, in
// name order.
func Tar(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("write tar header %q: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("write tar entry %q: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	return buf.Bytes(), nil
}
