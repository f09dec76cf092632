// Package db holds berth's Postgres models, migrations and the Store that
// every reader and writer goes through.
package db

import (
	"database/sql"
	"errors"
	"fmt"
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
	return pgdriver.NewConnector(pgdriver.WithDSN(url)), nil
}
