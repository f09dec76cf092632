package lifecycle_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/lifecycle"
)

// seedDue copies a running workspace (the prototype's latest build, a
// succeeded start) n times, each past its deadline, in one transaction.
// The copies are named prefix-1 … prefix-n.
func seedDue(ctx context.Context, tb testing.TB, bdb *bun.DB, proto uuid.UUID, prefix string, n int, deadline time.Time) []uuid.UUID {
	tb.Helper()
	var ids []uuid.UUID
	err := bdb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []string{
			`CREATE TEMP TABLE seed ON COMMIT DROP AS SELECT g AS n, gen_random_uuid() AS ws_id,
				gen_random_uuid() AS build_id, gen_random_uuid() AS job_id FROM generate_series(1, ?0) AS g`,
			`INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name, ttl_ms,
				last_used_at, automatic_updates)
			SELECT s.ws_id, now(), now(), w.owner_id, w.organization_id, w.template_id, ?2 || '-' || s.n, w.ttl_ms,
				now(), w.automatic_updates
			FROM seed s, workspace_builds b JOIN workspaces w ON w.id = b.workspace_id WHERE b.id = ?1`,
			`INSERT INTO provisioner_jobs (id, created_at, updated_at, started_at, completed_at, worker_id, organization_id,
				initiator_id, provisioner, storage_method, type, input, tags, file_id, task_queue, workflow_started_at, workspace_id)
			SELECT s.job_id, j.created_at, j.updated_at, j.started_at, j.completed_at, j.worker_id, j.organization_id,
				j.initiator_id, j.provisioner, j.storage_method, j.type, j.input || jsonb_build_object('workspace_build_id', s.build_id),
				j.tags, j.file_id, j.task_queue, j.workflow_started_at, s.ws_id
			FROM seed s, workspace_builds b JOIN provisioner_jobs j ON j.id = b.job_id WHERE b.id = ?1`,
			`INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, template_version_id, build_number,
				transition, initiator_id, job_id, reason, provisioner_state, deadline)
			SELECT s.build_id, b.created_at, b.updated_at, s.ws_id, b.template_version_id, 1, 'start', b.initiator_id,
				s.job_id, b.reason, b.provisioner_state, ?3
			FROM seed s, workspace_builds b WHERE b.id = ?1`,
			`INSERT INTO workspace_build_parameters (workspace_build_id, name, value)
			SELECT s.build_id, p.name, p.value FROM seed s, workspace_build_parameters p WHERE p.workspace_build_id = ?1`,
		} {
			if _, err := tx.ExecContext(ctx, q, n, proto, prefix, deadline); err != nil {
				return err
			}
		}
		return tx.NewRaw("SELECT ws_id FROM seed").Scan(ctx, &ids)
	})
	require.NoError(tb, err)
	_, err = bdb.ExecContext(ctx, "ANALYZE workspaces, workspace_builds, provisioner_jobs")
	require.NoError(tb, err)
	return ids
}

// replicasWorld has a running prototype workspace and two executors on
// one database, as two berth servers would.
type replicasWorld struct {
	*world
	proto uuid.UUID
	execs [2]*lifecycle.Executor
}

func newReplicasWorld(tb testing.TB) *replicasWorld {
	tb.Helper()
	// No worker: the builds the executors insert stay pending, which is
	// all the count needs.
	w := newWorld(tb, berthtest.Options{NoWorker: true})
	_, stop := w.d.StartWorker(nil)
	tpl := w.template(echoSpec, func(r *sdk.CreateTemplateRequest) { r.DefaultTTLMillis = ms(time.Hour) })
	proto := w.workspace(tpl, "me", "proto")
	stop()
	r := &replicasWorld{world: w, proto: proto.ID}
	_, r.execs[0] = w.executor()
	_, r.execs[1] = w.executor()
	return r
}

