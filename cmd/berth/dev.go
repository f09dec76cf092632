package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner/terraform"
	"github.com/berth-dev/berth/workflows"
)

// Temporal servers berth dev can run.
const (
	devTemporalPostgres = "postgres"
	devTemporalMemory   = "memory"
)

type devCmd struct {
	Dir            string `help:"Directory for the dev deployment's state (a throw-away Postgres, if one is started)." default:".dev" env:"BERTH_DEV_DIR"`
	Temporal       string `help:"Temporal to run when TEMPORAL_ADDRESS is unset: postgres, a Temporal server persisted in the same Postgres as berth (databases <berth database>_temporal and _temporal_visibility), so jobs survive restarts; or memory, the Temporal CLI's in-memory dev server, for quick experiments (it forgets every workflow when it stops)." enum:"postgres,memory" default:"postgres" env:"BERTH_DEV_TEMPORAL"`
	TemporalServer string `help:"Temporal server binary for --temporal postgres (make dev builds it)." default:"bin/temporal-server" env:"TEMPORAL_SERVER"`
	TemporalCLI    string `help:"Temporal CLI for --temporal memory." default:"bin/temporal" env:"TEMPORAL_CLI"`
	HistoryShards  int    `help:"History shards of a new --temporal postgres cluster (fixed once it is created)." default:"4"`
	PostgresURL    string `help:"Postgres URL (default: local server on 127.0.0.1:5432, else a throw-away cluster under --dir)." env:"BERTH_POSTGRES_URL,DATABASE_URL"`
	Address        string `help:"API address." default:"127.0.0.1:3000" env:"BERTH_ADDRESS"`
	TemporalPort   int    `help:"Frontend port of the Temporal berth dev starts." default:"7233"`
	UIPort         int    `help:"Temporal Web UI port." default:"8233"`
	PrometheusPort int    `help:"Port of the server's Prometheus metrics (/metrics, /healthz, /readyz on 127.0.0.1); workers use the ports after it (0 turns metrics off)." default:"2112" env:"BERTH_DEV_PROMETHEUS_PORT"`
	Workers        int    `help:"Worker processes to start." default:"1"`
}

