// Command bench measures a berth deployment end to end and writes a JSON
// report plus a table on stdout:
//
//   - echo template-version import latency (1 and N concurrent clients),
//   - workspace build throughput with 1, 2 and 4 worker processes,
//   - GET /workspaces?limit=25 latency with 10,000 workspaces, idle and
//     under build load,
//   - log latency from the echo provisioner to a follow websocket,
//   - resident memory of the server and a worker.
//
// By default it starts its own deployment (an in-memory Temporal dev
// server, a fresh Postgres database, `berth server` and `berth worker`
// processes) and removes it at the end, Ctrl-C included. With --target and
// --token it measures an existing deployment instead, and skips what needs
// process or database control. It is a tool, not a test: nothing passes or
// fails on time. Run it with `make bench`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config holds the command-line flags.
type config struct {
	Berth            string        `json:"berth,omitempty"`
	TemporalCLI      string        `json:"temporal_cli,omitempty"`
	TemporalServer   string        `json:"temporal_server,omitempty"`
	Temporal         string        `json:"temporal"`
	HistoryShards    int           `json:"history_shards,omitempty"`
	PostgresAdminURL string        `json:"-"`
	Target           string        `json:"target,omitempty"`
	Token            string        `json:"-"`
	Out              string        `json:"-"`
	Workers          int           `json:"workers"`
	BuildWorkers     []int         `json:"build_workers"`
	Clients          int           `json:"clients"`
	ImportsSingle    int           `json:"imports_single"`
	ImportsParallel  int           `json:"imports_concurrent"`
	Poll             time.Duration `json:"poll_ns"`
	BuildPoll        time.Duration `json:"build_poll_ns"`
	BuildWorkspaces  int           `json:"build_workspaces"`
	BuildDuration    time.Duration `json:"build_duration_ns"`
	ListWorkspaces   int           `json:"list_workspaces"`
	ListRequests     int           `json:"list_requests"`
	LogImports       int           `json:"log_imports"`
	LogLines         int           `json:"log_lines"`
	LogDelay         time.Duration `json:"log_delay_ns"`
	JobTimeout       time.Duration `json:"job_timeout_ns"`
	ProfileDir       string        `json:"profile_dir,omitempty"`
	Phases           []string      `json:"phases"`
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.Berth, "berth", "bin/berth", "berth binary for the server and worker processes")
	fs.StringVar(&c.Temporal, "temporal", temporalPostgres, "Temporal to start: postgres (bin/temporal-server on PostgreSQL, as make dev runs it), sqlite or memory (the CLI's dev server)")
	fs.StringVar(&c.TemporalCLI, "temporal-cli", "bin/temporal", "Temporal CLI for --temporal memory or sqlite")
	fs.StringVar(&c.TemporalServer, "temporal-server", "bin/temporal-server", "Temporal server for --temporal postgres")
	fs.IntVar(&c.HistoryShards, "history-shards", 4, "history shards of --temporal postgres")
	fs.StringVar(&c.PostgresAdminURL, "postgres-admin-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"Postgres URL allowed to CREATE and DROP the bench database")
	fs.StringVar(&c.Target, "target", "", "measure this existing deployment (base URL, e.g. http://127.0.0.1:3000) instead of starting one")
	fs.StringVar(&c.Token, "token", "", "session token for --target (an owner's)")
	fs.StringVar(&c.Out, "out", "", "JSON report path (default bench-<timestamp>.json)")
	fs.IntVar(&c.Workers, "workers", 1, "worker processes for the import, log and list measurements")
	workers := fs.String("build-workers", "1,2,4", "worker-process counts for the build throughput runs")
	fs.IntVar(&c.Clients, "clients", 8, "concurrent clients")
	fs.IntVar(&c.ImportsSingle, "imports-single", 50, "imports measured with one client")
	fs.IntVar(&c.ImportsParallel, "imports-concurrent", 400, "imports measured with --clients clients")
	fs.DurationVar(&c.Poll, "poll", 2*time.Millisecond, "poll interval of GET /templateversions/{id}")
	fs.DurationVar(&c.BuildPoll, "build-poll", 5*time.Millisecond, "poll interval of GET /workspacebuilds/{id}")
	fs.IntVar(&c.BuildWorkspaces, "build-workspaces", 16, "workspaces the build clients start and stop")
	fs.DurationVar(&c.BuildDuration, "build-duration", 15*time.Second, "length of each build run (and of the list-under-load run)")
	fs.IntVar(&c.ListWorkspaces, "list-workspaces", 10000, "workspaces in the database for the list measurement (seeded with SQL)")
	fs.IntVar(&c.ListRequests, "list-requests", 200, "idle GET /workspaces requests")
	fs.IntVar(&c.LogImports, "log-imports", 10, "imports whose log lines are followed")
	fs.IntVar(&c.LogLines, "log-lines", 20, "log lines per followed import")
	// Not a multiple of the worker's 100 ms log flush interval, so the
	// lines fall at every phase of it rather than always just after a flush.
	fs.DurationVar(&c.LogDelay, "log-delay", 37*time.Millisecond, "delay before each followed log line")
	fs.DurationVar(&c.JobTimeout, "job-timeout", 60*time.Second, "longest wait for one job")
	phases := fs.String("phases", "imports,logs,builds,list,rss", "measurements to run, in this order")
	fs.StringVar(&c.ProfileDir, "profile", "", "record CPU profiles of the server, the first worker and Temporal during each import run and the first build run into this directory")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c.Phases = strings.Split(*phases, ",")
	for _, s := range strings.Split(*workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return c, fmt.Errorf("--build-workers: %q is not a positive number", s)
		}
		c.BuildWorkers = append(c.BuildWorkers, n)
	}
	switch {
	case c.Target != "" && c.Token == "":
		return c, errors.New("--target needs --token")
	case c.Clients < 1 || c.Workers < 1:
		return c, errors.New("--clients and --workers must be at least 1")
	case c.BuildWorkspaces < c.Clients:
		return c, errors.New("--build-workspaces must be at least --clients (each client owns distinct workspaces)")
	case c.Poll <= 0 || c.BuildPoll <= 0 || c.JobTimeout <= 0 || c.BuildDuration <= 0:
		return c, errors.New("durations must be positive")
	}
	for _, p := range c.Phases {
		if !slices.Contains([]string{"imports", "logs", "builds", "list", "rss"}, p) {
			return c, fmt.Errorf("--phases: unknown measurement %q (imports, logs, builds, list, rss)", p)
		}
	}
	if c.Out == "" {
		c.Out = "bench-" + time.Now().Format("20060102-150405") + ".json"
	}
	if c.Target != "" {
		c.Berth, c.TemporalCLI, c.TemporalServer, c.Temporal = "", "", "", ""
	}
	return c, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process without cleaning up
		fmt.Fprintln(os.Stderr, "bench: interrupted, stopping everything it started (Ctrl-C again to abandon)")
	}()
	err = run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run starts or targets the deployment, measures, and reports. A failed
