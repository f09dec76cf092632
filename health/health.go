// Package health answers liveness (/healthz: the process is up) and
// readiness (/readyz: every dependency answers) for berth's servers and
// workers. Readiness runs its checks when asked, concurrently and each with
// a deadline, and answers 503 naming the dependencies that are down.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Dependency names used by berth's checks.
const (
	Postgres   = "postgres"
	Temporal   = "temporal"
	Listener   = "listener"
	Migrations = "migrations"
)

// Check is one dependency's probe: nil when it is up.
type Check struct {
	Name  string
	Probe func(context.Context) error
}

// Checker runs a process's readiness checks.
type Checker struct {
	checks  []Check
	timeout time.Duration
}

// DefaultTimeout bounds each probe.
const DefaultTimeout = 2 * time.Second

// New returns a Checker running checks, each within DefaultTimeout.
func New(checks ...Check) *Checker {
	return &Checker{checks: checks, timeout: DefaultTimeout}
}

// Report is the readiness answer: Ready, and each dependency's state ("ok"
// or why it is down). Failing lists the names of those down, sorted.
type Report struct {
	Ready   bool              `json:"ready"`
	Failing []string          `json:"failing,omitempty"`
	Checks  map[string]string `json:"checks"`
}

// Check runs every probe at once and reports.
func (c *Checker) Check(ctx context.Context) Report {
	r := Report{Ready: true, Checks: make(map[string]string, len(c.checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, chk := range c.checks {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			err := chk.Probe(pctx)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				r.Checks[chk.Name] = "ok"
				return
			}
			r.Ready = false
			r.Checks[chk.Name] = err.Error()
			r.Failing = append(r.Failing, chk.Name)
		})
	}
	wg.Wait()
	sort.Strings(r.Failing)
	return r
}

// Readyz answers 200 with the report when every dependency is up, else 503.
func (c *Checker) Readyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r := c.Check(req.Context())
		status := http.StatusOK
		if !r.Ready {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, r)
	})
}

// Healthz answers 200 while the process serves HTTP.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
