// Package db holds berth's Postgres models, migrations and the Store that
// every reader and writer goes through.
package db

import (
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"
)

// Now is the current time in UTC at the precision Postgres stores.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Options configures Open.
type Options struct {
	URL      string
	MaxConns int // default 10
}

// Open connects to Postgres with pgdriver and returns a bun DB. It does not
// ping.
func Open(opts Options) (*bun.DB, error) {
	if opts.URL == "" {
		return nil, fmt.Errorf("open database: no URL")
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	conn, err := newConnector(opts.URL)
	if err != nil {
		return nil, err
	}
	sqldb := sql.OpenDB(conn)
	sqldb.SetMaxOpenConns(opts.MaxConns)
	sqldb.SetMaxIdleConns(opts.MaxConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

// newConnector is pgdriver's connector for url. pgdriver panics on a URL
// it cannot parse; a mistyped URL is an operator's error to report, not a
// crash. The URL is not repeated: it may hold a password.
func newConnector(url string) (c *pgdriver.Connector, err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("open database: invalid Postgres URL (want postgres://user:password@host:port/database?sslmode=…)")
		}
	}()
	return pgdriver.NewConnector(pgdriver.WithDSN(url), sessionSettings), nil
}

// sessionSettings are the planner settings of berth's connections.
//
// plan_cache_mode: PostgreSQL plans each prepared statement once per
// connection. By default it plans the first five executions for their
// arguments and then keeps doing so whenever the generic plan's estimate
// looks worse, which for the views clients poll (a dozen joins, planned in
// 2-5 ms, run in 0.2 ms) meant planning on every poll. Only berth's
// prepared statements (Store.queryPrepared, written for lookups by key and
// pages of lists) are affected: bun sends everything else as text with its
// arguments inlined.
//
// random_page_cost: berth's tables are small and hot (jobs, builds,
// workspaces), read by key; with the default of 4, meant for spinning
// disks, the planner scanned a few-page table once per row of an outer
// loop (each workspace's latest build in the list: 6 ms instead of 1 ms
// for 200 workspaces) rather than probe its index. 1.1 is the usual value
// for SSDs and cached data.
func sessionSettings(c *pgdriver.Config) {
	params := make(map[string]any, len(c.ConnParams)+2)
	maps.Copy(params, c.ConnParams)
	params["plan_cache_mode"] = "force_generic_plan"
	params["random_page_cost"] = "1.1"
	c.ConnParams = params
}
