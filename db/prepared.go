package db

import (
	"context"
	"database/sql"
	"reflect"
	"sync"

	"github.com/uptrace/bun"
)

// preparer holds server-side prepared statements for the hottest queries
// (what clients poll every few milliseconds, the session check of every
// request, a job's claim and completion). bun sends its queries as text
// with their arguments inlined, so PostgreSQL plans each one anew, and a
// query joining a few tables costs more to plan than to run; a prepared
// statement is planned once per connection. database/sql prepares it on
// each connection of the pool as it is first used there.
type preparer struct {
	db        *bun.DB
	mu        sync.Mutex
	stmts     map[string]*sql.Stmt
	preparing map[string]bool    // background preparations under way
	cols      map[colsKey]string // select lists of views (Store.columns)
	max       int                // statements kept at most (maxPrepared)
}

// maxPrepared bounds the statements a preparer keeps: the fixed queries
// are a few dozen, but list queries are prepared per set of filters, which
// users choose; past the bound, new queries run unprepared.
const maxPrepared = 256

func newPreparer(db *bun.DB) *preparer {
	return &preparer{db: db, stmts: map[string]*sql.Stmt{}, preparing: map[string]bool{}, cols: map[colsKey]string{}, max: maxPrepared}
}

// stmt returns the statement of a query, preparing it on first use. In a
// transaction (inTx) it never waits for a preparation: that needs a
// connection of the pool, which transactions waiting for it may all hold.
// It returns nil then, and prepares the statement in the background for
// later calls.
func (p *preparer) stmt(ctx context.Context, query string, inTx bool) (*sql.Stmt, error) {
	p.mu.Lock()
	st, ok := p.stmts[query]
	full := !ok && len(p.stmts)+len(p.preparing) >= p.max
	background := inTx && !ok && !full && !p.preparing[query]
	if background {
		p.preparing[query] = true
	}
	p.mu.Unlock()
	switch {
	case ok:
		return st, nil
	case full:
		return nil, nil
	case inTx:
		if background {
			go func() {
				_, _ = p.prepare(context.Background(), query)
				p.mu.Lock()
				delete(p.preparing, query)
				p.mu.Unlock()
			}()
		}
		return nil, nil
	}
	return p.prepare(ctx, query)
}

// prepare prepares a query and keeps its statement, unless another
// goroutine did first, or the preparer is full (nil: run unprepared).
func (p *preparer) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := p.db.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	prev, ok := p.stmts[query]
	keep := !ok && len(p.stmts) < p.max
	if keep {
		p.stmts[query] = st
	}
	p.mu.Unlock()
	if keep {
		return st, nil
	}
	// Closing may wait for a connection's lock: never under p.mu, which
	// transactions holding connections may be waiting for.
	_ = st.Close()
	return prev, nil // nil when full meanwhile: the query runs unprepared
}

// prepared returns the statement of a query (in the Store's transaction if
// it is one), or nil when the query is to run unprepared this time.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	tx, inTx := s.db.(bun.Tx)
	st, err := s.prep.stmt(ctx, query, inTx)
	if err != nil || st == nil {
		return nil, err
	}
	if inTx {
		st = tx.StmtContext(ctx, st)
	}
	return st, nil
}

// execPrepared runs a statement written with $1, $2… placeholders as a
// prepared statement.
func (s *Store) execPrepared(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.sqlConn().ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// queryPrepared runs a query written with $1, $2… placeholders as a
// prepared statement and scans its rows into dest, as bun's Scan does: a
// struct takes the first row (sql.ErrNoRows when there is none), a slice
// every row.
func (s *Store) queryPrepared(ctx context.Context, dest any, query string, args ...any) error {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return err
	}
	var rows *sql.Rows
	if st == nil {
		rows, err = s.sqlConn().QueryContext(ctx, query, args...)
	} else {
		rows, err = st.QueryContext(ctx, args...)
	}
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

// sqlConn is the Store's database or transaction below bun, whose
// formatter would not fill $n placeholders (pgdriver sends their arguments
// inline, as bun does).
func (s *Store) sqlConn() interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
} {
	if tx, ok := s.db.(bun.Tx); ok {
		return tx.Tx
	}
	return s.prep.db.DB
}
