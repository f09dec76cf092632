package testinfra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

// PostgresCluster is a Postgres server of its own (initdb in a directory,
// started with pg_ctl, trust authentication, on a free 127.0.0.1 port): the
// throwaway cluster PostgresURL falls back to, and the private cluster a
// test gets from StartPostgresCluster so that it can stop and start it
// without disturbing the server other tests share.
type PostgresCluster struct {
	dir   string // owns data/, the unix socket and the server log
	pgCtl string
	asPG  bool // run commands as user postgres (we are root)
	port  int
}

// StartPostgresCluster initdb's a cluster into a subdirectory of
// t.TempDir() and starts it. It is stopped (-m immediate) when the test
// ends, and its server log is shown if the test failed. Without initdb and
// pg_ctl (or, as root, user postgres) it calls Unavailable.
func StartPostgresCluster(t testing.TB) *PostgresCluster {
	t.Helper()
	tmp := t.TempDir()
	if os.Geteuid() == 0 {
		// Let user postgres through the 0700 directories t.TempDir made.
		require.NoError(t, os.Chmod(tmp, 0o711))
		require.NoError(t, os.Chmod(filepath.Dir(tmp), 0o711))
	}
	dir := filepath.Join(tmp, "pg")
	require.NoError(t, os.Mkdir(dir, 0o700))
	c, err := newPostgresCluster(dir)
	var missing *missingError
	if errors.As(err, &missing) {
		t.Logf("no private Postgres cluster: %v", err)
		Unavailable(t, missing.what)
	}
	require.NoError(t, err, "start a private Postgres cluster")
	t.Cleanup(func() {
		if err := c.Stop("immediate"); err != nil {
			t.Errorf("stop private Postgres: %v", err)
		}
		if t.Failed() {
			t.Logf("--- postgres log ---\n%s", c.Log())
		}
	})
	return c
}

// missingError says that something a cluster needs is not installed.
type missingError struct {
	what string
	err  error
}

func (e *missingError) Error() string { return e.what + ": " + e.err.Error() }

// newPostgresCluster initdb's a cluster into dir (which must exist and be
// empty) and starts it on a free port.
func newPostgresCluster(dir string) (*PostgresCluster, error) {
	initdb, pgCtl, err := findPostgresBinaries()
	if err != nil {
		return nil, &missingError{what: "initdb and pg_ctl", err: err}
	}
	c := &PostgresCluster{dir: dir, pgCtl: pgCtl, asPG: os.Geteuid() == 0}
	if c.asPG {
		// initdb refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, &missingError{what: "user postgres (running as root)", err: err}
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := c.run(initdb, "-D", c.data(), "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	var lastErr error
	for range 3 { // the free port may be taken before postgres binds it
		if c.port, err = freePort(); err != nil {
			return nil, err
		}
		if lastErr = c.Start(); lastErr == nil {
			return c, nil
		}
	}
	return nil, lastErr
}

func (c *PostgresCluster) data() string    { return filepath.Join(c.dir, "data") }
func (c *PostgresCluster) logFile() string { return filepath.Join(c.dir, "postgres.log") }

// URL is the URL of one of the cluster's databases ("postgres" is the
// admin database).
func (c *PostgresCluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, database)
}

// Log returns the server log.
func (c *PostgresCluster) Log() string {
	b, _ := os.ReadFile(c.logFile())
	return string(b)
}

// Start starts the server (again) on its port and waits until it accepts
// connections. Durability is off (fsync, synchronous_commit,
// full_page_writes): a test cluster never outlives an OS crash, and a
// server stopped in any pg_ctl mode still recovers every committed
// transaction.
func (c *PostgresCluster) Start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300"+
		" -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.port, c.dir)
	out, err := c.run(c.pgCtl, "-D", c.data(), "-l", c.logFile(), "-o", opts, "-w", "-t", "60", "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, c.Log())
	}
	return nil
}

// Stop stops the server in a pg_ctl shutdown mode (smart, fast or
// immediate) and waits until it is down.
func (c *PostgresCluster) Stop(mode string) error {
	out, err := c.run(c.pgCtl, "-D", c.data(), "-m", mode, "-w", "-t", "60", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %w\n%s", mode, err, out)
	}
	return nil
}

// CreateDatabase creates a database and returns its URL.
func (c *PostgresCluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	admin, err := db.Open(db.Options{URL: c.URL("postgres"), MaxConns: 1})
	if err != nil {
		return "", err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return c.URL(name), nil
}

// BerthDB creates a database with berth's migrations applied and returns
// its URL.
func (c *PostgresCluster) BerthDB(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	u, err := c.CreateDatabase(ctx, name)
	require.NoError(t, err)
	bdb, err := db.Open(db.Options{URL: u, MaxConns: 2})
	require.NoError(t, err)
	defer bdb.Close()
	require.NoError(t, db.Migrate(ctx, bdb), "migrate %s", name)
	return u
}

// run runs a Postgres binary, as user postgres when we are root, and returns
// its combined output.
func (c *PostgresCluster) run(bin string, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	switch {
	case !c.asPG:
		cmd = exec.Command(bin, args...)
	case lookPath("runuser") != "":
		cmd = exec.Command(lookPath("runuser"), append([]string{"-u", "postgres", "--", bin}, args...)...)
	default:
		quoted := make([]string, 0, len(args)+1)
		for _, a := range append([]string{bin}, args...) {
			quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
		}
		cmd = exec.Command("su", "postgres", "-s", "/bin/sh", "-c", strings.Join(quoted, " "))
	}
	cmd.Dir = c.dir
	return cmd.CombinedOutput()
}

// findPostgresBinaries finds initdb and pg_ctl on PATH or, failing that, in
// the newest /usr/lib/postgresql/*/bin.
func findPostgresBinaries() (initdb, pgCtl string, err error) {
	if initdb = lookPath("initdb"); initdb != "" {
		// Prefer the pg_ctl next to the initdb found (symlinks resolved).
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			if p := filepath.Join(filepath.Dir(real), "pg_ctl"); isExecutable(p) {
				return initdb, p, nil
			}
		}
		if pgCtl = lookPath("pg_ctl"); pgCtl != "" {
			return initdb, pgCtl, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "pg_ctl")
		if isExecutable(i) && isExecutable(p) {
			return i, p, nil
		}
	}
	return "", "", errors.New("initdb and pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin")
}

// pgVersion extracts the major version from /usr/lib/postgresql/<v>/bin.
func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}