func (d *devCmd) Run(ctx context.Context, g *globals) error {
	log := g.log
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return err
	}
	dir, err := filepath.Abs(d.Dir)
	if err != nil {
		return err
	}
	temporalAddr := os.Getenv("TEMPORAL_ADDRESS")
	// Fail before starting anything when a port is taken, typically by
	// what an earlier berth dev left running.
	ports := map[string]string{d.Address: "the API (--address)"}
	for i, addr := range d.metricsAddresses() {
		ports[addr] = fmt.Sprintf("the metrics of process %d (--prometheus-port)", i+1)
	}
	if temporalAddr == "" {
		temporalAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(d.TemporalPort))
		ports[temporalAddr] = "Temporal (set TEMPORAL_ADDRESS to use a Temporal already running there)"
		ports[net.JoinHostPort("127.0.0.1", strconv.Itoa(d.UIPort))] = "the Temporal Web UI (--ui-port)"
	}
	for addr, what := range ports {
		if err := portFree(addr); err != nil {
			return fmt.Errorf("%s is in use, wanted by %s: %w. Is an earlier berth dev, or another Temporal, still running? Stop it and start again", addr, what, err)
		}
	}

	kids := newChildren()
	defer kids.stopAll()

	// 1. Postgres.
	pgURL, stopPG, err := d.postgres(ctx, dir)
	if err != nil {
		return err
	}
	if stopPG != nil {
		defer stopPG()
	}

	// 2. Temporal.
	uiURL := "(the Web UI of your Temporal deployment)"
	if os.Getenv("TEMPORAL_ADDRESS") == "" {
		if err := d.startTemporal(ctx, kids, pgURL); err != nil {
			return err
		}
		uiURL = fmt.Sprintf("http://127.0.0.1:%d", d.UIPort)
	}

	// 3. Migrations.
	bdb, err := db.Open(db.Options{URL: pgURL, MaxConns: 2})
	if err != nil {
		return err
	}
	err = db.Migrate(ctx, bdb)
	bdb.Close()
	if err != nil {
		return err
	}

	// 4. Server and workers as separate processes, as in production.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	env := append(os.Environ(), "BERTH_POSTGRES_URL="+pgURL, "TEMPORAL_ADDRESS="+temporalAddr, "BERTH_LOG_FORMAT=text",
		"BERTH_DANGEROUS_DISABLE_RATE_LIMITS=true")
	metricsAddrs := d.metricsAddresses()
	promFlag := func(i int) []string {
		if len(metricsAddrs) == 0 {
			return nil
		}
		return []string{"--prometheus-address", metricsAddrs[i]}
	}
	if _, err := kids.start("berth server", env, nil, self, append([]string{"server", "--address", d.Address}, promFlag(0)...)...); err != nil {
		return err
	}
	for i := range d.Workers {
		name := fmt.Sprintf("dev-worker-%d", i+1)
		args := append([]string{"worker", "--name", name, "--access-url", "http://" + d.Address}, promFlag(i+1)...)
		if _, err := kids.start("berth worker "+name, env, nil, self, args...); err != nil {
			return err
		}
	}
	if err := kids.waitTCP(ctx, d.Address, 60*time.Second); err != nil {
		return fmt.Errorf("api did not start: %w", err)
	}
	api := "http://" + d.Address
	temporal := "Temporal server on Postgres (durable)"
	switch {
	case os.Getenv("TEMPORAL_ADDRESS") != "":
		temporal = "yours, at " + temporalAddr
	case d.Temporal == devTemporalMemory:
		temporal = "in-memory dev server (forgets every workflow when it stops)"
	}
	fmt.Printf(`
berth is running.
  API:          %[1]s/api/v2  (try: curl %[1]s/api/v2/buildinfo)
  Temporal:     %[5]s, %[6]s
  Temporal UI:  %[2]s
  Postgres:     %[3]s
  Provisioners: %[4]s
%[7]sLog in:
  first time:   coder login %[1]s   (creates the owner), or
                curl -X POST %[1]s/api/v2/users/first -d '{"email":"admin@example.com","username":"admin","password":"<a strong password>"}'
  then:         curl -X POST %[1]s/api/v2/users/login -d '{"email":"admin@example.com","password":"..."}'
                and send the session_token as the Coder-Session-Token header.
Press Ctrl-C to stop everything.
`, api, uiURL, redactURL(pgURL), provisionersSummary(), temporal, temporalAddr, d.metricsSummary(api))
	log.Info("dev deployment up")
	select {
	case <-ctx.Done():
		fmt.Println("stopping berth dev…")
		return nil
	case exit := <-kids.exited:
		return fmt.Errorf("%s exited unexpectedly (%v); stopping everything", exit.name, exit.err)
	}
}

// startTemporal starts the Temporal server of --temporal and waits until it
// serves the default namespace with berth's search attributes.
func (d *devCmd) startTemporal(ctx context.Context, kids *children, pgURL string) error {
	args := append(workflows.SearchAttributeFlags(), workflows.DevServerFlags()...)
	var bin, ready string
	switch d.Temporal {
	case devTemporalMemory:
		bin = d.TemporalCLI
		args = append([]string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(d.TemporalPort),
			"--ui-port", strconv.Itoa(d.UIPort), "--log-level", "error", "--namespace", "default"}, args...)
	default:
		bin = d.TemporalServer
		u, err := url.Parse(pgURL)
		if err != nil {
			return fmt.Errorf("postgres url: %w", err)
		}
		name := strings.TrimPrefix(u.Path, "/")
		u.Path = "/postgres"
		args = append([]string{"start", "--setup-schema", "--postgres-url", u.String(),
			"--database", name + "_temporal", "--visibility-database", name + "_temporal_visibility",
			"--history-shards", strconv.Itoa(d.HistoryShards),
			"--ip", "127.0.0.1", "--port", strconv.Itoa(d.TemporalPort), "--ui-port", strconv.Itoa(d.UIPort)}, args...)
		ready = "temporal-server: ready"
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("temporal for --temporal %s: %w (run `make dev`, which builds it)", d.Temporal, err)
	}
	readyCh := make(chan struct{})
	var once sync.Once
	watch := func(line string) {
		if strings.HasPrefix(line, ready) {
			once.Do(func() { close(readyCh) })
		}
	}
	if ready == "" {
		// The dev server registers everything before it listens.
		watch = nil
		close(readyCh)
	}
	p, err := kids.start("temporal", nil, watch, bin, args...)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(d.TemporalPort))
	// The first start sets up the schema, which takes a while.
	timer := time.NewTimer(3 * time.Minute)
	defer timer.Stop()
	select {
	case <-readyCh:
	case <-p.done:
		return fmt.Errorf("temporal (%s) exited during start: %v", bin, p.err)
	case <-timer.C:
		return errors.New("temporal did not become ready within 3 minutes")
	case <-ctx.Done():
		return ctx.Err()
	}
	return kids.waitTCP(ctx, addr, time.Minute)
}

