package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
)

// TestPostgresRestartDuringJob restarts Postgres under a running import. The
// server and worker must ride it out: the job reaches a terminal state (not
// stuck running), and the deployment works again afterwards.
func TestPostgresRestartDuringJob(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg := testinfra.StartPostgresCluster(t)
	dbURL := pg.BerthDB(t, "berth")

	_, addr := testinfra.Temporal(t)
	e := &env{t: t, dbURL: dbURL, temporal: addr, prefix: testinfra.TaskQueuePrefix(t)}
	store := e.store()
	c := e.startServer()
	e.startWorker(store, "w1")
	owner := login(ctx, t, c)

	v := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan:start":{"logs":[{"output":"a"},{"output":"slow","delay_ms":4000}]}}}`)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := c.TemplateVersion(ctx, v.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobRunning, got.Job.Status)
	}, 30*time.Second, 20*time.Millisecond)

	restarted := time.Now()
	require.NoError(t, pg.Stop("fast"))
	time.Sleep(2 * time.Second) // an outage, not just a blip
	require.NoError(t, pg.Start())
	t.Logf("Postgres restarted in %s", time.Since(restarted).Round(time.Millisecond))

	// The job reaches a terminal state; the API may fail for a moment while
	// connections are re-established.
	v = waitAfterOutage(t, c, v.ID, restarted)
	switch v.Job.Status {
	case sdk.ProvisionerJobSucceeded:
		// Nothing written around the outage was lost.
		logs, err := c.TemplateVersionLogsAfter(ctx, v.ID, 0)
		require.NoError(t, err)
		var outputs []string
		for _, l := range logs {
			outputs = append(outputs, l.Output)
		}
		require.Subset(t, outputs, []string{"a", "slow"})
	case sdk.ProvisionerJobFailed:
		require.NotEmpty(t, v.Job.Error, "a failed job says why")
		require.NotNil(t, v.Job.CompletedAt)
	default:
		t.Fatalf("job ended %s (%q), want succeeded or a clear failure", v.Job.Status, v.Job.Error)
	}

	// The deployment works again: the API answers and a new import succeeds.
	_, err := c.BuildInfo(ctx)
	require.NoError(t, err)
	v2 := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan":{"logs":[{"output":"after the restart"}]}}}`)
	v2 = berthtest.WaitJob(ctx, t, c, v2.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v2.Job.Status, v2.Job.Error)
	require.Equal(t, "w1", v2.Job.WorkerName, "the worker survived the restart")
}
