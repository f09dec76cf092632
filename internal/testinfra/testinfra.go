// Package testinfra gives tests a real Postgres and a real Temporal server
// (STYLE.md §6): never mocks or in-memory fakes.
//
// Every test binary that uses it must hand its TestMain to Main, which stops
// whatever the package started (a throwaway Postgres cluster, a Temporal dev
// server):
//
//	func TestMain(m *testing.M) { os.Exit(testinfra.Main(m)) }
//
// Which Postgres and which Temporal to use is decided once per test binary,
// lazily, by the first test that asks; the cascades are documented on
// PostgresURL and Temporal. When a service is missing the test is skipped, or
// fails when CI is set (see Unavailable).
package testinfra

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"

	"go.temporal.io/sdk/log"
)

// Main runs the tests, then stops the Temporal dev server and the throwaway
// Postgres cluster if this binary started them. Use it as
// `os.Exit(testinfra.Main(m))`.
func Main(m *testing.M) int {
	code := m.Run()
	if code != 0 {
		dumpTemporalLogs(os.Stderr)
	}
	stopTemporal()
	stopPostgres()
	return code
}

// Unavailable reports that a service the test needs is missing: it skips the
// test, or fails it when the CI environment variable is set to anything but
// "", "false" or "0" (a skipped suite looks green).
func Unavailable(t testing.TB, what string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s is required when CI is set", what)
	}
	t.Skipf("%s not available (see internal/testinfra)", what)
}

// CI reports whether the CI environment variable is set to anything but "",
// "false" or "0": then no test may skip for a missing service.
func CI() bool {
	ci := os.Getenv("CI")
	return ci != "" && ci != "false" && ci != "0"
}

// TaskQueuePrefix returns a prefix unique to this call, such as "t-3f9a0c1b2d4e".
// Tests share one Temporal server and isolate themselves by naming their task
// queues (and workflow IDs) with it, never by restarting the server.
func TaskQueuePrefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("task queue prefix: %v", err)
	}
	return "t-" + hex.EncodeToString(b)
}

// syncBuffer collects a child process's output; it is printed only when
// something fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testWriter forwards to t.Output() until the test's cleanup detaches it, so
// that a straggling background goroutine cannot write to a finished test.
type testWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.w == nil {
		return len(p), nil
	}
	return w.w.Write(p)
}

// testLogger returns a Temporal logger that writes to t.Output(). The caller
// must register its own cleanups (such as closing the client) after calling
// testLogger, so that they run before the writer is detached.
func testLogger(t testing.TB) log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(DetachedOutput(t), &slog.HandlerOptions{Level: slog.LevelInfo})))
}

// DetachedOutput forwards to t.Output() until the test's cleanup detaches
// it, so a goroutine a test leaves behind (a Temporal test environment's
// activity, say) cannot write to a finished test.
func DetachedOutput(t testing.TB) io.Writer {
	w := &testWriter{w: t.Output()}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.w = nil
	})
	return w
}

// quietLogger logs warnings and errors to w.
func quietLogger(w io.Writer) log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// reasons accumulates why each step of a cascade was passed over.
type reasons []string

func (r *reasons) add(format string, args ...any) { *r = append(*r, fmt.Sprintf(format, args...)) }

func (r reasons) String() string {
	var b bytes.Buffer
	for _, s := range r {
		b.WriteString("\n\t- ")
		b.WriteString(s)
	}
	return b.String()
}
