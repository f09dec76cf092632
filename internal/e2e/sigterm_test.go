package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// output returns what the process has written so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// runningOn waits until the import of version id runs on the named worker.
// terminate sends SIGTERM and waits for the process to exit, returning how
// long that took. It fails the test if the process is not gone within limit
// or did not exit with status 0.
func terminate(t *testing.T, p *proc, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(limit):
		require.FailNow(t, "worker did not exit after SIGTERM", "waited %s", limit)
	}
	took := time.Since(start)
	st := p.cmd.ProcessState
	require.NotNil(t, st)
	require.True(t, st.Exited(), "worker was killed by a signal instead of exiting: %s", st)
	require.Equal(t, 0, st.ExitCode(), "worker exit status")
	return took
}

// TestWorkerSIGTERMFinishesRunningJob: a worker told to stop finishes the
// job it is running, then exits cleanly; it takes no job afterwards.
func TestWorkerSIGTERMFinishesRunningJob(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e, store, c, a, owner := deploy(t, "a")

	const delay = 3 * time.Second
	v := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan:start":{"logs":[{"output":"slow","delay_ms":3000}]}}}`)
	runningOn(t, c, v.ID, "a")

	took := terminate(t, a, 40*time.Second)
	// The job was finished by A before A exited: nothing else could run it.
	got, err := c.TemplateVersion(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobSucceeded, got.Job.Status, "job status when the worker exited: %s", got.Job.Error)
	require.Equal(t, "a", got.Job.WorkerName)
	require.NotNil(t, got.Job.CompletedAt)
	// It did not wait for the whole stop timeout either.
	require.Less(t, took, delay+20*time.Second, "worker took %s to exit", took)
	t.Logf("worker exited %s after SIGTERM", took)
	require.Contains(t, a.output(), "worker stopping")

	// A job created now goes to a worker started afterwards.
	e.startWorker(store, "b")
	next := berthtest.WaitJob(ctx, t, c, createVersion(ctx, t, owner, `{"version":1}`).ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, next.Job.Status, next.Job.Error)
	require.Equal(t, "b", next.Job.WorkerName)
}

// TestWorkerSIGTERMStopsTakingJobs: while a stopping worker drains its
// running job, a job created then is left pending for another worker.
func TestWorkerSIGTERMStopsTakingJobs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e, store, c, a, owner := deploy(t, "a")

	slow := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan:start":{"logs":[{"output":"slow","delay_ms":8000}]}}}`)
	runningOn(t, c, slow.ID, "a")

	exited := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		a.signal(syscall.SIGTERM)
		<-a.done
		exited <- time.Since(start)
	}()
	// Wait until A has begun stopping before creating the new job.
	require.Eventually(t, func() bool { return strings.Contains(a.output(), "worker stopping") },
		10*time.Second, 10*time.Millisecond)
	fresh := createVersion(ctx, t, owner, `{"version":1}`)

	// While A drains, the fresh job is not taken.
	var took time.Duration
	deadline := time.After(40 * time.Second)
wait:
	for {
		got, err := c.TemplateVersion(ctx, fresh.ID)
		require.NoError(t, err)
		require.Equal(t, sdk.ProvisionerJobPending, got.Job.Status, "job created while A drains (worker %q)", got.Job.WorkerName)
		select {
		case took = <-exited:
			break wait
		case <-deadline:
			require.FailNow(t, "worker did not exit after SIGTERM")
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("worker exited %s after SIGTERM", took)
	st := a.cmd.ProcessState
	require.True(t, st.Exited() && st.ExitCode() == 0, "worker exit: %s", st)

	got, err := c.TemplateVersion(ctx, slow.ID)
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobSucceeded, got.Job.Status, got.Job.Error)
	require.Equal(t, "a", got.Job.WorkerName)

	// Still pending a moment after A is gone, then B runs it.
	time.Sleep(time.Second)
	got, err = c.TemplateVersion(ctx, fresh.ID)
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobPending, got.Job.Status)

	e.startWorker(store, "b")
	got = berthtest.WaitJob(ctx, t, c, fresh.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, got.Job.Status, got.Job.Error)
	require.Equal(t, "b", got.Job.WorkerName)
}
