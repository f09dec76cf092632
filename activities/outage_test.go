package activities_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

// TestRunJobCompletesAcrossDatabaseRestart: Postgres is down when the
// provisioner finishes. RunJob waits for it to come back and completes the
// job, instead of failing with the connection error (a build would be
// failed for it, though its apply went through).
func TestRunJobCompletesAcrossDatabaseRestart(t *testing.T) {
	t.Parallel()
	h, pg := newHarnessOnOwnPostgres(t)

	job, _ := h.createImport(`{"version":1,"steps":{"plan:start":{"logs":[
		{"output":"before the outage"},{"output":"during the outage","delay_ms":2500}]}}}`)
	done := h.startRunJob(job.ID)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		logs, err := h.store.GetJobLogsAfter(h.ctx, job.ID, 0)
		if assert.NoError(ct, err) {
			assert.Contains(ct, outputs(logs), "before the outage")
		}
	}, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, pg.Stop("fast"))
	select {
	case r := <-done:
		t.Fatalf("the job ended before the outage began (%+v, %v): make its last line later", r.res, r.err)
	default:
	}
	// Down until well after the provisioner finished.
	time.Sleep(4 * time.Second)
	require.NoError(t, pg.Start())

	r := <-done
	require.NoError(t, r.err)
	require.True(t, r.res.Completed)
	got := h.job(job.ID)
	require.Equal(t, db.JobSucceeded, got.Status, got.Error)
	logs := h.logs(job.ID)
	requireLogShape(t, logs)
	require.Subset(t, outputs(logs), []string{"before the outage", "during the outage"})
}

// TestRunJobClaimsAcrossDatabaseRestart: Postgres is down when RunJob
// starts. It waits for Postgres rather than fail (a build failed this way
// would never run).
func TestRunJobClaimsAcrossDatabaseRestart(t *testing.T) {
	t.Parallel()
	h, pg := newHarnessOnOwnPostgres(t)
	job, _ := h.createImport(`{"version":1,"steps":{"plan:start":{"logs":[{"output":"ran"}]}}}`)

	require.NoError(t, pg.Stop("fast"))
	done := make(chan error, 1)
	go func() {
		_, err := h.runJob(job.ID)
		done <- err
	}()
	time.Sleep(2 * time.Second) // RunJob meets the outage
	select {
	case err := <-done:
		t.Fatalf("RunJob returned during the outage: %v", err)
	default:
	}
	require.NoError(t, pg.Start())

	require.NoError(t, <-done)
	got := h.job(job.ID)
	require.Equal(t, db.JobSucceeded, got.Status, got.Error)
	require.Equal(t, 1, got.Attempts, "one claim, however often it was tried")
	require.Contains(t, outputs(h.logs(job.ID)), "ran")
}

func outputs(logs []db.ProvisionerJobLog) []string {
	out := make([]string, 0, len(logs))
	for _, l := range logs {
		out = append(out, l.Output)
	}
	return out
}
