package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/berth-dev/berth/workflows"
)

// Temporal modes of --temporal.
const (
	temporalMemory   = "memory"   // the CLI's dev server, in memory: fastest, loses everything on a crash
	temporalSQLite   = "sqlite"   // the CLI's dev server with a SQLite file
	temporalPostgres = "postgres" // bin/temporal-server on PostgreSQL, as `make dev` runs it
)

// startTemporal starts the Temporal server of --temporal, with the task
// hand-off tuning of STYLE.md T11, on a free port.
func (d *deployment) startTemporal(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	d.temporalAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var (
		bin   string
		args  []string
		ready string
	)
	switch d.cfg.Temporal {
	case temporalMemory, temporalSQLite:
		bin = d.cfg.TemporalCLI
		args = []string{"server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
			"--log-level", "warn", "--namespace", "default"}
		if d.cfg.Temporal == temporalSQLite {
			dir, err := os.MkdirTemp("", "berth-bench-temporal-")
			if err != nil {
				return err
			}
			d.temporalDir = dir
			args = append(args, "--db-filename", filepath.Join(dir, "temporal.db"))
		}
	case temporalPostgres:
		bin = d.cfg.TemporalServer
		d.temporalDB = d.dbName + "_temporal"
		args = []string{"start", "--setup-schema", "--postgres-url", d.adminURL,
			"--database", d.temporalDB, "--visibility-database", d.temporalDB + "_visibility",
			"--port", strconv.Itoa(port), "--ui-port", "0", "--history-shards", strconv.Itoa(d.cfg.HistoryShards)}
		ready = "temporal-server: ready"
		if d.cfg.ProfileDir != "" {
			if pp, err := freePort(); err == nil {
				args = append(args, "--pprof-port", strconv.Itoa(pp))
				d.pprof = map[string]string{"temporal": net.JoinHostPort("localhost", strconv.Itoa(pp))}
			}
		}
	default:
		return fmt.Errorf("--temporal %q: want memory, sqlite or postgres", d.cfg.Temporal)
	}
	args = append(append(args, workflows.SearchAttributeFlags()...), workflows.DevServerFlags()...)
	logf("starting temporal (%s) on %s", d.cfg.Temporal, d.temporalAddr)
	if d.temporal, err = startProc("temporal", bin, args, nil, ready, d.problems); err != nil {
		return err
	}
	if err := waitTCP(ctx, d.temporalAddr, d.temporal, 60*time.Second); err != nil {
		return fmt.Errorf("temporal: %w\n%s", err, d.temporal.out.tail())
	}
	select {
	case <-d.temporal.out.ready:
	case <-d.temporal.done:
		return fmt.Errorf("temporal exited during start:\n%s", d.temporal.out.tail())
	case <-time.After(60 * time.Second):
		return fmt.Errorf("temporal not ready within 60s:\n%s", d.temporal.out.tail())
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// dropTemporal removes what startTemporal left on disk or in Postgres; the
// server must have stopped.
func (d *deployment) dropTemporal() {
	if d.temporalDir != "" {
		_ = os.RemoveAll(d.temporalDir)
	}
	if d.temporalDB != "" {
		for _, name := range []string{d.temporalDB, d.temporalDB + "_visibility"} {
			d.dropNamedDatabase(name)
		}
	}
}
