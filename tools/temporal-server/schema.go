package main

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

// schemas are the embedded schema directories of the PostgreSQL plugin.
var schemas = map[bool]string{false: "postgresql/v12/temporal", true: "postgresql/v12/visibility"}

// adminDatabase is the database connected to for CREATE and DROP DATABASE.
const adminDatabase = "postgres"

// setupSchemas creates both databases if they are missing, then brings each
// schema to the newest version this build knows, as Temporal's auto-setup
// does (setup at 0.0, then every versioned update). It is idempotent.
func setupSchemas(o *options, logger log.Logger) error {
	for _, visibility := range []bool{false, true} {
		name := o.database
		if visibility {
			name = o.visibilityDB
		}
		if err := sqltool.DoCreateDatabase(o.store(name, 2), adminDatabase, logger); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		conn, err := sqltool.NewConnection(o.store(name, 2), logger)
		if err != nil {
			return fmt.Errorf("connect to database %s: %w", name, err)
		}
		err = setupSchema(conn, schemas[visibility], logger, func(current string) error {
			if !visibility {
				return nil
			}
			return restoreBeforeUpgrade(o, current, schemas[visibility])
		})
		conn.Close()
		if err != nil {
			return fmt.Errorf("schema of database %s: %w", name, err)
		}
	}
	return nil
}

// setupSchema sets up or upgrades one database; beforeUpdate is called
// with the version of an existing schema before it is upgraded.
func setupSchema(conn *sqltool.Connection, dir string, logger log.Logger, beforeUpdate func(current string) error) error {
	// Serialise concurrent set-ups of the same database.
	if err := conn.Exec("SELECT pg_advisory_lock(7233)"); err != nil {
		return err
	}
	defer func() { _ = conn.Exec("SELECT pg_advisory_unlock(7233)") }()
	if current, err := conn.ReadSchemaVersion(); err == nil {
		if err := beforeUpdate(current); err != nil {
			return err
		}
	} else {
		if !isMissingTable(err) {
			return fmt.Errorf("read schema version: %w", err)
		}
		task := schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, logger)
		if err := task.Run(); err != nil {
			return fmt.Errorf("set up: %w", err)
		}
	}
	task := schema.NewUpdateSchemaTask(conn, &schema.UpdateConfig{SchemaName: dir}, logger)
	if err := task.Run(); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}

// isMissingTable reports PostgreSQL's undefined_table (42P01).
func isMissingTable(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "42P01") || strings.Contains(err.Error(), "does not exist"))
}

// dropDatabases drops both databases.
func dropDatabases(o *options, logger log.Logger) error {
	var errs []error
	for _, name := range []string{o.database, o.visibilityDB} {
		if err := sqltool.DoDropDatabase(o.store(name, 2), adminDatabase, logger); err != nil {
			errs = append(errs, fmt.Errorf("drop database %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
