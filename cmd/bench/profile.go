package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// withPprof gives a process a pprof address when --profile is set.
func (d *deployment) withPprof(env []string, process string) []string {
	if d.cfg.ProfileDir == "" {
		return env
	}
	port, err := freePort()
	if err != nil {
		d.problems.add("pprof port for %s: %v", process, err)
		return env
	}
	d.mu.Lock()
	if d.pprof == nil {
		d.pprof = map[string]string{}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	d.pprof[process] = addr
	d.mu.Unlock()
	return append(env, "BERTH_PPROF_ADDRESS="+addr)
}

// profile records CPU profiles of every process with a pprof address for
// the given time, in the background, into --profile as <phase>-<process>.pprof.
// The returned function waits for them.
func (b *bench) profile(ctx context.Context, phase string, seconds int) (wait func()) {
	if b.dep == nil || b.cfg.ProfileDir == "" {
		return func() {}
	}
	b.dep.mu.Lock()
	targets := map[string]string{}
	for k, v := range b.dep.pprof {
		targets[k] = v
	}
	b.dep.mu.Unlock()
	var wg sync.WaitGroup
	for process, addr := range targets {
		wg.Go(func() {
			path := filepath.Join(b.cfg.ProfileDir, fmt.Sprintf("%s-%s.pprof", phase, process))
			if err := fetchProfile(ctx, addr, seconds, path); err != nil {
				b.problems.add("profile %s of %s: %v", phase, process, err)
			}
		})
	}
	return wg.Wait
}

func fetchProfile(ctx context.Context, addr string, seconds int, path string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds+30)*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
