package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/health"
	"github.com/berth-dev/berth/metrics"
	"github.com/berth-dev/berth/tracing"
)

// prometheusFlags expose a process's metrics, as Coder's
// --prometheus-address does, plus its health and readiness.
type prometheusFlags struct {
	PrometheusAddress string `help:"Serve Prometheus metrics at http://<address>/metrics, with /healthz and /readyz beside them (off when empty)." env:"BERTH_PROMETHEUS_ADDRESS"`
}

// observability is what a process exports: its metrics registry, and the
// Temporal SDK's metrics handler feeding it.
type observability struct {
	reg      *prometheus.Registry
	temporal client.MetricsHandler
	// tracer is set when the OTEL_* environment asks for traces; shutdown
	// flushes them.
	tracer   trace.TracerProvider
	shutdown func(context.Context) error
}

func newObservability(ctx context.Context, service string) (*observability, error) {
	reg := metrics.NewRegistry()
	h, err := metrics.TemporalHandler(reg)
	if err != nil {
		return nil, err
	}
	o := &observability{reg: reg, temporal: h, shutdown: func(context.Context) error { return nil }}
	if tracing.Enabled(os.Getenv) {
		tp, shutdown, err := tracing.Provider(ctx, service)
		if err != nil {
			return nil, err
		}
		o.tracer, o.shutdown = tp, shutdown
	}
	return o, nil
}

// close flushes traces.
func (o *observability) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = o.shutdown(ctx)
}

// serve serves /metrics, /healthz and /readyz until ctx ends.
func (f prometheusFlags) serve(ctx context.Context, log *slog.Logger, o *observability, ready *health.Checker) error {
	if f.PrometheusAddress == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(o.reg))
	mux.Handle("GET /healthz", health.Healthz())
	mux.Handle("GET /readyz", ready.Readyz())
	return servePrivate(ctx, log, "prometheus metrics", f.PrometheusAddress, "/metrics", mux)
}

// readiness returns the checks of a process that uses Postgres, Temporal
// and a LISTEN connection.
func readiness(bdb *bun.DB, tc client.Client, listening func() bool) *health.Checker {
	return health.New(
		health.Check{Name: health.Postgres, Probe: bdb.PingContext},
		health.Check{Name: health.Migrations, Probe: func(ctx context.Context) error {
			pending, err := db.PendingMigrations(ctx, bdb)
			if err != nil {
				return err
			}
			if len(pending) > 0 {
				return fmt.Errorf("%d pending: %s", len(pending), strings.Join(pending, ", "))
			}
			return nil
		}},
		health.Check{Name: health.Temporal, Probe: func(ctx context.Context) error {
			_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}},
		health.Check{Name: health.Listener, Probe: func(context.Context) error {
			if !listening() {
				return errors.New("not listening: reconnecting to postgres")
			}
			return nil
		}},
	)
}

// deploymentSnapshot reads the deployment-wide gauges for a server.
func deploymentSnapshot(store *db.Store) func(context.Context) (metrics.Snapshot, error) {
	return func(ctx context.Context) (metrics.Snapshot, error) {
		st, err := store.GetDeploymentStats(ctx)
		if err != nil {
			return metrics.Snapshot{}, err
		}
		s := metrics.Snapshot{PendingJobs: map[string]int{}, OnlineWorkers: map[string]int{}, Users: st.Users}
		for _, p := range st.PendingJobs {
			s.PendingJobs[metrics.TagSet(p.Tags)] += p.Count
		}
		for _, d := range st.OnlineDaemons {
			s.OnlineWorkers[metrics.TagSet(d.Tags)] += d.Count
		}
		return s, nil
	}
}
