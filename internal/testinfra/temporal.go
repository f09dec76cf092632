package testinfra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/workflows"
)

// temporalNamespace is the namespace tests use.
const temporalNamespace = "default"

// devServerStartTimeout bounds how long a dev server may take to answer.
const devServerStartTimeout = time.Minute

var (
	temporalOnce sync.Once
	tmp          temporalChoice
	logsOnce     sync.Once
)

type temporalChoice struct {
	client client.Client        // shared connection; nil when no Temporal is available
	addr   string               // host:port of the frontend
	source string               // where it came from
	why    reasons              // why earlier steps were passed over
	srv    *testsuite.DevServer // the dev server, if this binary started one
	logs   *syncBuffer          // the dev server's output
}

// Temporal returns a client for the "default" namespace of the Temporal
// server the tests share, and that server's host:port (for processes that
// dial it themselves). The server is the first that works of:
//
//  1. TEMPORAL_ADDRESS: dialled, then the search attributes in
//     workflows.SearchAttributes are registered on it if missing;
//  2. a dev server started once per test binary, lazily, from TemporalCLI()
//     (never downloaded), with the search attributes and
//     workflows.DevServerFlags; Main stops it.
//
// With neither, Unavailable is called. All clients share one connection; the
// one returned logs to t.Output() and is closed when the test ends. Isolate
// tests with TaskQueuePrefix, never by restarting the server.
func Temporal(t testing.TB) (client.Client, string) {
	t.Helper()
	first := false
	temporalOnce.Do(func() {
		first = true
		tmp = chooseTemporal()
	})
	if tmp.client == nil {
		t.Logf("no Temporal:%s", tmp.why)
		logsOnce.Do(func() {
			if tmp.logs != nil && tmp.logs.String() != "" {
				t.Logf("dev server output:\n%s", tmp.logs)
			}
		})
		Unavailable(t, "Temporal")
	}
	if first {
		t.Logf("testinfra: Temporal at %s from %s%s", tmp.addr, tmp.source, tmp.why)
	}
	logger := testLogger(t) // before the Close cleanup, so it is detached after it
	c, err := client.NewClientFromExisting(tmp.client, client.Options{Namespace: temporalNamespace, Logger: logger})
	require.NoError(t, err, "Temporal client")
	t.Cleanup(c.Close)
	return c, tmp.addr
}

// TemporalCLI returns the Temporal CLI the tests would start a dev server
// from — $TEMPORAL_CLI, <repo root>/bin/temporal or temporal on PATH, the
// first that is an executable file — or "" if there is none. End-to-end tests
// use it to start their own server (say with --db-filename, to restart it).
func TemporalCLI() string {
	path, _ := findTemporalCLI()
	return path
}

func findTemporalCLI() (string, reasons) {
	var why reasons
	if p := os.Getenv("TEMPORAL_CLI"); p != "" {
		if isExecutable(p) {
			return p, why
		}
		why.add("TEMPORAL_CLI=%s is not an executable file", p)
	}
	if root := repoRoot(); root != "" {
		p := filepath.Join(root, "bin", "temporal")
		if isExecutable(p) {
			return p, why
		}
		why.add("%s: not found", p)
	}
	if p := lookPath("temporal"); p != "" {
		return p, why
	}
	why.add("temporal: not on PATH")
	return "", why
}

// repoRoot walks up from the working directory to the directory holding
// go.mod.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// chooseTemporal runs the cascade documented on Temporal.
func chooseTemporal() temporalChoice {
	var c temporalChoice
	if addr := os.Getenv("TEMPORAL_ADDRESS"); addr != "" {
		cl, err := dialExisting(addr)
		if err == nil {
			c.client, c.addr, c.source = cl, addr, "TEMPORAL_ADDRESS"
			return c
		}
		c.why.add("TEMPORAL_ADDRESS=%s: %v", addr, err)
	}
	cli, why := findTemporalCLI()
	c.why = append(c.why, why...)
	if cli == "" {
		return c
	}
	c.logs = &syncBuffer{}
	srv, err := startDevServer(cli, c.logs)
	if err != nil {
		c.why.add("dev server from %s: %v", cli, err)
		return c
	}
	c.client, c.addr, c.source, c.srv = srv.Client(), srv.FrontendHostPort(), "a dev server from "+cli, srv
	return c
}

func dialExisting(addr string) (client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.DialContext(ctx, client.Options{
		HostPort:  addr,
		Namespace: temporalNamespace,
		Logger:    quietLogger(os.Stderr),
	})
	if err != nil {
		return nil, err
	}
	if err := ensureSearchAttributes(ctx, cl); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

func startDevServer(cli string, logs *syncBuffer) (*testsuite.DevServer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), devServerStartTimeout)
	defer cancel()
	// StartDevServer would wait out its timeout for a CLI that exits at once.
	if out, err := exec.CommandContext(ctx, cli, "--version").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s --version: %w\n%s", cli, err, out)
	}
	// If the server never answers, StartDevServer gives up but cannot hand
	// back the process to kill; a CLI that exits at once leaves nothing.
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: cli,
		LogLevel:     "error",
		ClientOptions: &client.Options{
			Namespace: temporalNamespace,
			Logger:    quietLogger(logs),
		},
		ExtraArgs: append(append(workflows.SearchAttributeFlags(), workflows.DevServerFlags()...),
			"--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=true"),
		Stdout: logs,
		Stderr: logs,
	})
	if err != nil {
		return nil, err
	}
	// The flags registered them; this checks they took.
	if err := ensureSearchAttributes(ctx, srv.Client()); err != nil {
		srv.Client().Close()
		_ = srv.Stop()
		return nil, err
	}
	return srv, nil
}

// ensureSearchAttributes registers whichever of workflows.SearchAttributes
// the namespace lacks. One that exists with another type is an error.
func ensureSearchAttributes(ctx context.Context, cl client.Client) error {
	ops := cl.OperatorService()
	resp, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: temporalNamespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enums.IndexedValueType{}
	for name, typ := range workflows.SearchAttributes() {
		got, ok := resp.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = typ
		case got != typ:
			return fmt.Errorf("search attribute %s is %s, want %s", name, got, typ)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        temporalNamespace,
		SearchAttributes: missing,
	})
	if _, exists := errors.AsType[*serviceerror.AlreadyExists](err); err != nil && !exists {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}

// dumpTemporalLogs prints the dev server's output, if any.
func dumpTemporalLogs(w io.Writer) {
	if tmp.logs == nil {
		return
	}
	if s := tmp.logs.String(); s != "" {
		fmt.Fprintf(w, "testinfra: Temporal dev server output:\n%s\n", s)
	}
}

func stopTemporal() {
	if tmp.client == nil {
		return
	}
	tmp.client.Close()
	if tmp.srv == nil {
		return
	}
	if err := tmp.srv.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testinfra: stop Temporal dev server: %v\n", err)
		dumpTemporalLogs(os.Stderr)
	}
}
