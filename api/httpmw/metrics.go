package httpmw

import (
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the API's request metrics, under Coder's names and labels.
// The path label is the route pattern (gin's FullPath, e.g.
// /api/v2/workspaces/:workspace), never the raw path, so its cardinality
// is bounded by the routes; unmatched requests count under "".
type Metrics struct {
	requests    *prometheus.CounterVec
	latencies   *prometheus.HistogramVec
	concurrent  prometheus.Gauge
	websockets  prometheus.Gauge
	wsDurations *prometheus.HistogramVec

	// Children are resolved once per label set, then read under a read
	// lock: the hot path does no label hashing or allocation.
	mu        sync.RWMutex
	counters  map[requestKey]prometheus.Counter
	observers map[requestKey]prometheus.Observer
}

type requestKey struct {
	method, path string
	code         int
}

// NewMetrics registers the request metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coderd_api_requests_processed_total", Help: "The total number of processed API requests",
		}, []string{"code", "method", "path"}),
		latencies: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "coderd_api_request_latencies_seconds", Help: "Latency distribution of requests in seconds.",
			Buckets: []float64{0.001, 0.005, 0.010, 0.025, 0.050, 0.100, 0.500, 1, 5, 10, 30},
		}, []string{"method", "path"}),
		concurrent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coderd_api_concurrent_requests", Help: "The number of concurrent API requests.",
		}),
		websockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coderd_api_concurrent_websockets", Help: "The total number of concurrent API websockets.",
		}),
		wsDurations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "coderd_api_websocket_durations_seconds", Help: "Websocket duration distribution of connections in seconds.",
			Buckets: []float64{0.001, 1, 60, 3600, 10800, 36000},
		}, []string{"path"}),
		counters:  map[requestKey]prometheus.Counter{},
		observers: map[requestKey]prometheus.Observer{},
	}
	reg.MustRegister(m.requests, m.latencies, m.concurrent, m.websockets, m.wsDurations)
	return m
}

// Handler records every request. A websocket upgrade counts as a
// concurrent websocket for as long as it lasts, not as a request in flight.
func (m *Metrics) Handler() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		ws := c.IsWebsocket()
		if ws {
			m.websockets.Inc()
		} else {
			m.concurrent.Inc()
		}
		c.Next()
		elapsed := time.Since(start).Seconds()
		path := c.FullPath()
		if ws {
			m.websockets.Dec()
			m.wsDurations.WithLabelValues(path).Observe(elapsed)
		} else {
			m.concurrent.Dec()
		}
		method := c.Request.Method
		m.counter(requestKey{method: method, path: path, code: c.Writer.Status()}).Inc()
		m.observer(requestKey{method: method, path: path}).Observe(elapsed)
	}
}

func (m *Metrics) counter(k requestKey) prometheus.Counter {
	m.mu.RLock()
	ctr, ok := m.counters[k]
	m.mu.RUnlock()
	if ok {
		return ctr
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ctr, ok = m.counters[k]; !ok {
		ctr = m.requests.WithLabelValues(strconv.Itoa(k.code), k.method, k.path)
		m.counters[k] = ctr
	}
	return ctr
}

func (m *Metrics) observer(k requestKey) prometheus.Observer {
	m.mu.RLock()
	o, ok := m.observers[k]
	m.mu.RUnlock()
	if ok {
		return o
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if o, ok = m.observers[k]; !ok {
		o = m.latencies.WithLabelValues(k.method, k.path)
		m.observers[k] = o
	}
	return o
}