// provisionersSummary says what the dev workers can run.
func provisionersSummary() string {
	bin, err := terraform.FindBinary()
	if err != nil {
		return "echo (terraform: no binary found; run make dev, or set BERTH_TERRAFORM_PATH)"
	}
	if mirror := os.Getenv("BERTH_TERRAFORM_MIRROR"); mirror != "" {
		return fmt.Sprintf("echo, terraform (%s; coder provider from %s)", bin, mirror)
	}
	return fmt.Sprintf("echo, terraform (%s; providers from their registries)", bin)
}

// children are berth dev's child processes. Each runs in a process group of
// its own (a terminal's Ctrl-C reaches berth dev only, which stops them in
// order) and gets SIGTERM from the kernel if berth dev dies, even by
// SIGKILL, so none outlives it.
type children struct {
	procs  []*child
	exited chan *child // the first child to exit unexpectedly
}

type child struct {
	name     string
	cmd      *exec.Cmd
	done     chan struct{}
	err      error // set before done is closed
	stopping atomic.Bool
}

func newChildren() *children {
	return &children{exited: make(chan *child, 1)}
}

// start starts a child whose output goes to berth dev's; watch, if set,
// sees each line of its standard output.
func (k *children) start(name string, env []string, watch func(string), path string, args ...string) (*child, error) {
	c := &child{name: name, done: make(chan struct{})}
	c.cmd = exec.Command(path, args...)
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = os.Stdout, os.Stderr
	var pw *io.PipeWriter
	if watch != nil {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		c.cmd.Stdout = io.MultiWriter(os.Stdout, pw)
		go func() {
			s := bufio.NewScanner(pr)
			for s.Scan() {
				watch(s.Text())
			}
			_, _ = io.Copy(io.Discard, pr)
		}()
	}
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, path, err)
	}
	k.procs = append(k.procs, c)
	go func() {
		c.err = c.cmd.Wait()
		if pw != nil {
			pw.Close()
		}
		close(c.done)
		if !c.stopping.Load() {
			select {
			case k.exited <- c:
			default:
			}
		}
	}()
	return c, nil
}

// stopAll stops the children in the reverse order of their start: workers
// (which may wait for running jobs), the server, then Temporal.
func (k *children) stopAll() {
	for i := len(k.procs) - 1; i >= 0; i-- {
		c := k.procs[i]
		c.stopping.Store(true)
		grace := 15 * time.Second
		if strings.HasPrefix(c.name, "berth worker") {
			grace = 35 * time.Second
		}
		stopProcess(c, grace)
	}
}

// waitTCP waits until addr accepts connections, failing early when a child
// exits.
func (k *children) waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c := <-k.exited:
			return fmt.Errorf("%s exited: %v", c.name, c.err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stopProcess sends SIGTERM to a child's process group, then SIGKILL after
// the grace period.
func stopProcess(c *child, grace time.Duration) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
}

// portFree reports an error when something listens on addr.
func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// postgres returns the URL to use, creating a database or a throw-away
// cluster as needed, and a function that stops what it started.
func (d *devCmd) postgres(ctx context.Context, dir string) (string, func(), error) {
	if d.PostgresURL != "" {
		return d.PostgresURL, nil, nil
	}
	if waitLocalTCP(ctx, "127.0.0.1:5432", 2*time.Second) == nil {
		admin := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
		if err := createDatabase(ctx, admin, "berth_dev"); err == nil {
			return "postgres://postgres@127.0.0.1:5432/berth_dev?sslmode=disable", nil, nil
		}
	}
	return startThrowawayPostgres(ctx, filepath.Join(dir, "pg"))
}

