package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/health"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
)

// scrape reads a /metrics endpoint.
func scrape(t assert.TestingT, url string) map[string]*dto.MetricFamily {
	res, err := http.Get(url)
	if !assert.NoError(t, err) {
		return nil
	}
	defer res.Body.Close()
	if !assert.Equal(t, http.StatusOK, res.StatusCode) {
		return nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	assert.NoError(t, err)
	return fams
}

// value returns the value of the sample of family name whose labels
// include want (a counter, gauge, or a histogram's count), and whether
// there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// readyz asks a /readyz endpoint.
func readyz(t assert.TestingT, url string) (int, health.Report) {
	var r health.Report
	res, err := http.Get(url)
	if !assert.NoError(t, err) {
		return 0, r
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	assert.NoError(t, json.Unmarshal(b, &r), "%s", b)
	return res.StatusCode, r
}

// TestMetricsMoveWhenJobsRun runs an import and a workspace build on a
// server and a worker process, each exporting metrics on its own
// --prometheus-address, and checks that Coder's and berth's metrics, and the
// Temporal SDK's, are exported and count what happened.
func TestMetricsMoveWhenJobsRun(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEnv(t)
	store := e.store()
	serverProm, workerProm := freeAddr(t), freeAddr(t)
	c := e.startServer("--prometheus-address", serverProm)
	e.startWorker(store, "w1", "--prometheus-address", workerProm)
	owner := login(ctx, t, c)
	serverURL, workerURL := "http://"+serverProm+"/metrics", "http://"+workerProm+"/metrics"

	before := scrape(t, workerURL)
	_, ok := value(before, "berth_jobs_total", map[string]string{"type": db.JobTypeTemplateVersionImport})
	require.False(t, ok, "no import has run yet")

	v := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan":{"logs":[{"output":"one"},{"output":"two"}]}}}`)
	v = berthtest.WaitJob(ctx, t, c, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "metrics", VersionID: v.ID})
	require.NoError(t, err)
	ws, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "dev1"})
	require.NoError(t, err)
	b := berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)

	// The worker counts the jobs it ran (the build is recorded just after
	// its row completes, so wait for it).
	var w map[string]*dto.MetricFamily
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		w = scrape(ct, workerURL)
		n, ok := value(w, "coderd_workspace_builds_total", map[string]string{
			"workspace_owner": "owner", "workspace_name": "dev1", "template_name": "metrics",
			"template_version": v.Name, "workspace_transition": "start", "status": "success",
		})
		assert.True(ct, ok)
		assert.Equal(ct, 1.0, n)
	}, 30*time.Second, 50*time.Millisecond)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"berth_jobs_total", map[string]string{"type": db.JobTypeTemplateVersionImport, "status": "succeeded", "provisioner": "echo"}, 1},
		{"berth_jobs_total", map[string]string{"type": db.JobTypeWorkspaceBuild, "status": "succeeded", "provisioner": "echo"}, 1},
		{"coderd_provisionerd_job_timings_seconds", map[string]string{"provisioner": "echo", "status": "success"}, 2},
		{"coderd_provisionerd_workspace_build_timings_seconds", map[string]string{"template_name": "metrics", "workspace_transition": "start", "status": "success"}, 1},
		{"berth_job_queue_wait_seconds", map[string]string{"type": db.JobTypeWorkspaceBuild}, 1},
		{"berth_job_run_seconds", map[string]string{"type": db.JobTypeTemplateVersionImport}, 1},
		{"coderd_provisionerd_jobs_current", map[string]string{"provisioner": "echo"}, 0},
		{"coderd_provisionerd_num_daemons", nil, 1},
	} {
		got, ok := value(w, tc.name, tc.labels)
		require.True(t, ok, "%s%v is exported", tc.name, tc.labels)
		require.Equal(t, tc.want, got, "%s%v", tc.name, tc.labels)
	}
	lines, ok := value(w, "berth_job_log_lines_total", nil)
	require.True(t, ok)
	require.GreaterOrEqual(t, lines, 2.0, "at least the import's two lines")
	requireFamilyPrefix(t, w, "temporal_", "the Temporal SDK's metrics, from the worker")
	requireFamilyPrefix(t, w, "berth_go_sql_", "the worker's connection pool")

	// The server counts requests by route pattern, and reads deployment
	// gauges from Postgres.
	s := scrape(t, serverURL)
	n, ok := value(s, "coderd_api_requests_processed_total", map[string]string{
		"code": "201", "method": http.MethodPost, "path": "/api/v2/organizations/:organization/templateversions",
	})
	require.True(t, ok, "requests are labelled with the route pattern")
	require.Equal(t, 1.0, n)
	for name, f := range s {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "path" {
					require.NotContains(t, l.GetValue(), v.ID.String(), "%s has a raw path label", name)
				}
			}
		}
	}
	_, ok = value(s, "coderd_api_request_latencies_seconds", map[string]string{"method": http.MethodGet, "path": "/api/v2/templateversions/:templateversion"})
	require.True(t, ok)
	_, ok = value(s, "coderd_api_concurrent_requests", nil)
	require.True(t, ok)
	_, ok = value(s, "coderd_api_concurrent_websockets", nil)
	require.True(t, ok)
	users, ok := value(s, "coderd_api_total_user_count", map[string]string{"status": "active"})
	require.True(t, ok)
	require.Equal(t, 1.0, users)
	online, ok := value(s, "berth_workers_online", nil)
	require.True(t, ok)
	require.Equal(t, 1.0, online)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		// The listener reports up once it heard its first notification.
		up, ok := value(scrape(ct, serverURL), "berth_listener_up", nil)
		assert.True(ct, ok)
		assert.Equal(ct, 1.0, up)
	}, 30*time.Second, 50*time.Millisecond)
	for _, name := range []string{"berth_reaper_actions_total", "berth_reconciler_actions_total", "berth_jobs_worker_lost_total", "berth_listener_reconnects_total"} {
		_, ok := s[name]
		require.True(t, ok, "%s is exported", name)
	}
	requireFamilyPrefix(t, s, "temporal_", "the Temporal SDK's metrics, from the server")
	requireFamilyPrefix(t, s, "berth_go_sql_", "the server's connection pool")
}

