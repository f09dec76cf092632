package main

import (
	"context"
	"errors"
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
	ln, err := net.Listen("tcp", f.PprofAddress)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("pprof listening", "address", ln.Addr().String())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
