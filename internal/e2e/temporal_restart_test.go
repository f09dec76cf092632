package e2e

import (
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/workflows"
)

// temporalServer is a Temporal dev server of this test's own, with its state
// in a file, so that it can be killed and restarted without disturbing the
// shared one.
type temporalServer struct {
	t    *testing.T
	cli  string
	args []string
	addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  syncOutput
}

// syncOutput collects the dev server's output across restarts.
type syncOutput struct {
	mu  sync.Mutex
	buf []byte
}

func (o *syncOutput) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, b...)
	return len(b), nil
}

func (o *syncOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.buf)
}

// startTemporalServer starts a dev server from testinfra.TemporalCLI() on a
// free 127.0.0.1 port with its database in t.TempDir(). It is killed when the
// test ends.
func startTemporalServer(t *testing.T) *temporalServer {
	t.Helper()
	cli := testinfra.TemporalCLI()
	if cli == "" {
		testinfra.Unavailable(t, "Temporal CLI")
	}
	s := &temporalServer{t: t, cli: cli}
	dbFile := filepath.Join(t.TempDir(), "temporal.db")
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("--- temporal output ---\n%s", s.out.String())
		}
	})
	for attempt := 0; ; attempt++ { // the free port may be taken before temporal binds it
		s.addr = freeAddr(t)
		_, port, err := net.SplitHostPort(s.addr)
		require.NoError(t, err)
		s.args = append([]string{"server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", port,
			"--db-filename", dbFile, "--log-level", "error"},
			append(workflows.SearchAttributeFlags(), workflows.DevServerFlags()...)...)
		err = s.start()
		if err == nil {
			return s
		}
		s.kill()
		require.Less(t, attempt, 2, "%v", err)
	}
}

// start runs the dev server and waits until its port accepts connections.
func (s *temporalServer) start() error {
	cmd := exec.Command(s.cli, s.args...)
	cmd.Stdout, cmd.Stderr = &s.out, &s.out
	// Its own process group, so that kill reaches any children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			return &exitedError{state: cmd.ProcessState.String()}
		default:
		}
		conn, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type exitedError struct{ state string }

func (e *exitedError) Error() string { return "temporal exited: " + e.state }

// kill SIGKILLs the dev server's process group and waits for it to exit.
func (s *temporalServer) kill() { s.stop(syscall.SIGKILL) }

// stop sends sig to the dev server's process group, waits up to 30 s for
// it to exit, then SIGKILLs it.
func (s *temporalServer) stop(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done = nil, nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.t.Logf("temporal did not exit on %s; killing it", sig)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
	// Children left in the group (there should be none) go too.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// TestTemporalRestartDuringJob restarts Temporal under a running import.
// Its state is in a file, so the workflow survives; the server and worker
// must reconnect and the job finish, and the deployment works afterwards.
func TestTemporalRestartDuringJob(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ts := startTemporalServer(t)

	e := &env{t: t, dbURL: testinfra.DBURL(t), temporal: ts.addr, prefix: testinfra.TaskQueuePrefix(t)}
	store := e.store()
	c := e.startServer()
	e.startWorker(store, "w1")
	owner := login(ctx, t, c)

	v := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan:start":{"logs":[{"output":"slow","delay_ms":5000}]}}}`)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := c.TemplateVersion(ctx, v.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobRunning, got.Job.Status)
	}, 30*time.Second, 20*time.Millisecond)

	restarted := time.Now()
	ts.stop(syscall.SIGTERM)
	t.Logf("Temporal stopped in %s", time.Since(restarted).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // an outage, not just a blip
	require.NoError(t, ts.start())
	t.Logf("Temporal restarted in %s", time.Since(restarted).Round(time.Millisecond))

	v = waitAfterOutage(t, c, v.ID, restarted)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status,
		"the workflow outlives a Temporal restart, so the job should finish: %s", v.Job.Error)

	// The job's database row is written by the activity itself, so check
	// that Temporal, too, saw the workflow through: it survived the restart
	// (state in --db-filename) and the activity's completion reached it.
	tc, err := client.DialContext(ctx, client.Options{HostPort: ts.addr, Namespace: "default",
		Logger: log.NewStructuredLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))})
	require.NoError(t, err)
	defer tc.Close()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		desc, err := tc.DescribeWorkflowExecution(ctx, v.Job.ID.String(), "")
		if assert.NoError(ct, err) {
			assert.Equal(ct, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, desc.GetWorkflowExecutionInfo().GetStatus())
		}
	}, 60*time.Second, 100*time.Millisecond)

	// The deployment works again: a new import succeeds.
	v2 := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan":{"logs":[{"output":"after the restart"}]}}}`)
	v2 = berthtest.WaitJob(ctx, t, c, v2.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v2.Job.Status, v2.Job.Error)
}

// waitAfterOutage waits for a template version's job to end after a
// service restarted at restarted, logging each status it passes through
// (the API may fail for a moment while connections are re-established).
func waitAfterOutage(t *testing.T, c *sdk.Client, id uuid.UUID, restarted time.Time) sdk.TemplateVersion {
	t.Helper()
	var (
		v    sdk.TemplateVersion
		last sdk.ProvisionerJobStatus
	)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := c.TemplateVersion(t.Context(), id)
		if !assert.NoError(ct, err) {
			return
		}
		if got.Job.Status != last {
			t.Logf("%s: job %s %q", time.Since(restarted).Round(time.Millisecond), got.Job.Status, got.Job.Error)
			last = got.Job.Status
		}
		v = got
		assert.False(ct, got.Job.Status.Active(), "job still %s", got.Job.Status)
	}, 120*time.Second, 100*time.Millisecond)
	t.Logf("job %s after %s: error %q (code %q)", v.Job.Status, time.Since(restarted).Round(time.Millisecond), v.Job.Error, v.Job.ErrorCode)
	return v
}
