package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/db"
)

type migrateCmd struct {
	Up     migrateUpCmd     `cmd:"" default:"1" help:"Apply all pending migrations."`
	Down   migrateDownCmd   `cmd:"" help:"Roll back the last group of migrations."`
	Status migrateStatusCmd `cmd:"" help:"List applied and pending migrations."`
	Create migrateCreateCmd `cmd:"" help:"Create a new pair of SQL migration files in db/migrations."`
}

type migrateUpCmd struct{ dbFlags }

func (m *migrateUpCmd) Run(ctx context.Context, g *globals) error {
	bdb, err := m.open(ctx)
	if err != nil {
		return err
	}
	defer bdb.Close()
	if err := db.Migrate(ctx, bdb); err != nil {
		return err
	}
	g.log.Info("migrations applied")
	return nil
}

type migrateDownCmd struct{ dbFlags }

func (m *migrateDownCmd) Run(ctx context.Context, g *globals) error {
	bdb, err := m.open(ctx)
	if err != nil {
		return err
	}
	defer bdb.Close()
	group, err := db.Rollback(ctx, bdb)
	if err != nil {
		return err
	}
	fmt.Println("rolled back", group)
	return nil
}

type migrateStatusCmd struct{ dbFlags }

func (m *migrateStatusCmd) Run(ctx context.Context) error {
	bdb, err := m.open(ctx)
	if err != nil {
		return err
	}
	defer bdb.Close()
	applied, pending, err := db.MigrationStatus(ctx, bdb)
	if err != nil {
		return err
	}
	for _, n := range applied {
		fmt.Println("applied ", n)
	}
	for _, n := range pending {
		fmt.Println("pending ", n)
	}
	return nil
}

type migrateCreateCmd struct {
	Name string `arg:"" help:"Short snake_case description."`
	Dir  string `help:"Migrations directory." default:"db/migrations"`
}

func (m *migrateCreateCmd) Run() error {
	name := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(m.Name), " ", "_"))
	base := time.Now().UTC().Format("20060102150405") + "_" + name
	for _, suffix := range []string{".tx.up.sql", ".tx.down.sql"} {
		p := filepath.Join(m.Dir, base+suffix)
		if err := os.WriteFile(p, []byte("-- "+base+suffix+"\n"), 0o644); err != nil {
			return err
		}
		fmt.Println("created", p)
	}
	return nil
}
