package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat CPU times (100 on
// every Linux the bench runs on).
const clockTicks = 100

// cpuSnapshot is the CPU time used so far, in milliseconds, by each part
// of the deployment.
type cpuSnapshot map[string]float64

// Parts of a cpuSnapshot besides the berth processes.
const (
	cpuTemporal         = "temporal"
	cpuPostgresBerth    = "pg berth"    // backends of berth's database
	cpuPostgresTemporal = "pg temporal" // backends of Temporal's databases
	cpuPostgresShared   = "pg shared"   // the server's WAL writer, checkpointer, …
	cpuBench            = "bench"       // this process: the clients
)

// cpu reads the CPU time of the server, the workers, Temporal, the
// PostgreSQL processes serving the bench's databases, and the bench.
func (d *deployment) cpu() cpuSnapshot {
	s := cpuSnapshot{}
	add := func(part string, pid int) {
		if ms, err := procCPU(pid); err == nil {
			s[part] += ms
		}
	}
	d.mu.Lock()
	workers := append([]*proc(nil), d.workers...)
	d.mu.Unlock()
	add("server", d.server.cmd.Process.Pid)
	for _, w := range workers {
		add("workers", w.cmd.Process.Pid)
	}
	add(cpuTemporal, d.temporal.cmd.Process.Pid)
	dbs := map[string]string{d.dbName: cpuPostgresBerth}
	if d.temporalDB != "" {
		dbs[d.temporalDB] = cpuPostgresTemporal
		dbs[d.temporalDB+"_visibility"] = cpuPostgresTemporal
	}
	for pid, part := range postgresPIDs(dbs) {
		add(part, pid)
	}
	d.pgStats(s)
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s[cpuBench] = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
	}
	return s
}

// sub returns the CPU used between an earlier snapshot and s.
func (s cpuSnapshot) sub(before cpuSnapshot) cpuSnapshot {
	out := cpuSnapshot{}
	for k, v := range s {
		out[k] = v - before[k]
	}
	return out
}

// perJob divides by n jobs.
func (s cpuSnapshot) perJob(n int) cpuSnapshot {
	out := cpuSnapshot{}
	if n == 0 {
		return out
	}
	for k, v := range s {
		out[k] = v / float64(n)
	}
	return out
}

// procCPU returns a process's user plus system time in milliseconds.
func procCPU(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// counted from its closing parenthesis.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return (utime + stime) * 1000 / clockTicks, nil
}

// postgresPIDs maps the PostgreSQL backends connected to one of dbs to that
// database's part, and the server's shared background processes (WAL
// writer, checkpointer, …), whose work the bench's commits cause when
// nothing else runs, to cpuPostgresShared.
func postgresPIDs(dbs map[string]string) map[int]string {
	matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	pids := map[int]string{}
	for _, m := range matches {
		raw, err := os.ReadFile(m)
		if err != nil || !strings.HasPrefix(string(raw), "postgres: ") {
			continue
		}
		title := strings.TrimRight(string(raw), "\x00 ")
		part := ""
		for _, name := range []string{"walwriter", "background writer", "checkpointer", "walsender", "logical replication"} {
			if strings.Contains(title, ": "+name) {
				part = cpuPostgresShared
			}
		}
		// Backends are titled "postgres: [cluster: ]user database host(port) state".
		for db, p := range dbs {
			if strings.Contains(title, " "+db+" ") {
				part = p
			}
		}
		if part == "" {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(m))); err == nil {
			pids[pid] = part
		}
	}
	return pids
}

// Database activity counters in a cpuSnapshot (they are not CPU, but are
// taken and divided per job alike): transactions per database, and the
// server-wide WAL flushes (fsyncs) and bytes.
const (
	txBerth      = "tx berth"
	txTemporal   = "tx temporal"
	txVisibility = "tx visibility"
	walSyncs     = "wal syncs"
	walKiB       = "wal KiB"
)

// pgStats adds the database counters to s.
func (d *deployment) pgStats(s cpuSnapshot) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	names := map[string]string{d.dbName: txBerth}
	if d.temporalDB != "" {
		names[d.temporalDB] = txTemporal
		names[d.temporalDB+"_visibility"] = txVisibility
	}
	var rows []struct {
		Name    string `bun:"datname"`
		Commits int64  `bun:"xact_commit"`
	}
	if err := d.db.NewRaw("SELECT datname, xact_commit FROM pg_stat_database").Scan(ctx, &rows); err == nil {
		for _, r := range rows {
			if k, ok := names[r.Name]; ok {
				s[k] = float64(r.Commits)
			}
		}
	}
	var wal struct {
		Syncs int64 `bun:"wal_sync"`
		Bytes int64 `bun:"wal_bytes"`
	}
	if err := d.db.NewRaw("SELECT wal_sync, wal_bytes::bigint FROM pg_stat_wal").Scan(ctx, &wal); err == nil {
		s[walSyncs] = float64(wal.Syncs)
		s[walKiB] = float64(wal.Bytes) / 1024
	}
}