func requireFamilyPrefix(t *testing.T, fams map[string]*dto.MetricFamily, prefix, what string) {
	t.Helper()
	for name := range fams {
		if strings.HasPrefix(name, prefix) {
			return
		}
	}
	t.Fatalf("no %s* metric: want %s", prefix, what)
}

// waitReady waits until a /readyz answers status, and returns its report.
func waitReady(t *testing.T, url string, status int) health.Report {
	t.Helper()
	var r health.Report
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var got int
		got, r = readyz(ct, url)
		assert.Equal(ct, status, got, "%+v", r)
	}, 60*time.Second, 100*time.Millisecond)
	return r
}

// TestReadinessFollowsPostgres stops Postgres under a running server and
// worker: both turn unready naming postgres, and ready again once it is
// back.
func TestReadinessFollowsPostgres(t *testing.T) {
	t.Parallel()
	pg := testinfra.StartPostgresCluster(t)
	dbURL := pg.BerthDB(t, "berth")

	_, addr := testinfra.Temporal(t)
	e := &env{t: t, dbURL: dbURL, temporal: addr, prefix: testinfra.TaskQueuePrefix(t)}
	workerProm := freeAddr(t)
	c := e.startServer()
	e.startWorker(e.store(), "w1", "--prometheus-address", workerProm)
	api := c.URL.String() + "/readyz"
	worker := "http://" + workerProm + "/readyz"

	r := waitReady(t, api, http.StatusOK)
	require.Equal(t, map[string]string{health.Postgres: "ok", health.Temporal: "ok", health.Listener: "ok", health.Migrations: "ok"}, r.Checks)
	waitReady(t, worker, http.StatusOK)

	require.NoError(t, pg.Stop("fast"))
	for _, url := range []string{api, worker} {
		r := waitReady(t, url, http.StatusServiceUnavailable)
		require.Contains(t, r.Failing, health.Postgres, url)
		require.Equal(t, "ok", r.Checks[health.Temporal], url)
	}
	require.NoError(t, pg.Start())
	waitReady(t, api, http.StatusOK)
	waitReady(t, worker, http.StatusOK)
}

// TestReadinessFollowsTemporal stops Temporal under a running server and
// worker: both turn unready naming temporal, and ready again once it is
// back.
func TestReadinessFollowsTemporal(t *testing.T) {
	t.Parallel()
	ts := testinfra.StartTemporalServer(t)
	e := &env{t: t, dbURL: testinfra.DBURL(t), temporal: ts.Addr, prefix: testinfra.TaskQueuePrefix(t)}
	workerProm := freeAddr(t)
	c := e.startServer()
	e.startWorker(e.store(), "w1", "--prometheus-address", workerProm)
	api := c.URL.String() + "/readyz"
	worker := "http://" + workerProm + "/readyz"
	waitReady(t, api, http.StatusOK)
	waitReady(t, worker, http.StatusOK)

	ts.Stop(syscall.SIGTERM)
	for _, url := range []string{api, worker} {
		r := waitReady(t, url, http.StatusServiceUnavailable)
		require.Equal(t, []string{health.Temporal}, r.Failing, url)
	}
	require.NoError(t, ts.Start())
	waitReady(t, api, http.StatusOK)
	waitReady(t, worker, http.StatusOK)
}
