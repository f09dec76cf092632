package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/testinfra"
)

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// devCommand is `berth dev` with args, its own Temporal (TEMPORAL_ADDRESS
// unset) and dbURL as its Postgres.
func devCommand(dbURL string, args ...string) (*exec.Cmd, *lockedBuffer) {
	cmd := exec.Command(binary, append([]string{"dev"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_ADDRESS=") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "BERTH_POSTGRES_URL="+dbURL, "BERTH_LOG_FORMAT=text")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Children that outlive berth dev hold its output pipe open: Wait
	// must not wait for them.
	cmd.WaitDelay = 5 * time.Second
	return cmd, out
}

func freePort(t *testing.T) int {
	_, p, err := net.SplitHostPort(freeAddr(t))
	require.NoError(t, err)
	n, err := strconv.Atoi(p)
	require.NoError(t, err)
	return n
}

// TestDevRefusesTakenPort: berth dev stops at once, naming the port, when
// one it needs is taken (say, by an earlier berth dev still running),
// instead of running against whatever holds it.
func TestDevRefusesTakenPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	cmd, out := devCommand("postgres://nobody@127.0.0.1:1/none?sslmode=disable",
		"--address", freeAddr(t), "--temporal-port", strconv.Itoa(port), "--ui-port", strconv.Itoa(freePort(t)),
		"--prometheus-port", "0", "--dir", t.TempDir())
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.Error(t, err, "berth dev must fail:\n%s", out)
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("berth dev went on with port %d taken:\n%s", port, out)
	}
	require.Contains(t, out.String(), fmt.Sprintf("127.0.0.1:%d is in use, wanted by Temporal", port))
}

// TestDevKilledLeavesNoChild kills a running berth dev (durable Temporal
// on Postgres, server, worker) with SIGKILL: none of its children outlives
// it.
func TestDevKilledLeavesNoChild(t *testing.T) {
	t.Parallel()
	tserver := testinfra.TemporalServerBinary()
	if tserver == "" {
		testinfra.Unavailable(t, "the Temporal server (TEMPORAL_SERVER or bin/temporal-server)")
	}
	dbURL := devDatabase(t)
	api := freeAddr(t)
	cmd, out := devCommand(dbURL, "--address", api, "--temporal-server", tserver,
		"--temporal-port", strconv.Itoa(freePort(t)), "--ui-port", strconv.Itoa(freePort(t)),
		"--prometheus-port", "0", "--dir", t.TempDir())
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	var kids []int
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		for _, pid := range kids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("--- berth dev output ---\n%s", out)
		}
	})

	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		resp, err := http.Get("http://" + api + "/api/v2/buildinfo")
		if assert.NoError(ct, err) {
			resp.Body.Close()
			assert.Equal(ct, http.StatusOK, resp.StatusCode)
		}
	}, 3*time.Minute, 200*time.Millisecond, "berth dev did not come up")
	kids = descendants(t, cmd.Process.Pid)
	require.GreaterOrEqual(t, len(kids), 3, "berth dev runs Temporal, a server and a worker")

	require.NoError(t, cmd.Process.Kill())
	<-done
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		for _, pid := range kids {
			assert.False(ct, alive(pid), "child %d of the killed berth dev still runs", pid)
		}
	}, time.Minute, 100*time.Millisecond)
}

// devDatabase creates a database with a short name (berth dev names
// Temporal's after it), dropped with Temporal's when the test ends.
func devDatabase(t *testing.T) string {
	admin, err := db.Open(db.Options{URL: testinfra.PostgresURL(t), MaxConns: 1})
	require.NoError(t, err)
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "berthdev_" + hex.EncodeToString(b[:])
	_, err = admin.ExecContext(t.Context(), "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		defer admin.Close()
		for _, n := range []string{name, name + "_temporal", name + "_temporal_visibility"} {
			_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)")
		}
	})
	u := testinfra.PostgresURL(t)
	i := strings.LastIndex(u, "/")
	j := strings.Index(u[i:], "?")
	if j < 0 {
		return u[:i+1] + name
	}
	return u[:i+1] + name + u[i+j:]
}

// descendants lists the processes below pid.
func descendants(t *testing.T, pid int) []int {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	children := map[int][]int{}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		rest := string(b[bytes.LastIndexByte(b, ')')+1:])
		var state string
		var self, parent int
		if _, err := fmt.Sscan(filepath.Base(filepath.Dir(f)), &self); err != nil {
			continue
		}
		if _, err := fmt.Sscan(rest, &state, &parent); err != nil {
			continue
		}
		children[parent] = append(children[parent], self)
	}
	var out []int
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// alive reports whether pid runs (a zombie waiting for its new parent to
// reap it does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	var state string
	_, err = fmt.Sscan(string(b[bytes.LastIndexByte(b, ')')+1:]), &state)
	return err == nil && state != "Z" && state != "X"
}
