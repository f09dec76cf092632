package db_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/testinfra"
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

// TestSessionSettings: berth's connections plan prepared statements once
// and price index probes for cached data, and keep the URL's own settings.
func TestSessionSettings(t *testing.T) {
	t.Parallel()
	bdb := testinfra.DB(t)
	for setting, want := range map[string]string{
		"plan_cache_mode":  "force_generic_plan",
		"random_page_cost": "1.1",
		"timezone":         "Asia/Kolkata", // from testinfra's URL
	} {
		var got string
		require.NoError(t, bdb.NewRaw("SELECT current_setting(?)", setting).Scan(t.Context(), &got))
		require.Equal(t, want, got, setting)
	}
}
