package metrics

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Snapshot is what a server reads from Postgres, in one bounded query per
// scrape, about the whole deployment.
type Snapshot struct {
	// PendingJobs and OnlineWorkers are keyed by tag set ("k=v,k=v",
	// sorted; see TagSet).
	PendingJobs   map[string]int
	OnlineWorkers map[string]int
	// Users by status (active, dormant, suspended).
	Users map[string]int
}

// TagSet renders provisioner tags as one label value: sorted k=v pairs
// joined by commas.
func TagSet(tags map[string]string) string {
	pairs := make([]string, 0, len(tags))
	for k, v := range tags {
		pairs = append(pairs, k+"="+v)
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

// Deployment is a collector of deployment-wide gauges, read on scrape. A
// scrape within MinInterval of the last read is served from it, so
// frequent or concurrent scrapes cost one query.
type Deployment struct {
	read        func(context.Context) (Snapshot, error)
	log         *slog.Logger
	minInterval time.Duration
	timeout     time.Duration

	pending, workers, users *prometheus.Desc
	errors                  prometheus.Counter

	mu   sync.Mutex
	last Snapshot
	at   time.Time
}

// NewDeployment registers a collector that calls read on scrape.
func NewDeployment(reg prometheus.Registerer, read func(context.Context) (Snapshot, error), log *slog.Logger) *Deployment {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Deployment{
		read: read, log: log, minInterval: 5 * time.Second, timeout: 5 * time.Second,
		pending: prometheus.NewDesc("berth_jobs_pending", "Provisioner jobs waiting for a worker, by the tag set they need.", []string{"tags"}, nil),
		workers: prometheus.NewDesc("berth_workers_online", "Workers seen in the last 90 s, by tag set.", []string{"tags"}, nil),
		users:   prometheus.NewDesc("coderd_api_total_user_count", "The total number of registered users, partitioned by status.", []string{"status"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_metrics_snapshot_errors_total", Help: "Scrapes whose deployment snapshot could not be read from Postgres.",
		}),
	}
	reg.MustRegister(d, d.errors)
	return d
}

// Describe implements prometheus.Collector.
func (d *Deployment) Describe(ch chan<- *prometheus.Desc) {
	ch <- d.pending
	ch <- d.workers
	ch <- d.users
}

// Collect implements prometheus.Collector.
func (d *Deployment) Collect(ch chan<- prometheus.Metric) {
	s, ok := d.snapshot()
	if !ok {
		return
	}
	for tags, n := range s.PendingJobs {
		ch <- prometheus.MustNewConstMetric(d.pending, prometheus.GaugeValue, float64(n), tags)
	}
	for tags, n := range s.OnlineWorkers {
		ch <- prometheus.MustNewConstMetric(d.workers, prometheus.GaugeValue, float64(n), tags)
	}
	for status, n := range s.Users {
		ch <- prometheus.MustNewConstMetric(d.users, prometheus.GaugeValue, float64(n), status)
	}
}

func (d *Deployment) snapshot() (Snapshot, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.at.IsZero() && time.Since(d.at) < d.minInterval {
		return d.last, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	s, err := d.read(ctx)
	if err != nil {
		d.errors.Inc()
		d.log.Warn("read metrics snapshot", "err", err)
		return Snapshot{}, false
	}
	d.last, d.at = s, time.Now()
	return s, true
}
