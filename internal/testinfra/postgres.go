package testinfra

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver pgtestdb uses
	"github.com/peterldowns/pgtestdb"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/berth-dev/berth/db"
)

// testTimezone is set on every test connection: a half-hour zone flushes out
// code that forgets to work in UTC.
const testTimezone = "Asia/Kolkata"

// localPostgresURL is tried when neither TEST_DATABASE_URL nor DATABASE_URL
// is set (or works).
const localPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	pgOnce sync.Once
	pg     pgChoice
)

type pgChoice struct {
	url     string   // admin URL; "" when no Postgres is available
	source  string   // where url came from
	why     reasons  // why earlier steps were passed over
	cluster *cluster // the throwaway cluster, if this binary started one
}

// PostgresURL returns the admin URL of the Postgres server the tests use. It
// is the first that works of:
//
//  1. TEST_DATABASE_URL,
//  2. DATABASE_URL,
//  3. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable, if it
//     answers within 2 s,
//  4. a throwaway cluster: initdb and pg_ctl (from PATH or
//     /usr/lib/postgresql/*/bin) in a temporary directory, run as user
//     postgres when the tests run as root, stopped and removed by Main.
//
// (Docker users can point TEST_DATABASE_URL at their container;
// testcontainers-go is not a dependency.) URLs must be postgres:// URLs and
// the role must be able to create roles and databases. With none of these,
// Unavailable is called.
func PostgresURL(t testing.TB) string {
	t.Helper()
	first := false
	pgOnce.Do(func() {
		first = true
		pg = choosePostgres()
	})
	if pg.url == "" {
		t.Logf("no Postgres:%s", pg.why)
		Unavailable(t, "Postgres")
	}
	if first {
		t.Logf("testinfra: Postgres from %s%s", pg.source, pg.why)
	}
	return pg.url
}

// DB returns a fresh, migrated database of its own, opened with db.Open
// (pgdriver) in the Asia/Kolkata time zone and closed when the test ends.
// Databases are cloned from a template keyed by db.MigrationsHash, so the
// migrations run once per server, not per test. A failed test's database is
// kept for inspection (its URL is in the test log).
func DB(t testing.TB) *bun.DB {
	t.Helper()
	u := instanceURL(t, false)
	bdb, err := db.Open(db.Options{URL: u})
	require.NoError(t, err, "open test database")
	// Registered after pgtestdb's own cleanup, so it runs first: the
	// database can only be dropped once every connection is closed. A
	// connection the code under test leaks fails the test there.
	t.Cleanup(func() {
		if err := bdb.Close(); err != nil {
			t.Errorf("close test database: %v", err)
		}
	})
	return bdb
}

// DBURL is DB for tests whose server or worker processes open the database
// themselves: it returns the URL of a fresh, migrated database (with
// timezone=Asia/Kolkata in its query) that is dropped when the test ends.
// Connections still open then are terminated.
func DBURL(t testing.TB) string {
	t.Helper()
	return instanceURL(t, true)
}

// instanceURL creates a test database and returns its pgdriver URL.
func instanceURL(t testing.TB, forceTerminate bool) string {
	t.Helper()
	conf := pgtestdbConfig(t, PostgresURL(t))
	conf.ForceTerminateConnections = forceTerminate
	inst := pgtestdb.Custom(t, conf, migrator{})
	u, err := url.Parse(inst.URL())
	require.NoError(t, err, "parse test database URL")
	q := u.Query()
	q.Set("timezone", testTimezone)
	u.RawQuery = q.Encode()
	return u.String()
}

// pgtestdbConfig turns an admin URL into a pgtestdb config using the pgx
// driver.
func pgtestdbConfig(t testing.TB, admin string) pgtestdb.Config {
	t.Helper()
	u, err := url.Parse(admin)
	require.NoError(t, err, "parse Postgres URL")
	host := u.Hostname()
	if host == "" {
		host = "localhost" // a host=/socket/dir query parameter overrides it
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	userName, password := "postgres", ""
	if u.User != nil {
		userName = u.User.Username()
		password, _ = u.User.Password()
	}
	database := strings.TrimPrefix(u.Path, "/")
	if database == "" {
		database = userName
	}
	// Config.URL pastes these in unescaped; only the admin connection uses
	// them.
	return pgtestdb.Config{
		DriverName: "pgx",
		Host:       host,
		Port:       port,
		User:       url.User(userName).String(),
		Password:   strings.TrimPrefix(url.UserPassword("", password).String(), ":"),
		Database:   database,
		Options:    u.RawQuery,
	}
}

// migrator builds pgtestdb's template database with berth's migrations.
type migrator struct{}

func (migrator) Hash() (string, error) { return db.MigrationsHash() }

func (migrator) Migrate(ctx context.Context, sqldb *sql.DB, _ pgtestdb.Config) error {
	// pgtestdb closes sqldb itself.
	return db.Migrate(ctx, bun.NewDB(sqldb, pgdialect.New()))
}

// choosePostgres runs the cascade documented on PostgresURL.
func choosePostgres() pgChoice {
	var c pgChoice
	for _, env := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		raw := os.Getenv(env)
		if raw == "" {
			continue
		}
		if err := ping(raw, 5*time.Second); err != nil {
			c.why.add("%s: %v", env, err)
			continue
		}
		c.url, c.source = raw, env
		return c
	}
	if err := ping(localPostgresURL, 2*time.Second); err != nil {
		c.why.add("%s: %v", localPostgresURL, err)
	} else {
		c.url, c.source = localPostgresURL, localPostgresURL
		return c
	}
	cl, err := startCluster()
	if err != nil {
		c.why.add("throwaway cluster: %v", err)
		return c
	}
	c.url, c.source, c.cluster = cl.url, "a throwaway cluster in "+cl.dir, cl
	return c
}

// ping checks that raw is a postgres:// URL of a server that answers.
func ping(raw string, timeout time.Duration) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return errors.New("not a postgres:// URL")
	}
	sqldb, err := sql.Open("pgx", raw)
	if err != nil {
		return err
	}
	defer sqldb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return sqldb.PingContext(ctx)
}

func stopPostgres() {
	if pg.cluster != nil {
		pg.cluster.stop()
	}
}

// startCluster starts the throwaway cluster PostgresURL falls back to, in a
// temporary directory that stopPostgres removes.
func startCluster() (*cluster, error) {
	dir, err := os.MkdirTemp("", "berth-testpg-")
	if err != nil {
		return nil, err
	}
	pc, err := newPostgresCluster(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &cluster{PostgresCluster: pc, dir: dir, url: pc.URL("postgres")}, nil
}

// cluster is the throwaway cluster and the directory it lives in.
type cluster struct {
	*PostgresCluster
	dir string
	url string
}

func (c *cluster) stop() {
	if err := c.Stop("immediate"); err != nil {
		fmt.Fprintf(os.Stderr, "testinfra: stop throwaway Postgres in %s: %v\n", c.dir, err)
		return // leave the directory for inspection
	}
	_ = os.RemoveAll(c.dir)
}

func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
