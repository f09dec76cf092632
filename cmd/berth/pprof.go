package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofFlags expose Go's profiler, as Coder's --pprof-address does. It is
// off unless an address is given: profiles reveal memory contents.
type pprofFlags struct {
	PprofAddress string `help:"Serve Go's pprof profiles at http://<address>/debug/pprof/ (off when empty; keep it on a private address)." env:"BERTH_PPROF_ADDRESS"`
}

// servePprof serves the profiles until ctx ends.
func (f pprofFlags) servePprof(ctx context.Context, log *slog.Logger) error {
	if f.PprofAddress == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return servePrivate(ctx, log, "pprof", f.PprofAddress, "/debug/pprof/", mux)
}

// servePrivate serves mux on address (an operator's endpoint: metrics,
// health, profiles) until ctx ends; what names it in errors and logs, and
// path is the page the log line points to.
func servePrivate(ctx context.Context, log *slog.Logger, what, address, path string, mux http.Handler) error {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("listen for %s: %w", what, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info(what+" listening", "address", ln.Addr().String(), "url", "http://"+ln.Addr().String()+path)
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
