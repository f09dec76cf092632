package e2e

import (
	"log/slog"
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
)

// TestTemporalRestartDuringJob restarts Temporal under a running import.
// Its state is in PostgreSQL, so the workflow survives; the server and
// worker must reconnect and the job finish, and the deployment works
// afterwards.
func TestTemporalRestartDuringJob(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ts := testinfra.StartTemporalServer(t)

	e := &env{t: t, dbURL: testinfra.DBURL(t), temporal: ts.Addr, prefix: testinfra.TaskQueuePrefix(t)}
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
	ts.Stop(syscall.SIGTERM)
	t.Logf("Temporal stopped in %s", time.Since(restarted).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // an outage, not just a blip
	require.NoError(t, ts.Start())
	t.Logf("Temporal restarted in %s", time.Since(restarted).Round(time.Millisecond))

	v = waitAfterOutage(t, c, v.ID, restarted)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status,
		"the workflow outlives a Temporal restart, so the job should finish: %s", v.Job.Error)

	// The job's database row is written by the activity itself, so check
	// that Temporal, too, saw the workflow through: it survived the restart
	// (state in PostgreSQL) and the activity's completion reached it.
	tc, err := client.DialContext(ctx, client.Options{HostPort: ts.Addr, Namespace: "default",
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
