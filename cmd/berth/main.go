// Command berth is the one binary of berth: the API server, the provisioner
// worker, migrations and a local development deployment.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "v2.30.0"

type cli struct {
	LogFormat string `help:"Log format: json or text." enum:"json,text" default:"json" env:"BERTH_LOG_FORMAT"`
	LogLevel  string `help:"Log level: debug, info, warn or error." enum:"debug,info,warn,error" default:"info" env:"BERTH_LOG_LEVEL"`

	Server  serverCmd  `cmd:"" help:"Run the API server."`
	Worker  workerCmd  `cmd:"" help:"Run a provisioner worker."`
	Migrate migrateCmd `cmd:"" help:"Manage database migrations."`
	Dev     devCmd     `cmd:"" help:"Run a complete local deployment: Temporal dev server, Postgres, API and one worker."`
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
	g := &globals{log: newLogger(c.LogFormat, c.LogLevel)}
	kctx.BindTo(ctx, (*context.Context)(nil))
	return kctx.Run(g)
}

func newLogger(format, level string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

type versionCmd struct{}

func (versionCmd) Run() error {
	fmt.Println(version)
	return nil
}
