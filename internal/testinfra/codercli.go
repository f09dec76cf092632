package testinfra

import (
	"os"
	"path/filepath"
	"testing"
)

// CoderCLI returns the unmodified coder CLI (v2.30, AGPL) that CLI tests
// run as an external program: $CODER_CLI, else <repo root>/bin/coder as
// `make tools` builds it from tools/coder. Without it, Unavailable is
// called: the tests skip locally and fail under CI. berth never imports
// the CLI's code.
func CoderCLI(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CODER_CLI"); p != "" {
		if isExecutable(p) {
			return p
		}
		t.Logf("CODER_CLI=%s is not an executable", p)
	}
	if root := repoRoot(); root != "" {
		if p := filepath.Join(root, "bin", "coder"); isExecutable(p) {
			return p
		}
	}
	Unavailable(t, "the coder CLI (make tools builds bin/coder)")
	return ""
}