// measurement is reported as a problem and the others still run.
func run(ctx context.Context, cfg config) (err error) {
	rep := newReport(cfg)
	b := &bench{cfg: cfg, rep: rep, problems: &problems{}}
	if cfg.Target == "" {
		d, err := startDeployment(ctx, cfg, b.problems)
		if err != nil {
			return err
		}
		defer d.stop()
		b.dep = d
	}
	if err := b.setup(ctx); err != nil {
		return err
	}
	phases := map[string]func(context.Context) error{
		"imports": b.measureImports,
		"logs":    b.measureLogs,
		"builds":  b.measureBuilds,
		"list":    b.measureList,
		"rss":     b.measureRSS,
	}
	for _, name := range cfg.Phases {
		if ctx.Err() != nil {
			break
		}
		logf("== %s", name)
		if err := phases[name](ctx); err != nil && ctx.Err() == nil {
			b.problems.add("%s: %v", name, err)
		}
	}
	if b.dep != nil {
		b.dep.collectLogProblems()
	}
	rep.finish(b.problems.list(), ctx.Err() != nil)
	if err := rep.write(cfg.Out); err != nil {
		return err
	}
	rep.print(os.Stdout)
	fmt.Printf("\nreport: %s\n", cfg.Out)
	return ctx.Err()
}

// logf prints progress to stderr, so stdout holds only the table.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}
