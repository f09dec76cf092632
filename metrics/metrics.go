// Package metrics holds berth's Prometheus metrics: where Coder exports the
// same thing, under Coder's name and labels (coderd_*) so its dashboards
// and alerts keep working; the rest under berth_*. Each process has its own
// registry (NewRegistry), served on its --prometheus-address by Handler.
// Recording methods are safe on a nil receiver, so code that runs without
// metrics (tests, tools) passes nil.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the Go runtime and process
// collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves the registry's metrics in the Prometheus text format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// jobBuckets cover provisioner jobs and queue waits (10 ms to an hour).
var jobBuckets = []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600}
