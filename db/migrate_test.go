package db_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/testinfra"
)

// appTables are the tables the migrations own.
var appTables = []string{
	"organizations", "users", "organization_members", "api_keys", "files", "provisioner_daemons",
	"provisioner_jobs", "provisioner_job_logs", "templates", "template_versions",
	"template_version_variables", "template_version_parameters", "workspace_resources",
	"workspaces", "workspace_builds", "template_usage",
}

func existingTables(t *testing.T, bdb *bun.DB) map[string]bool {
	t.Helper()
	var names []string
	require.NoError(t, bdb.NewRaw(
		"SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()").
		Scan(t.Context(), &names))
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

func requireSchema(t *testing.T, bdb *bun.DB, present bool) {
	t.Helper()
	tables := existingTables(t, bdb)
	for _, name := range appTables {
		require.Equal(t, present, tables[name], "table %s present", name)
	}
}

func requireOneDefaultOrg(t *testing.T, bdb *bun.DB) {
	t.Helper()
	var n int
	require.NoError(t, bdb.NewRaw("SELECT count(*) FROM organizations WHERE is_default").Scan(t.Context(), &n))
	require.Equal(t, 1, n, "exactly one default organization")
}

// rollbackAll rolls back migration groups until none is applied.
func rollbackAll(t *testing.T, bdb *bun.DB) {
	t.Helper()
	for range 100 {
		applied, _, err := db.MigrationStatus(t.Context(), bdb)
		require.NoError(t, err)
		if len(applied) == 0 {
			return
		}
		group, err := db.Rollback(t.Context(), bdb)
		require.NoError(t, err, "rollback")
		require.NotEmpty(t, group, "a group was rolled back")
	}
	t.Fatal("migrations never rolled back completely")
}

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	bdb := testinfra.DB(t) // a fresh database, migrated up

	applied, pending, err := db.MigrationStatus(ctx, bdb)
	require.NoError(t, err)
	require.NotEmpty(t, applied)
	require.Empty(t, pending)
	requireSchema(t, bdb, true)
	requireOneDefaultOrg(t, bdb)

	for round := range 2 {
		rollbackAll(t, bdb)
		requireSchema(t, bdb, false)
		applied, pending, err = db.MigrationStatus(ctx, bdb)
		require.NoError(t, err)
		require.Empty(t, applied, "round %d", round)
		require.NotEmpty(t, pending, "round %d", round)

		require.NoError(t, db.Migrate(ctx, bdb), "round %d: migrate up again", round)
		requireSchema(t, bdb, true)
		requireOneDefaultOrg(t, bdb)
		applied, pending, err = db.MigrationStatus(ctx, bdb)
		require.NoError(t, err)
		require.NotEmpty(t, applied)
		require.Empty(t, pending)
	}

	// Migrating an up-to-date database changes nothing.
	require.NoError(t, db.Migrate(ctx, bdb))
	requireOneDefaultOrg(t, bdb)

	// The schema works after the round trip.
	f := &fixture{t: t, ctx: ctx, db: bdb, store: db.NewStore(bdb)}
	f.org, err = f.store.GetDefaultOrganization(ctx)
	require.NoError(t, err)
	f.user = f.insertUser("bob")
	f.file = f.insertFile(f.user.ID, []byte("x"))
	j := f.insertJob()
	require.Equal(t, db.JobPending, j.Status)
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := testinfra.DBURL(t)
	open := func() *bun.DB {
		bdb, err := db.Open(db.Options{URL: u, MaxConns: 3})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, bdb.Close()) })
		return bdb
	}
	bdb := open()
	rollbackAll(t, bdb)
	requireSchema(t, bdb, false)

	// Several servers starting at once, each with its own pool: the
	// advisory lock lets one migrate and the others find nothing to do.
	const n = 4
	pools := make([]*bun.DB, n)
	for i := range pools {
		pools[i] = open()
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = db.Migrate(ctx, pools[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "migrator %d", i)
	}
	requireSchema(t, bdb, true)
	requireOneDefaultOrg(t, bdb)
}