func createDatabase(ctx context.Context, adminURL, name string) error {
	bdb, err := db.Open(db.Options{URL: adminURL, MaxConns: 1})
	if err != nil {
		return err
	}
	defer bdb.Close()
	var exists bool
	if err := bdb.NewRaw("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ?)", name).Scan(ctx, &exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = bdb.ExecContext(ctx, "CREATE DATABASE "+name)
	return err
}

// startThrowawayPostgres runs initdb (once) and pg_ctl under dir.
func startThrowawayPostgres(ctx context.Context, dir string) (string, func(), error) {
	initdb, pgctl, err := findPostgresBinaries()
	if err != nil {
		return "", nil, err
	}
	asPostgres := func(name string, args ...string) *exec.Cmd {
		if os.Geteuid() == 0 {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
		}
		return exec.Command(name, args...)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("postgres"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			_ = os.Chown(dir, uid, gid)
		}
	}
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		out, err := asPostgres(initdb, "-D", data, "--auth=trust", "--username=postgres", "--no-locale", "-E", "UTF8").CombinedOutput()
		if err != nil {
			return "", nil, fmt.Errorf("initdb: %w: %s", err, out)
		}
	}
	port := "54329"
	out, err := asPostgres(pgctl, "-D", data, "-l", filepath.Join(dir, "postgres.log"), "-w", "start",
		"-o", "-p "+port+" -k "+dir+" -c listen_addresses=127.0.0.1").CombinedOutput()
	if err != nil {
		return "", nil, fmt.Errorf("pg_ctl start: %w: %s", err, out)
	}
	stop := func() { _ = asPostgres(pgctl, "-D", data, "-m", "fast", "stop").Run() }
	admin := "postgres://postgres@127.0.0.1:" + port + "/postgres?sslmode=disable"
	if err := createDatabase(ctx, admin, "berth_dev"); err != nil {
		stop()
		return "", nil, err
	}
	return "postgres://postgres@127.0.0.1:" + port + "/berth_dev?sslmode=disable", stop, nil
}

func findPostgresBinaries() (string, string, error) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if pgctl, err := exec.LookPath("pg_ctl"); err == nil {
			return initdb, pgctl, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		bin := filepath.Dir(matches[len(matches)-1])
		return filepath.Join(bin, "initdb"), filepath.Join(bin, "pg_ctl"), nil
	}
	return "", "", errors.New("no Postgres found: set DATABASE_URL, run one on 127.0.0.1:5432, or install initdb/pg_ctl")
}

// waitLocalTCP waits until addr accepts connections.
func waitLocalTCP(ctx context.Context, addr string, timeout time.Duration) error {
	return newChildren().waitTCP(ctx, addr, timeout)
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return strings.Replace(u.Redacted(), "xxxxx", "***", 1)
}

// metricsAddresses are the Prometheus addresses of the server, then of
// each worker: consecutive ports from --prometheus-port (none when 0).
func (d *devCmd) metricsAddresses() []string {
	if d.PrometheusPort <= 0 {
		return nil
	}
	addrs := make([]string, 0, d.Workers+1)
	for i := range d.Workers + 1 {
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(d.PrometheusPort+i)))
	}
	return addrs
}

// metricsSummary lists each process's metrics URL and the readiness URLs.
func (d *devCmd) metricsSummary(api string) string {
	addrs := d.metricsAddresses()
	if len(addrs) == 0 {
		return "  Metrics:      off (--prometheus-port 0)\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  Metrics:      http://%s/metrics  (berth server)\n", addrs[0])
	for i, a := range addrs[1:] {
		fmt.Fprintf(&b, "                http://%s/metrics  (berth worker dev-worker-%d)\n", a, i+1)
	}
	fmt.Fprintf(&b, "  Health:       %[1]s/healthz, %[1]s/readyz (workers: /readyz beside their /metrics)\n", api)
	return b.String()
}
