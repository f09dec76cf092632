package testinfra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/workflows"
)

// TemporalServerBinary returns the Temporal server tests start for
// durability tests (a real server persisted in PostgreSQL) —
// $TEMPORAL_SERVER, else <repo root>/bin/temporal-server, the first that is
// an executable file — or "" if there is none. `make test` builds it.
func TemporalServerBinary() string {
	if p := os.Getenv("TEMPORAL_SERVER"); p != "" && isExecutable(p) {
		return p
	}
	if root := repoRoot(); root != "" {
		if p := filepath.Join(root, "bin", "temporal-server"); isExecutable(p) {
			return p
		}
	}
	return ""
}

// TemporalProcess is a Temporal server of one test's own, persisted in a
// pair of fresh PostgreSQL databases, so that it can be stopped, killed and
// started again (its workflows survive) without disturbing the shared dev
// server. Its databases are dropped when the test ends.
type TemporalProcess struct {
	t    testing.TB
	bin  string
	args []string
	// Addr is the frontend's host:port.
	Addr string
	// VisibilityURL is the Postgres URL of its visibility database.
	VisibilityURL string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  syncBuffer
}

// StartTemporalServer starts a TemporalProcess on a free port with berth's
// search attributes and dynamic config, persisted on the Postgres server
// the tests share, and waits until it serves them. It calls Unavailable
// without TemporalServerBinary or Postgres.
func StartTemporalServer(t testing.TB) *TemporalProcess {
	t.Helper()
	return StartTemporalServerOn(t, "")
}

// StartTemporalServerOn is StartTemporalServer persisted on the Postgres
// server of adminURL (a PostgresCluster's URL("postgres"), say, so that the
// test can restart the Postgres under Temporal); "" means the shared one.
func StartTemporalServerOn(t testing.TB, adminURL string) *TemporalProcess {
	t.Helper()
	bin := TemporalServerBinary()
	if bin == "" {
		t.Log("no Temporal server: set TEMPORAL_SERVER or run `make tools` (bin/temporal-server)")
		Unavailable(t, "Temporal server")
	}
	if adminURL == "" {
		adminURL = PostgresURL(t)
	}
	admin, err := url.Parse(adminURL)
	require.NoError(t, err)
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "berth_test_temporal_" + hex.EncodeToString(suffix)
	p := &TemporalProcess{t: t, bin: bin}
	vis := *admin
	vis.Path = "/" + name + "_visibility"
	p.VisibilityURL = vis.String()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- temporal server output ---\n%s", p.out.String())
		}
		dropDatabases(t, admin.String(), name, name+"_visibility")
	})
	for attempt := 0; ; attempt++ { // the free port may be taken before the server binds it
		port, err := freePort()
		require.NoError(t, err)
		p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p.args = append([]string{"start", "--setup-schema", "--postgres-url", admin.String(),
			"--database", name, "--visibility-database", name + "_visibility", "--history-shards", "2",
			"--port", strconv.Itoa(port), "--ui-port", "0", "--max-conns", "6", "--visibility-max-conns", "2",
			"--log-level", "error"},
			append(workflows.SearchAttributeFlags(), workflows.DevServerFlags()...)...)
		err = p.Start()
		if err == nil {
			return p
		}
		p.Kill()
		require.Less(t, attempt, 2, "%v\n%s", err, p.out.String())
	}
}

// Start runs the server and waits until it is ready (after a restart too:
// the schema and namespace are already there).
func (p *TemporalProcess) Start() error {
	ready := make(chan struct{})
	w := &lineWatch{prefix: "temporal-server: ready", ready: ready, next: &p.out}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = w, &p.out
	// Its own process group, so that a kill reaches any children too; and
	// gone with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-done:
		return fmt.Errorf("temporal server exited: %s", cmd.ProcessState)
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("temporal server not ready within 2 minutes")
	}
}

// Kill SIGKILLs the server and waits for it to exit.
func (p *TemporalProcess) Kill() { p.Stop(syscall.SIGKILL) }

// Stop sends sig to the server's process group, waits up to 30 s for it to
// exit, then SIGKILLs it.
func (p *TemporalProcess) Stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.t.Logf("temporal server did not exit on %s; killing it", sig)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// lineWatch copies output to next and closes ready at the first line that
// starts with prefix.
type lineWatch struct {
	prefix string
	ready  chan struct{}
	next   *syncBuffer
	mu     sync.Mutex
	line   []byte
	seen   bool
}

func (w *lineWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range b {
		if c != '\n' {
			w.line = append(w.line, c)
			continue
		}
		if !w.seen && strings.HasPrefix(string(w.line), w.prefix) {
			w.seen = true
			close(w.ready)
		}
		w.line = w.line[:0]
	}
	return w.next.Write(b)
}

// dropDatabases drops databases, ending their connections.
func dropDatabases(t testing.TB, adminURL string, names ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bdb, err := db.Open(db.Options{URL: adminURL, MaxConns: 1})
	if err != nil {
		t.Logf("drop databases %v: %v", names, err)
		return
	}
	defer bdb.Close()
	for _, n := range names {
		if _, err := bdb.ExecContext(ctx, "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", n, err)
		}
	}
}
