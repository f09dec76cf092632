package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is the JSON the bench writes. Latencies are in milliseconds.
type Report struct {
	StartedAt   time.Time   `json:"started_at"`
	FinishedAt  time.Time   `json:"finished_at"`
	Interrupted bool        `json:"interrupted,omitempty"`
	Mode        string      `json:"mode"` // "local" (started by the bench) or "target"
	Host        Host        `json:"host"`
	Config      config      `json:"config"`
	Imports     []ImportRun `json:"imports"`
	Logs        *LogRun     `json:"logs,omitempty"`
	Builds      []BuildRun  `json:"builds"`
	List        *ListRun    `json:"list,omitempty"`
	RSS         []RSS       `json:"rss,omitempty"`
	Problems    []string    `json:"problems"`
}

// Host describes the machine the bench ran on.
type Host struct {
	CPUs      int    `json:"cpus"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	GoVersion string `json:"go_version"`
	Hostname  string `json:"hostname"`
}

// Stats summarises latencies in milliseconds (nearest-rank percentiles).
type Stats struct {
	N    int     `json:"n"`
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// ImportRun is one batch of echo imports.
type ImportRun struct {
	Clients   int     `json:"clients"`
	Imports   int     `json:"imports"`
	Succeeded int     `json:"succeeded"`
	Failed    int     `json:"failed"` // API errors, failed jobs, timeouts
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"imports_per_sec"`
	Client    Stats   `json:"client_latency"` // POST → terminal seen by polling
	Server    Stats   `json:"server_latency"` // job completed_at - created_at
	// CPU is the CPU time per succeeded import, in ms, of each process
	// (server, workers, temporal, postgres, bench); local deployments only.
	CPU cpuSnapshot `json:"cpu_ms_per_job,omitempty"`
}

// LogRun is the log-latency measurement.
type LogRun struct {
	Imports int   `json:"imports"`
	Lines   int   `json:"lines_expected"`
	Skipped int   `json:"lines_before_connect"` // written before the websocket was up; not counted
	Latency Stats `json:"latency"`              // log created_at → arrival at the follow websocket
}

// BuildRun is one build-throughput run.
type BuildRun struct {
	Workers    int         `json:"workers"` // 0: an existing deployment's
	Clients    int         `json:"clients"`
	Workspaces int         `json:"workspaces"`
	Succeeded  int         `json:"succeeded"`
	Failed     int         `json:"failed"`
	Seconds    float64     `json:"seconds"`
	PerSecond  float64     `json:"builds_per_sec"`
	Client     Stats       `json:"client_latency"`
	Server     Stats       `json:"server_latency"`
	CPU        cpuSnapshot `json:"cpu_ms_per_job,omitempty"` // per succeeded build, as ImportRun.CPU
}

// ListRun is the GET /workspaces?limit=25 measurement.
type ListRun struct {
	Workspaces  int      `json:"workspaces"` // count reported by the API
	Seeded      int      `json:"seeded"`
	SeedSeconds float64  `json:"seed_seconds"`
	Idle        Stats    `json:"idle"`
	UnderLoad   Stats    `json:"under_load"`
	Load        BuildRun `json:"load"`
	Errors      int      `json:"errors"`
}

// RSS is a process's resident memory in KiB.
type RSS struct {
	Process string `json:"process"`
	RSSKiB  int64  `json:"rss_kib"`
	PeakKiB int64  `json:"peak_kib"`
}

func newReport(cfg config) *Report {
	host, _ := os.Hostname()
	r := &Report{
		StartedAt: time.Now().UTC(), Mode: "local", Config: cfg,
		Host:    Host{CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, GoVersion: runtime.Version(), Hostname: host},
		Imports: []ImportRun{}, Builds: []BuildRun{},
	}
	if cfg.Target != "" {
		r.Mode = "target"
	}
	return r
}

func (r *Report) finish(problems []string, interrupted bool) {
	r.FinishedAt = time.Now().UTC()
	r.Problems = problems
	r.Interrupted = interrupted
}

func (r *Report) write(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func summarize(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[max(i, 0)])
	}
	return Stats{
		N: len(s), Min: ms(s[0]), Mean: ms(sum / time.Duration(len(s))),
		P50: pct(0.50), P95: pct(0.95), P99: pct(0.99), Max: ms(s[len(s)-1]),
	}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

