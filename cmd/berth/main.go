// Command berth is the one binary of berth: the API server, the provisioner
// worker, migrations and a local development deployment.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/berth-dev/berth/logctx"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v2.30.0"

type cli struct {
	LogFormat string `help:"Log format: json or text." enum:"json,text" default:"json" env:"BERTH_LOG_FORMAT"`
	LogLevel  string `help:"Log level: debug, info, warn or error." enum:"debug,info,warn,error" default:"info" env:"BERTH_LOG_LEVEL"`

	Server  serverCmd  `cmd:"" help:"Run the API server."`
	Worker  workerCmd  `cmd:"" help:"Run a provisioner worker."`
	Migrate migrateCmd `cmd:"" help:"Manage database migrations."`
	Dev     devCmd     `cmd:"" help:"Run a complete local deployment: Temporal on Postgres (durable) with its Web UI, Postgres, API and one worker."`
	Version versionCmd `cmd:"" help:"Print the version."`
}

type globals struct {
	log *slog.Logger
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "berth:", err)
		os.Exit(1)
	}
}

func run() error {
	var c cli
	kctx := kong.Parse(&c, kong.Name("berth"), kong.Description("A Coder-compatible workspace control plane on Temporal."),
		kong.UsageOnError())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	setMemoryLimit(kctx.Command())
	g := &globals{log: newLogger(c.LogFormat, c.LogLevel)}
	kctx.BindTo(ctx, (*context.Context)(nil))
	return kctx.Run(g)
}

// Soft memory limits for the long-running processes, unless GOMEMLIMIT
// says otherwise. Their live heaps are small, and without a limit the heap
// of a busy server doubles its live size before each collection; the
// limit makes the collector and scavenger keep the Go memory near it.
// They are soft: a process that needs more still gets it.
var memoryLimits = map[string]int64{"server": 28 << 20, "worker": 20 << 20}

// gcPercents are the processes' GOGC, unless GOGC says otherwise: the
// server's heap grows by 60% of its live size between collections rather
// than 100%, 2 MiB less resident after a bench run for a few percent more
// of its CPU (the worker's limit already keeps its heap smaller).
var gcPercents = map[string]int{"server": 60}

func setMemoryLimit(command string) {
	name, _, _ := strings.Cut(command, " ")
	if limit, ok := memoryLimits[name]; ok && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
	if pct, ok := gcPercents[name]; ok && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(pct)
	}
}

func newLogger(format, level string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "text" {
		return slog.New(logctx.Handler(slog.NewTextHandler(os.Stderr, opts)))
	}
	return slog.New(logctx.Handler(slog.NewJSONHandler(os.Stderr, opts)))
}

type versionCmd struct{}

func (versionCmd) Run() error {
	fmt.Println(version)
	return nil
}
