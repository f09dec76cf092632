package echo_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/echo"
)

// sink records what a provisioner reports. It is safe for concurrent use so
// tests can watch a provisioner running in another goroutine.
type sink struct {
	mu      sync.Mutex
	logs    []provisioner.Log
	logged  chan struct{} // receives (without blocking) after each line
	stalled chan struct{} // closed by Stall
	once    sync.Once
}

func newSink() *sink {
	return &sink{logged: make(chan struct{}, 1), stalled: make(chan struct{})}
}

func (s *sink) Log(l provisioner.Log) {
	s.mu.Lock()
	s.logs = append(s.logs, l)
	s.mu.Unlock()
	select {
	case s.logged <- struct{}{}:
	default:
	}
}

func (s *sink) Stall() { s.once.Do(func() { close(s.stalled) }) }

func (s *sink) Logs() []provisioner.Log {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]provisioner.Log(nil), s.logs...)
}

func (s *sink) isStalled() bool {
	select {
	case <-s.stalled:
		return true
	default:
		return false
	}
}

// waitLogs waits until the sink holds n lines.
func (s *sink) waitLogs(t *testing.T, n int) {
	t.Helper()
	for len(s.Logs()) < n {
		select {
		case <-s.logged:
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %d log lines, have %v", n, s.Logs())
		}
	}
}

func info(output string) provisioner.Log {
	return provisioner.Log{Level: provisioner.LevelInfo, Output: output}
}

// extract unpacks archive into a fresh directory.
func extract(t *testing.T, archive []byte) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, provisioner.Extract(context.Background(), archive, dir, provisioner.Limits{}))
	return dir
}

// jsonDir extracts an archive holding echo.json with content spec.
func jsonDir(t *testing.T, spec string) string {
	t.Helper()
	archive, err := echo.TarJSON(spec)
	require.NoError(t, err)
	return extract(t, archive)
}

// protoDir extracts an archive of the given protobuf response files.
func protoDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	archive, err := echo.Tar(files)
	require.NoError(t, err)
	return extract(t, archive)
}

func requireJobError(t *testing.T, err error, msg, code string) {
	t.Helper()
	je, ok := provisioner.AsJobError(err)
	require.True(t, ok, "want a *JobError, got %v", err)
	require.Equal(t, msg, je.Message)
	require.Equal(t, code, je.Code)
}

// async runs fn in a goroutine and returns where its error arrives.
func async(fn func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	return done
}

// requireBlocked fails if done delivers within a short while.
func requireBlocked(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("returned before cancel: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}

// requireCanceled waits for done to deliver context.Canceled.
func requireCanceled(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("did not return after cancel")
	}
}

func startIn(params map[string]string) provisioner.PlanInput {
	return provisioner.PlanInput{
		Transition: provisioner.TransitionStart,
		Workspace:  provisioner.WorkspaceMeta{WorkspaceName: "ws1"},
		Parameters: params,
	}
}
