// Package grafanatest checks the Grafana dashboard in deploy/grafana
// against the metrics berth exports.
package grafanatest

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/metrics"
)

// recorder is a Registerer that keeps the names its collectors describe.
type recorder struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *recorder) Unregister(prometheus.Collector) bool { return false }

// exported returns the names of every metric berth's server and worker
// register (not the Temporal SDK's, which appear as the SDK records them).
func exported(t *testing.T) map[string]bool {
	rec := &recorder{names: map[string]bool{}}
	metrics.NewJobs(rec)
	metrics.NewControl(rec)
	metrics.NewDeployment(rec, func(context.Context) (metrics.Snapshot, error) { return metrics.Snapshot{}, nil }, nil)
	metrics.Listener(rec, func() uint64 { return 0 }, func() bool { return true })
	// The pool's collector describes its metrics without connecting.
	pool := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN("postgres://nobody@127.0.0.1:1/none?sslmode=disable")))
	t.Cleanup(func() { pool.Close() })
	metrics.DBStats(rec, pool)
	httpmw.NewMetrics(rec)
	fams, err := metrics.NewRegistry().Gather()
	require.NoError(t, err)
	for _, f := range fams {
		rec.names[f.GetName()] = true
	}
	return rec.names
}

// series are the metric names a PromQL expression reads: berth's, Coder's
// and the runtime's, as exported (a histogram's _bucket, _sum and _count
// come from its name).
var series = regexp.MustCompile(`\b((?:coderd|berth|go|process)_[a-z0-9_]+)\b`)

func TestDashboardQueriesExportedMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/grafana/berth.json")
	require.NoError(t, err)
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash), "the dashboard is valid JSON")
	require.NotEmpty(t, dash.UID)
	require.NotEmpty(t, dash.Panels)

	have := exported(t)
	queried := map[string]bool{}
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, "panel %q queries something", p.Title)
		for _, tg := range p.Targets {
			names := series.FindAllString(tg.Expr, -1)
			require.NotEmpty(t, names, "panel %q: %s reads no metric", p.Title, tg.Expr)
			for _, n := range names {
				base := n
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(n, suffix); ok && have[b] {
						base = b
					}
				}
				require.True(t, have[base], "panel %q queries %s, which berth does not export", p.Title, n)
				queried[base] = true
			}
		}
	}
	// The dashboard shows the jobs, the queue, latency and workers.
	for _, n := range []string{
		"berth_jobs_total", "berth_jobs_pending", "berth_job_queue_wait_seconds", "berth_job_run_seconds",
		"berth_workers_online", "coderd_api_request_latencies_seconds", "coderd_api_requests_processed_total",
		"coderd_provisionerd_jobs_current", "coderd_workspace_builds_total",
	} {
		require.True(t, queried[n], "the dashboard shows %s", n)
	}
}
