package metrics

import (
	"database/sql"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
)

// TemporalHandler returns the Temporal SDK's metrics handler, exporting
// the SDK's metrics (temporal_*: requests, polls, task latencies, slots)
// onto reg through OpenTelemetry's Prometheus exporter.
func TemporalHandler(reg prometheus.Registerer) (client.MetricsHandler, error) {
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("temporal metrics exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	return opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{Meter: mp.Meter("temporal-sdk-go")}), nil
}

// DBStats exports the Postgres connection pool's statistics as
// berth_go_sql_* (open, in use, idle connections, waits, closes).
func DBStats(reg prometheus.Registerer, db *sql.DB) {
	prometheus.WrapRegistererWithPrefix("berth_", reg).MustRegister(collectors.NewDBStatsCollector(db, "berth"))
}
