package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// ConflictError is returned when a write violates a unique constraint.
type ConflictError struct {
	Constraint string
}

func (e *ConflictError) Error() string { return "unique violation: " + e.Constraint }

// Store is the only way berth reads and writes Postgres.
type Store struct {
	db   bun.IDB
	prep *preparer
}

// NewStore wraps a bun database.
func NewStore(db *bun.DB) *Store { return &Store{db: db, prep: newPreparer(db)} }

// DB returns the underlying handle.
func (s *Store) DB() bun.IDB { return s.db }

// InTx runs fn in a transaction. fn's Store writes through the transaction.
func (s *Store) InTx(ctx context.Context, fn func(*Store) error) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return fn(&Store{db: tx, prep: s.prep})
	})
}

// execAll sends writes that return nothing as one string of statements:
// one round trip, and atomic even outside a transaction (PostgreSQL runs
// a string of statements as one). Nil queries are skipped.
func (s *Store) execAll(ctx context.Context, action string, qs ...bun.Query) error {
	var b []byte
	for _, q := range qs {
		if q == nil {
			continue
		}
		var err error
		if b, err = q.AppendQuery(s.prep.db.QueryGen(), b); err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
		b = append(b, ";\n"...)
	}
	if len(b) == 0 {
		return nil
	}
	_, err := s.db.ExecContext(ctx, string(b))
	return wrap(action, err)
}

// mapErr turns driver errors into the package's sentinels and types.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) && pgErr.Field('C') == "23505" {
		return &ConflictError{Constraint: pgErr.Field('n')}
	}
	return err
}

// wrap maps and annotates an error with the action that failed.
func wrap(action string, err error) error {
	err = mapErr(err)
	if err == nil || errors.Is(err, ErrNotFound) {
		return err
	}
	var ce *ConflictError
	if errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("%s: %w", action, err)
}
