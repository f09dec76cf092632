package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
)

// pgCluster is a Postgres cluster of this test's own, so that it can be
// restarted without disturbing the shared one.
type pgCluster struct {
	t     *testing.T
	dir   string // owns data/, the unix socket and the server log
	pgCtl string
	asPG  bool // run commands as user postgres (we are root)
	port  int
}

// startPGCluster initdb's a cluster into a subdirectory of t.TempDir() and
// starts it with trust authentication on a free 127.0.0.1 port. It is
// stopped (-m immediate) when the test ends.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	initdb, pgCtl, err := findPGBinaries()
	if err != nil {
		t.Logf("no Postgres binaries: %v", err)
		testinfra.Unavailable(t, "initdb and pg_ctl")
	}
	tmp := t.TempDir()
	c := &pgCluster{t: t, dir: filepath.Join(tmp, "pg"), pgCtl: pgCtl, asPG: os.Geteuid() == 0}
	require.NoError(t, os.Mkdir(c.dir, 0o700))
	if c.asPG {
		// initdb refuses to run as root: hand the directory to postgres,
		// and let it through the 0700 directories t.TempDir made.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Logf("running as root and %v", err)
			testinfra.Unavailable(t, "user postgres")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		require.NoError(t, os.Chown(c.dir, uid, gid))
		require.NoError(t, os.Chmod(tmp, 0o711))
		require.NoError(t, os.Chmod(filepath.Dir(tmp), 0o711))
	}
	out, err := c.run(initdb, "-D", c.data(), "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync")
	require.NoError(t, err, "initdb:\n%s", out)

	for attempt := 0; ; attempt++ { // the free port may be taken before postgres binds it
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		c.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		err = c.start()
		if err == nil {
			break
		}
		require.Less(t, attempt, 2, "%v", err)
	}
	t.Cleanup(func() {
		if out, err := c.run(c.pgCtl, "-D", c.data(), "-m", "immediate", "-w", "stop"); err != nil {
			t.Errorf("stop test Postgres: %v\n%s", err, out)
		}
		if t.Failed() {
			log, _ := os.ReadFile(c.logFile())
			t.Logf("--- postgres log ---\n%s", log)
		}
	})
	return c
}

func (c *pgCluster) data() string    { return filepath.Join(c.dir, "data") }
func (c *pgCluster) logFile() string { return filepath.Join(c.dir, "postgres.log") }

// url is the URL of database name.
func (c *pgCluster) url(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

func (c *pgCluster) start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200"+
		" -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.port, c.dir)
	out, err := c.run(c.pgCtl, "-D", c.data(), "-l", c.logFile(), "-o", opts, "-w", "-t", "30", "start")
	if err != nil {
		log, _ := os.ReadFile(c.logFile())
		return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return nil
}

func (c *pgCluster) stop(mode string) {
	out, err := c.run(c.pgCtl, "-D", c.data(), "-m", mode, "-w", "-t", "30", "stop")
	require.NoError(c.t, err, "pg_ctl stop:\n%s", out)
}

// run runs a Postgres binary, as user postgres when we are root, and returns
// its combined output.
func (c *pgCluster) run(bin string, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	if c.asPG {
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			c.t.Logf("running as root and runuser not found: %v", err)
			testinfra.Unavailable(c.t, "runuser")
		}
		cmd = exec.Command(runuser, append([]string{"-u", "postgres", "--", bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Dir = c.dir
	return cmd.CombinedOutput()
}

// findPGBinaries finds initdb and pg_ctl on PATH or in the newest
// /usr/lib/postgresql/*/bin, as testinfra does.
func findPGBinaries() (initdb, pgCtl string, err error) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			if p := filepath.Join(filepath.Dir(real), "pg_ctl"); executable(p) {
				return initdb, p, nil
			}
		}
		if p, err := exec.LookPath("pg_ctl"); err == nil {
			return initdb, p, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) int { v, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return v }
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "pg_ctl")
		if executable(i) && executable(p) {
			return i, p, nil
		}
	}
	return "", "", errors.New("initdb and pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin")
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// TestPostgresRestartDuringJob restarts Postgres under a running import. The
// server and worker must ride it out: the job reaches a terminal state (not
// stuck running), and the deployment works again afterwards.
func TestPostgresRestartDuringJob(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg := startPGCluster(t)

	admin, err := db.Open(db.Options{URL: pg.url("postgres"), MaxConns: 1})
	require.NoError(t, err)
	_, err = admin.ExecContext(ctx, "CREATE DATABASE berth")
	require.NoError(t, err)
	require.NoError(t, admin.Close())
	dbURL := pg.url("berth")
	migrator, err := db.Open(db.Options{URL: dbURL, MaxConns: 2})
	require.NoError(t, err)
	require.NoError(t, db.Migrate(ctx, migrator))
	require.NoError(t, migrator.Close())

	_, addr := testinfra.Temporal(t)
	e := &env{t: t, dbURL: dbURL, temporal: addr, prefix: testinfra.TaskQueuePrefix(t)}
	store := e.store()
	c := e.startServer()
	e.startWorker(store, "w1")
	owner := login(ctx, t, c)

	v := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan:start":{"logs":[{"output":"a"},{"output":"slow","delay_ms":4000}]}}}`)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := c.TemplateVersion(ctx, v.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobRunning, got.Job.Status)
	}, 30*time.Second, 20*time.Millisecond)

	restarted := time.Now()
	pg.stop("fast")
	time.Sleep(2 * time.Second) // an outage, not just a blip
	require.NoError(t, pg.start())
	t.Logf("Postgres restarted in %s", time.Since(restarted).Round(time.Millisecond))

	// The job reaches a terminal state; the API may fail for a moment while
	// connections are re-established.
	v = waitAfterOutage(t, c, v.ID, restarted)
	switch v.Job.Status {
	case sdk.ProvisionerJobSucceeded:
		// Nothing written around the outage was lost.
		logs, err := c.TemplateVersionLogsAfter(ctx, v.ID, 0)
		require.NoError(t, err)
		var outputs []string
		for _, l := range logs {
			outputs = append(outputs, l.Output)
		}
		require.Subset(t, outputs, []string{"a", "slow"})
	case sdk.ProvisionerJobFailed:
		require.NotEmpty(t, v.Job.Error, "a failed job says why")
		require.NotNil(t, v.Job.CompletedAt)
	default:
		t.Fatalf("job ended %s (%q), want succeeded or a clear failure", v.Job.Status, v.Job.Error)
	}

	// The deployment works again: the API answers and a new import succeeds.
	_, err = c.BuildInfo(ctx)
	require.NoError(t, err)
	v2 := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan":{"logs":[{"output":"after the restart"}]}}}`)
	v2 = berthtest.WaitJob(ctx, t, c, v2.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v2.Job.Status, v2.Job.Error)
	require.Equal(t, "w1", v2.Job.WorkerName, "the worker survived the restart")
}
