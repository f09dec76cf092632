package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner/terraform"
	"github.com/berth-dev/berth/workflows"
)

type devCmd struct {
	Dir         string `help:"Directory for the dev server's state (Temporal database, throw-away Postgres)." default:".dev" env:"BERTH_DEV_DIR"`
	TemporalCLI string `help:"Path of the Temporal CLI used when TEMPORAL_ADDRESS is unset." default:"bin/temporal" env:"TEMPORAL_CLI"`
	PostgresURL string `help:"Postgres URL (default: local server on 127.0.0.1:5432, else a throw-away cluster under --dir)." env:"BERTH_POSTGRES_URL,DATABASE_URL"`
	Address     string `help:"API address." default:"127.0.0.1:3000" env:"BERTH_ADDRESS"`
	UIPort      int    `help:"Temporal Web UI port." default:"8233"`
	Workers     int    `help:"Worker processes to start." default:"1"`
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
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	// 1. Temporal.
	temporalAddr := os.Getenv("TEMPORAL_ADDRESS")
	uiURL := "(the Web UI of your Temporal deployment)"
	if temporalAddr == "" {
		temporalAddr = "127.0.0.1:7233"
		args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", "7233",
			"--ui-port", strconv.Itoa(d.UIPort), "--db-filename", filepath.Join(dir, "temporal.db"),
			"--log-level", "error", "--namespace", "default"}
		args = append(args, workflows.SearchAttributeFlags()...)
		args = append(args, workflows.DevServerFlags()...)
		cmd := exec.Command(d.TemporalCLI, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start temporal dev server (%s; run `make dev` to build it): %w", d.TemporalCLI, err)
		}
		cleanups = append(cleanups, func() { stopProcess(cmd, 10*time.Second) })
		if err := waitTCP(ctx, temporalAddr, 60*time.Second); err != nil {
			return fmt.Errorf("temporal dev server did not start: %w", err)
		}
		uiURL = fmt.Sprintf("http://127.0.0.1:%d", d.UIPort)
	}

	// 2. Postgres.
	pgURL, stopPG, err := d.postgres(ctx, dir)
	if err != nil {
		return err
	}
	if stopPG != nil {
		cleanups = append(cleanups, stopPG)
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
	env := append(os.Environ(), "BERTH_POSTGRES_URL="+pgURL, "TEMPORAL_ADDRESS="+temporalAddr, "BERTH_LOG_FORMAT=text")
	start := func(args ...string) (*exec.Cmd, error) {
		cmd := exec.Command(self, args...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return cmd, nil
	}
	srv, err := start("server", "--address", d.Address)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { stopProcess(srv, 15*time.Second) })
	for i := 0; i < d.Workers; i++ {
		w, err := start("worker", "--name", fmt.Sprintf("dev-worker-%d", i+1), "--access-url", "http://"+d.Address)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func() { stopProcess(w, 35*time.Second) })
	}
	if err := waitTCP(ctx, d.Address, 60*time.Second); err != nil {
		return fmt.Errorf("api did not start: %w", err)
	}
	api := "http://" + d.Address
	fmt.Printf(`
berth is running.
  API:          %[1]s/api/v2  (try: curl %[1]s/api/v2/buildinfo)
  Temporal UI:  %[2]s
  Postgres:     %[3]s
  Provisioners: %[4]s
Log in:
  first time:   coder login %[1]s   (creates the owner), or
                curl -X POST %[1]s/api/v2/users/first -d '{"email":"admin@example.com","username":"admin","password":"<a strong password>"}'
  then:         curl -X POST %[1]s/api/v2/users/login -d '{"email":"admin@example.com","password":"..."}'
                and send the session_token as the Coder-Session-Token header.
Press Ctrl-C to stop everything.
`, api, uiURL, redactURL(pgURL), provisionersSummary())
	log.Info("dev deployment up")
	<-ctx.Done()
	fmt.Println("stopping berth dev…")
	return nil
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

// postgres returns the URL to use, creating a database or a throw-away
// cluster as needed, and a function that stops what it started.
func (d *devCmd) postgres(ctx context.Context, dir string) (string, func(), error) {
	if d.PostgresURL != "" {
		return d.PostgresURL, nil, nil
	}
	if waitTCP(ctx, "127.0.0.1:5432", 2*time.Second) == nil {
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

func waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
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
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stopProcess sends SIGTERM to a child's process group, then SIGKILL after
// the grace period.
func stopProcess(cmd *exec.Cmd, grace time.Duration) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return strings.Replace(u.Redacted(), "xxxxx", "***", 1)
}
