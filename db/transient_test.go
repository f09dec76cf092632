package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/testinfra"
)

// TestTransient: errors of a database that is restarting or gone are
// transient, errors of the statement itself are not.
func TestTransient(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg := testinfra.StartPostgresCluster(t)
	bdb, err := db.Open(db.Options{URL: pg.URL("postgres"), MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { bdb.Close() })
	var one int
	require.NoError(t, bdb.NewRaw("SELECT 1").Scan(ctx, &one), "a connection to lose")

	_, err = bdb.ExecContext(ctx, "SELECT * FROM no_such_table")
	require.Error(t, err)
	require.False(t, db.Transient(err), "a statement error: %v", err)
	_, err = bdb.ExecContext(ctx, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (1)")
	require.Error(t, err)
	require.False(t, db.Transient(err), "a constraint violation: %v", err)
	require.False(t, db.Transient(nil))
	require.False(t, db.Transient(context.Canceled))
	require.False(t, db.Transient(errors.New("provisioner failed")))

	require.NoError(t, pg.Stop("fast"))
	// The pooled connection was closed by the server, and a new one is
	// refused.
	for range 3 {
		err = bdb.NewRaw("SELECT 1").Scan(ctx, &one)
		require.Error(t, err)
		require.True(t, db.Transient(err), "the server is down: %v (%T)", err, err)
	}
	require.NoError(t, pg.Start())
	require.NoError(t, bdb.NewRaw("SELECT 1").Scan(ctx, &one), "the pool recovers")
}