func (r *Report) print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "\nberth bench, %s, %s deployment", r.StartedAt.Format(time.RFC3339), r.Mode)
	if c.Target != "" {
		fmt.Fprintf(w, " %s", c.Target)
	}
	fmt.Fprintf(w, ", %d CPUs, %s", r.Host.CPUs, r.FinishedAt.Sub(r.StartedAt).Round(time.Second))
	if r.Interrupted {
		fmt.Fprint(w, " (INTERRUPTED)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells ...any) {
		for _, c := range cells {
			fmt.Fprintf(tw, "%v\t", c)
		}
		fmt.Fprintln(tw)
	}
	f := func(v float64) string { return fmt.Sprintf("%.1f", v) }

	fmt.Fprintf(w, "\n(a) echo import, POST → terminal (client polls every %s; server = completed_at - created_at), ms\n", c.Poll)
	line("clients", "imports", "ok", "failed", "client p50", "p95", "p99", "server p50", "p95", "p99", "imports/s")
	for _, i := range r.Imports {
		line(i.Clients, i.Imports, i.Succeeded, i.Failed, f(i.Client.P50), f(i.Client.P95), f(i.Client.P99),
			f(i.Server.P50), f(i.Server.P95), f(i.Server.P99), f(i.PerSecond))
	}
	tw.Flush()

	fmt.Fprintf(w, "\n(b) workspace builds, %d clients on %d workspaces, start/stop, %s per run (client polls every %s), ms\n",
		c.Clients, c.BuildWorkspaces, c.BuildDuration, c.BuildPoll)
	line("workers", "ok", "failed", "builds/s", "client p50", "p95", "p99", "server p50", "p95", "p99")
	for _, b := range r.Builds {
		workers := fmt.Sprint(b.Workers)
		if b.Workers == 0 {
			workers = "existing"
		}
		line(workers, b.Succeeded, b.Failed, f(b.PerSecond), f(b.Client.P50), f(b.Client.P95), f(b.Client.P99),
			f(b.Server.P50), f(b.Server.P95), f(b.Server.P99))
	}
	tw.Flush()

	if l := r.List; l != nil {
		seeded := "none seeded"
		if l.Seeded > 0 {
			seeded = fmt.Sprintf("%d seeded by SQL in %.1fs", l.Seeded, l.SeedSeconds)
		}
		fmt.Fprintf(w, "\n(c) GET /workspaces?limit=25 with %d workspaces (%s), ms\n", l.Workspaces, seeded)
		line("", "requests", "p50", "p99", "max", "builds/s")
		line("idle", l.Idle.N, f(l.Idle.P50), f(l.Idle.P99), f(l.Idle.Max), "-")
		line(fmt.Sprintf("%d clients building", l.Load.Clients), l.UnderLoad.N, f(l.UnderLoad.P50), f(l.UnderLoad.P99), f(l.UnderLoad.Max), f(l.Load.PerSecond))
		tw.Flush()
	}

	if l := r.Logs; l != nil {
		fmt.Fprintf(w, "\n(d) log latency, echo log created_at → arrival at a follow websocket (%d imports × %d lines, %s apart), ms\n",
			l.Imports, c.LogLines, c.LogDelay)
		line("lines", "p50", "p95", "p99", "max")
		line(l.Latency.N, f(l.Latency.P50), f(l.Latency.P95), f(l.Latency.P99), f(l.Latency.Max))
		tw.Flush()
	}

	r.printCPU(w)

	if len(r.RSS) > 0 {
		fmt.Fprintln(w, "\n(e) resident memory after the runs, MiB")
		line("process", "rss", "peak")
		for _, m := range r.RSS {
			line(m.Process, f(float64(m.RSSKiB)/1024), f(float64(m.PeakKiB)/1024))
		}
		tw.Flush()
	}

	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "\nproblems: none")
		return
	}
	fmt.Fprintf(w, "\nproblems (%d):\n", len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", strings.ReplaceAll(p, "\n", "\n    "))
	}
}

// problems collects errors seen during the runs, counting repeats.
type problems struct {
	mu      sync.Mutex
	order   []string
	counts  map[string]int
	dropped int
}

func (p *problems) add(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counts == nil {
		p.counts = map[string]int{}
	}
	if p.counts[msg] == 0 {
		if len(p.order) >= maxProblems {
			p.dropped++
			return
		}
		p.order = append(p.order, msg)
	}
	p.counts[msg]++
}

const maxProblems = 40

func (p *problems) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.order))
	for _, m := range p.order {
		if n := p.counts[m]; n > 1 {
			m = fmt.Sprintf("%s (×%d)", m, n)
		}
		out = append(out, m)
	}
	if p.dropped > 0 {
		out = append(out, fmt.Sprintf("… and %d other problems", p.dropped))
	}
	return out
}

// printCPU prints the CPU time per job of each run that measured it.
func (r *Report) printCPU(w io.Writer) {
	type row struct {
		name string
		cpu  cpuSnapshot
	}
	var rows []row
	for _, i := range r.Imports {
		if i.CPU != nil {
			rows = append(rows, row{fmt.Sprintf("import, %d client(s)", i.Clients), i.CPU})
		}
	}
	for _, b := range r.Builds {
		if b.CPU != nil {
			rows = append(rows, row{fmt.Sprintf("build, %d worker(s)", b.Workers), b.CPU})
		}
	}
	if len(rows) == 0 {
		return
	}
	parts := []string{"server", "workers", cpuTemporal, cpuPostgresBerth, cpuPostgresTemporal, cpuPostgresShared, cpuBench}
	fmt.Fprintln(w, "\n(f) CPU time per job, ms (pg: PostgreSQL backends of each database, and its shared writers)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "run\t%s\tberth total\t\n", strings.Join(parts, "\t"))
	for _, rw := range rows {
		fmt.Fprintf(tw, "%s\t", rw.name)
		for _, p := range parts {
			fmt.Fprintf(tw, "%.2f\t", rw.cpu[p])
		}
		fmt.Fprintf(tw, "%.2f\t\n", rw.cpu["server"]+rw.cpu["workers"])
	}
	tw.Flush()

	fmt.Fprintln(w, "\n(g) PostgreSQL work per job: transactions per database (reads included), server-wide WAL flushes and volume")
	counters := []string{txBerth, txTemporal, txVisibility, walSyncs, walKiB}
	fmt.Fprintf(tw, "run\t%s\t\n", strings.Join(counters, "\t"))
	for _, rw := range rows {
		fmt.Fprintf(tw, "%s\t", rw.name)
		for _, p := range counters {
			fmt.Fprintf(tw, "%.1f\t", rw.cpu[p])
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
