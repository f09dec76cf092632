package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/uptrace/bun"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

// deployment is the berth the bench started: a Temporal dev server, a
// database of its own, a server and a set of workers.
type deployment struct {
	cfg      config
	problems *problems

	adminURL, dbName, dbURL string
	db                      *bun.DB // the bench database, for seeding
	temporalAddr, prefix    string
	temporalDir, temporalDB string            // what --temporal sqlite or postgres created
	pprof                   map[string]string // process → pprof host:port, with --profile
	temporal, server        *proc
	apiURL                  *url.URL

	mu       sync.Mutex
	workers  []*proc
	retired  []*proc // stopped workers, kept for their log problems
	gen      int
	stopOnce sync.Once
}

// startDeployment starts everything; on error it stops what it started.
func startDeployment(ctx context.Context, cfg config, probs *problems) (_ *deployment, err error) {
	d := &deployment{cfg: cfg, problems: probs, adminURL: cfg.PostgresAdminURL, prefix: "bench-" + randomHex(4)}
	defer func() {
		if err != nil {
			d.stop()
		}
	}()
	temporalBin := cfg.TemporalCLI
	if cfg.Temporal == temporalPostgres {
		temporalBin = cfg.TemporalServer
	}
	for _, bin := range []string{cfg.Berth, temporalBin} {
		if st, err := os.Stat(bin); err != nil || st.IsDir() {
			return nil, fmt.Errorf("%s: not an executable file (run `make bench`, which builds bin/berth, bin/temporal and bin/temporal-server)", bin)
		}
	}

	// Postgres: a database of its own, dropped at the end (and, with
	// --temporal postgres, Temporal's two).
	if err := d.createDatabase(ctx); err != nil {
		return nil, err
	}
	if err := d.startTemporal(ctx); err != nil {
		return nil, err
	}

	// The server migrates the database at start; workers need the default
	// organization, so they start after it answers.
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	hostPort := net.JoinHostPort("127.0.0.1", strconv.Itoa(addr))
	d.apiURL = &url.URL{Scheme: "http", Host: hostPort}
	logf("starting berth server on %s (database %s, queue prefix %s)", hostPort, d.dbName, d.prefix)
	if d.server, err = startProc("server", cfg.Berth, []string{"server", "--address", hostPort}, d.withPprof(d.env(), "server"), "", probs); err != nil {
		return nil, err
	}
	if err := d.waitAPI(ctx, 90*time.Second); err != nil {
		return nil, fmt.Errorf("berth server: %w\n%s", err, d.server.out.tail())
	}
	if err := d.setWorkers(ctx, cfg.Workers); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *deployment) env() []string {
	return append(os.Environ(), "BERTH_POSTGRES_URL="+d.dbURL, "TEMPORAL_ADDRESS="+d.temporalAddr,
		"TEMPORAL_NAMESPACE=default", "BERTH_QUEUE_PREFIX="+d.prefix, "BERTH_LOG_FORMAT=text", "BERTH_LOG_LEVEL=info",
		// The load would trip the per-user limits (Coder is benchmarked the same way).
		"BERTH_DANGEROUS_DISABLE_RATE_LIMITS=true")
}

func (d *deployment) createDatabase(ctx context.Context) error {
	u, err := url.Parse(d.adminURL)
	if err != nil {
		return fmt.Errorf("--postgres-admin-url: %w", err)
	}
	admin, err := db.Open(db.Options{URL: d.adminURL, MaxConns: 1})
	if err != nil {
		return err
	}
	defer admin.Close()
	name := "berth_bench_" + randomHex(6)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(cctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("create database %s on %s: %w", name, u.Redacted(), err)
	}
	d.dbName = name
	u.Path = "/" + name
	d.dbURL = u.String()
	logf("created database %s", name)
	d.db, err = db.Open(db.Options{URL: d.dbURL, MaxConns: 2})
	return err
}

func (d *deployment) dropDatabase() {
	if d.db != nil {
		_ = d.db.Close()
	}
	if d.dbName != "" {
		d.dropNamedDatabase(d.dbName)
	}
}

func (d *deployment) dropNamedDatabase(name string) {
	admin, err := db.Open(db.Options{URL: d.adminURL, MaxConns: 1})
	if err != nil {
		d.problems.add("drop database %s: %v", name, err)
		return
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		fmt.Fprintf(os.Stderr, "bench: drop database %s: %v\n", name, err)
		return
	}
	logf("dropped database %s", name)
}