// runBoth runs one pass on each executor at the same time.
func (r *replicasWorld) runBoth(ctx context.Context) ([2]lifecycle.Stats, error) {
	var stats [2]lifecycle.Stats
	var g errgroup.Group
	for i, e := range r.execs {
		g.Go(func() error {
			var err error
			stats[i], err = e.RunOnce(ctx)
			return err
		})
	}
	return stats, g.Wait()
}

// requireOneBuildEach checks that every workspace got exactly one build
// after its first, an autostop.
func (r *replicasWorld) requireOneBuildEach(tb testing.TB, ids []uuid.UUID) {
	tb.Helper()
	var bad []struct {
		WorkspaceID uuid.UUID `bun:"workspace_id"`
		N           int       `bun:"n"`
	}
	require.NoError(tb, r.d.DB.NewRaw(`SELECT w.id AS workspace_id, count(b.id) FILTER (WHERE b.build_number > 1 AND b.reason = 'autostop') AS n
		FROM workspaces w LEFT JOIN workspace_builds b ON b.workspace_id = w.id
		WHERE w.id IN (?) GROUP BY w.id HAVING count(b.id) <> 2 OR count(b.id) FILTER (WHERE b.reason = 'autostop') <> 1`,
		bun.List(ids)).Scan(tb.Context(), &bad))
	require.Empty(tb, bad, "workspaces without exactly one autostop build")
}

// TestReplicasBuildOnce: workspaces due in the same minute, two executors
// side by side; each workspace gets exactly one build.
func TestReplicasBuildOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	r := newReplicasWorld(t)
	const n = 150
	ids := seedDue(ctx, t, r.d.DB, r.proto, "due", n, time.Now().Add(-time.Minute))
	r.clock.Set(time.Now()).MustWait(ctx)
	stats, err := r.runBoth(ctx)
	require.NoError(t, err)
	require.Equal(t, n, stats[0].Builds["autostop"]+stats[1].Builds["autostop"], "%+v", stats)
	require.Zero(t, stats[0].Failed+stats[1].Failed)
	r.requireOneBuildEach(t, ids)
	// A later pass finds the new builds still running: nothing to do.
	again, err := r.runBoth(ctx)
	require.NoError(t, err)
	require.Zero(t, builds(again[0].Builds)+builds(again[1].Builds))
}

// BenchmarkReplicas10k: 10,000 workspaces (BERTH_BENCH_WORKSPACES to
// change) fall due in the same minute; two executors on one database
// each run a pass at once. Reported: the wall time until both passes end
// and the builds per second, after checking each workspace got exactly
// one build. Run it alone:
//
//	go test ./lifecycle -run '^$' -bench BenchmarkReplicas10k -benchtime 1x
func BenchmarkReplicas10k(b *testing.B) {
	ctx := b.Context()
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("BERTH_BENCH_WORKSPACES")); err == nil && v > 0 {
		n = v
	}
	r := newReplicasWorld(b)
	var total time.Duration
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++
		ids := seedDue(ctx, b, r.d.DB, r.proto, fmt.Sprintf("r%d", round), n, time.Now().Add(-time.Minute))
		r.clock.Set(time.Now()).MustWait(ctx)
		b.StartTimer()
		start := time.Now()
		stats, err := r.runBoth(ctx)
		elapsed := time.Since(start)
		b.StopTimer()
		require.NoError(b, err)
		got := stats[0].Builds["autostop"] + stats[1].Builds["autostop"]
		require.Equal(b, n, got, "%+v", stats)
		r.requireOneBuildEach(b, ids)
		b.Logf("%d workspaces: %d + %d builds, %d + %d skipped, in %s", n,
			stats[0].Builds["autostop"], stats[1].Builds["autostop"], stats[0].Skipped, stats[1].Skipped, elapsed)
		total += elapsed
		b.StartTimer()
	}
	b.ReportMetric(float64(n*round)/total.Seconds(), "builds/s")
	b.ReportMetric(total.Seconds()/float64(round), "s/pass")
}
