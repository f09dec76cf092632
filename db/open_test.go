package db_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

// TestOpenRefusesBadURL: a mistyped URL is an error that does not repeat
// the URL (it may hold a password), never a panic.
func TestOpenRefusesBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"x", "mysql://root:secret@localhost/db", "postgres://u:secret@%zz"} {
		_, err := db.Open(db.Options{URL: u})
		require.Error(t, err, u)
		require.NotContains(t, err.Error(), "secret")
	}
	bdb, err := db.Open(db.Options{URL: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"})
	require.NoError(t, err)
	require.NoError(t, bdb.Close())
}
