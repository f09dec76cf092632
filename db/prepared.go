package db

import (
	"context"
	"database/sql"
	"reflect"
	"sync"

	"github.com/uptrace/bun"
)

// preparer holds server-side prepared statements for the hottest queries
// (what clients poll every few milliseconds, and the session check of
// every request). bun sends its queries as text with their arguments
// inlined, so PostgreSQL plans each one anew, and a query joining a few
// tables costs more to plan than to run; a prepared statement is planned
// once per connection. database/sql prepares it on each connection of the
// pool as it is first used there.
type preparer struct {
	db    *bun.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	cols  map[reflect.Type]string // select lists of views (Store.columns)
}

func newPreparer(db *bun.DB) *preparer {
	return &preparer{db: db, stmts: map[string]*sql.Stmt{}, cols: map[reflect.Type]string{}}
}

func (p *preparer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.stmts[query]; ok {
		return st, nil
	}
	st, err := p.db.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.stmts[query] = st
	return st, nil
}

// queryPrepared runs a query written with $1, $2… placeholders as a
// prepared statement and scans its rows into dest, as bun's Scan does: a
// struct takes the first row (sql.ErrNoRows when there is none), a slice
// every row.
func (s *Store) queryPrepared(ctx context.Context, dest any, query string, args ...any) error {
	st, err := s.prep.stmt(ctx, query)
	if err != nil {
		return err
	}
	if tx, ok := s.db.(bun.Tx); ok {
		st = tx.StmtContext(ctx, st)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if reflect.TypeOf(dest).Elem().Kind() == reflect.Slice {
		return s.prep.db.ScanRows(ctx, rows, dest)
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := s.prep.db.ScanRow(ctx, rows, dest); err != nil {
		return err
	}
	return rows.Close()
}