func (d *deployment) waitAPI(ctx context.Context, timeout time.Duration) error {
	c := sdk.New(d.apiURL)
	deadline := time.Now().Add(timeout)
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.BuildInfo(rctx)
		cancel()
		if err == nil {
			return nil
		}
		if d.server.exited() {
			return errors.New("exited during start")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// setWorkers replaces the running workers with n new ones and returns once
// each polls its task queues.
func (d *deployment) setWorkers(ctx context.Context, n int) error {
	d.mu.Lock()
	old := d.workers
	d.workers = nil
	d.gen++
	gen := d.gen
	d.mu.Unlock()
	stopAll(old, 40*time.Second)
	d.mu.Lock()
	d.retired = append(d.retired, old...)
	d.mu.Unlock()

	started := make([]*proc, 0, n)
	for i := range n {
		name := fmt.Sprintf("bench-g%d-w%d", gen, i+1)
		env := d.env()
		if i == 0 {
			env = d.withPprof(env, "worker")
		}
		p, err := startProc("worker "+name, d.cfg.Berth, []string{"worker", "--name", name}, env, "worker started", d.problems)
		if err != nil {
			stopAll(started, 40*time.Second)
			return err
		}
		started = append(started, p)
	}
	d.mu.Lock()
	d.workers = started
	d.mu.Unlock()
	for _, p := range started {
		select {
		case <-p.out.ready:
		case <-p.done:
			return fmt.Errorf("%s exited during start:\n%s", p.name, p.out.tail())
		case <-time.After(60 * time.Second):
			return fmt.Errorf("%s did not start within 60s:\n%s", p.name, p.out.tail())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	logf("%d worker(s) ready", n)
	return nil
}

// firstWorker is the first running worker, or nil.
func (d *deployment) firstWorker() *proc {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.workers) == 0 {
		return nil
	}
	return d.workers[0]
}

// stop ends every process (workers, then server, then Temporal) and drops
// the database. It is safe to call more than once.
func (d *deployment) stop() {
	d.stopOnce.Do(func() {
		logf("stopping the deployment")
		d.mu.Lock()
		ws := d.workers
		d.mu.Unlock()
		stopAll(ws, 40*time.Second)
		if d.server != nil {
			d.server.stop(20 * time.Second)
		}
		if d.temporal != nil {
			d.temporal.stop(10 * time.Second)
		}
		d.dropTemporal()
		d.dropDatabase()
	})
}

// collectLogProblems reports the warnings and errors the processes logged.
func (d *deployment) collectLogProblems() {
	d.mu.Lock()
	ps := append(append([]*proc{d.server}, d.retired...), d.workers...)
	d.mu.Unlock()
	for _, p := range ps {
		if p == nil {
			continue
		}
		for _, s := range p.out.notable() {
			d.problems.add("%s logged: %s", p.name, s)
		}
	}
}

// proc is a child process in its own process group, so a terminal's Ctrl-C
// reaches only the bench, which stops it in order. If the bench dies, the
// kernel kills it (Pdeathsig).
type proc struct {
	name     string
	cmd      *exec.Cmd
	out      *outputSink
	done     chan struct{}
	stopping atomic.Bool
}

func startProc(name, path string, args, env []string, readyLine string, probs *problems) (*proc, error) {
	p := &proc{name: name, out: newOutputSink(readyLine), done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, path, err)
	}
	go func() {
		err := p.cmd.Wait()
		if !p.stopping.Load() {
			probs.add("%s exited unexpectedly (%v); last output:\n%s", name, err, p.out.tail())
		}
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	p.stopping.Store(true)
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
}

func stopAll(ps []*proc, grace time.Duration) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { p.stop(grace) })
	}
	wg.Wait()
}

// rss reads VmRSS and VmHWM (peak) from /proc in KiB.
func (p *proc) rss() (cur, peak int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse %s: %w", line, err)
		}
		if k == "VmRSS" {
			cur = n
		} else {
			peak = n
		}
	}
	if cur == 0 {
		return 0, 0, errors.New("no VmRSS in /proc status")
	}
	return cur, peak, nil
}

// outputSink keeps a child's last lines, its first warnings and errors, and
// closes ready when a line contains readyLine.
type outputSink struct {
	mu        sync.Mutex
	partial   []byte
	last      []string
	warnings  []string
	nWarnings int
	readyLine string
	ready     chan struct{}
}

const keepLines = 40

func newOutputSink(readyLine string) *outputSink {
	s := &outputSink{readyLine: readyLine, ready: make(chan struct{})}
	if readyLine == "" {
		close(s.ready)
	}
	return s
}

func (s *outputSink) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, b...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) > 64<<10 { // a runaway line without newline
		s.line(string(s.partial))
		s.partial = nil
	}
	return len(b), nil
}

func (s *outputSink) line(l string) {
	if len(l) > 2000 {
		l = l[:2000] + "…"
	}
	s.last = append(s.last, l)
	if len(s.last) > keepLines {
		s.last = s.last[len(s.last)-keepLines:]
	}
	if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
		s.nWarnings++
		if len(s.warnings) < 5 {
			s.warnings = append(s.warnings, l)
		}
	}
	if s.readyLine != "" && strings.Contains(l, s.readyLine) {
		s.readyLine = ""
		close(s.ready)
	}
}

func (s *outputSink) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "  | " + strings.Join(s.last, "\n  | ")
}

// notable returns the first warning and error lines and how many there were.
func (s *outputSink) notable() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]string(nil), s.warnings...)
	if s.nWarnings > len(s.warnings) {
		out = append(out, fmt.Sprintf("… %d more WARN/ERROR lines", s.nWarnings-len(s.warnings)))
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitTCP(ctx context.Context, addr string, p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if p.exited() {
			return errors.New("exited during start")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %s: %w", addr, timeout, err)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
