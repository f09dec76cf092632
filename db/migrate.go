package db

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the advisory lock that serialises migrations across
// processes ("berth-migrate" in ASCII, folded to fit a bigint).
const migrationLockKey int64 = 0x62657274686d6967

// migrations loads the embedded SQL migrations.
func migrations() (*migrate.Migrations, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(migrationFiles); err != nil {
		return nil, fmt.Errorf("discover migrations: %w", err)
	}
	return ms, nil
}

// MigrationsHash identifies the embedded migrations' content; test
// databases cloned from a template are keyed by it.
func MigrationsHash() (string, error) {
	h := sha256.New()
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// withMigrator runs fn with a migrator while holding the migration advisory
// lock on a dedicated connection.
func withMigrator(ctx context.Context, bdb *bun.DB, fn func(*migrate.Migrator) error) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := bdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("get connection: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrationLockKey); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", migrationLockKey)
	}()
	m := migrate.NewMigrator(bdb, ms, migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("init migrations: %w", err)
	}
	return fn(m)
}

// Migrate applies every pending migration. It is safe to call from many
// processes at once.
func Migrate(ctx context.Context, bdb *bun.DB) error {
	return withMigrator(ctx, bdb, func(m *migrate.Migrator) error {
		if _, err := m.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	})
}

// Rollback undoes the last group of migrations.
func Rollback(ctx context.Context, bdb *bun.DB) (string, error) {
	var out string
	err := withMigrator(ctx, bdb, func(m *migrate.Migrator) error {
		g, err := m.Rollback(ctx)
		if err != nil {
			return fmt.Errorf("rollback: %w", err)
		}
		out = g.String()
		return nil
	})
	return out, err
}

// MigrationStatus describes applied and pending migrations.
func MigrationStatus(ctx context.Context, bdb *bun.DB) (applied, pending []string, err error) {
	err = withMigrator(ctx, bdb, func(m *migrate.Migrator) error {
		ms, err := m.MigrationsWithStatus(ctx)
		if err != nil {
			return fmt.Errorf("migration status: %w", err)
		}
		for _, x := range ms.Applied() {
			applied = append(applied, x.Name)
		}
		for _, x := range ms.Unapplied() {
			pending = append(pending, x.Name)
		}
		return nil
	})
	return applied, pending, err
}
