package testinfra_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/workflows"
)

func TestMain(m *testing.M) { os.Exit(testinfra.Main(m)) }

func TestDBIsMigrated(t *testing.T) {
	t.Parallel()
	bdb := testinfra.DB(t)
	var orgs int
	require.NoError(t, bdb.NewRaw("SELECT count(*) FROM organizations").Scan(t.Context(), &orgs))
	require.Equal(t, 1, orgs, "the default organization")
	var isDefault bool
	require.NoError(t, bdb.NewRaw("SELECT is_default FROM organizations").Scan(t.Context(), &isDefault))
	require.True(t, isDefault)
}

func TestDBTimezone(t *testing.T) {
	t.Parallel()
	bdb := testinfra.DB(t)
	var tz string
	require.NoError(t, bdb.NewRaw("SHOW timezone").Scan(t.Context(), &tz))
	require.Equal(t, "Asia/Kolkata", tz)
}

func TestDBsAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := testinfra.DB(t), testinfra.DB(t)
	var nameA, nameB string
	require.NoError(t, a.NewRaw("SELECT current_database()").Scan(t.Context(), &nameA))
	require.NoError(t, b.NewRaw("SELECT current_database()").Scan(t.Context(), &nameB))
	require.NotEqual(t, nameA, nameB)

	_, err := a.ExecContext(t.Context(), "DELETE FROM organizations")
	require.NoError(t, err)
	var orgs int
	require.NoError(t, b.NewRaw("SELECT count(*) FROM organizations").Scan(t.Context(), &orgs))
	require.Equal(t, 1, orgs, "a write to one database shows in the other")
}

func TestDBURL(t *testing.T) {
	t.Parallel()
	u := testinfra.DBURL(t)
	require.Contains(t, u, "timezone=Asia%2FKolkata")
	bdb, err := db.Open(db.Options{URL: u, MaxConns: 1})
	require.NoError(t, err)
	defer bdb.Close()
	var orgs int
	require.NoError(t, bdb.NewRaw("SELECT count(*) FROM organizations").Scan(t.Context(), &orgs))
	require.Equal(t, 1, orgs)
}

func TestPostgresURL(t *testing.T) {
	t.Parallel()
	u := testinfra.PostgresURL(t)
	require.True(t, strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://"), u)
}

func TestTemporal(t *testing.T) {
	t.Parallel()
	c, addr := testinfra.Temporal(t)
	require.NotEmpty(t, addr)

	ns, err := c.WorkflowService().DescribeNamespace(t.Context(),
		&workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	require.NoError(t, err)
	require.Equal(t, "default", ns.GetNamespaceInfo().GetName())

	attrs, err := c.OperatorService().ListSearchAttributes(t.Context(),
		&operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	require.NoError(t, err)
	require.Equal(t, enums.INDEXED_VALUE_TYPE_KEYWORD, attrs.GetCustomAttributes()["JobType"])
	for name, typ := range workflows.SearchAttributes() {
		require.Equal(t, typ, attrs.GetCustomAttributes()[name], name)
	}
}

func TestTemporalClientsShareServer(t *testing.T) {
	t.Parallel()
	_, addr1 := testinfra.Temporal(t)
	_, addr2 := testinfra.Temporal(t)
	require.Equal(t, addr1, addr2, "one server per test binary")
}

func TestTaskQueuePrefix(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		p := testinfra.TaskQueuePrefix(t)
		require.True(t, strings.HasPrefix(p, "t-"), p)
		require.False(t, seen[p], "duplicate prefix %s", p)
		seen[p] = true
	}
}

// recorder stands in for a test to observe whether Unavailable skips or
// fails. Like the real ones, Fatalf and Skipf end the goroutine.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// Not parallel: it sets CI with t.Setenv.
func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		ci    string
		fatal bool
	}{
		{"", false},
		{"false", false},
		{"0", false},
		{"true", true},
		{"1", true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				testinfra.Unavailable(r, "Thing")
			}()
			<-done
			if tc.fatal {
				require.NotEmpty(t, r.fatal)
				require.Empty(t, r.skip)
			} else {
				require.NotEmpty(t, r.skip)
				require.Empty(t, r.fatal)
			}
		})
	}
}

func TestTemporalCLI(t *testing.T) {
	t.Parallel()
	p := testinfra.TemporalCLI()
	if p == "" {
		testinfra.Unavailable(t, "Temporal CLI")
	}
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.False(t, fi.IsDir())
}
