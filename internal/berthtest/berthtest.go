// Package berthtest runs a whole berth deployment inside a test: the real
// gin API on an httptest server, a fresh migrated database, the shared
// Temporal dev server and an in-process worker. Tests talk to it over HTTP
// with the api/sdk client, as the coder CLI does.
package berthtest

import (
	"archive/tar"
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/dispatch"
	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/db/pubsub"
	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/jobs"
	"github.com/berth-dev/berth/lifecycle"
	"github.com/berth-dev/berth/logctx"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/echo"
	"github.com/berth-dev/berth/worker"
	"github.com/berth-dev/berth/workflows"
)

// Options configures New.
type Options struct {
	// NoWorker starts no worker; call StartWorker to add one.
	NoWorker bool
	// DB reuses a database (for several API servers on one database).
	DB *bun.DB
	// QueuePrefix reuses a task-queue prefix (with DB).
	QueuePrefix string
	// MaxFileSize caps uploads (default: the API's).
	MaxFileSize int64
	// Provisioners are what workers run (default: echo only).
	Provisioners map[string]provisioner.Provisioner
	// AutobuildInterval, if set, runs the lifecycle executor (autostart,
	// autostop) at this interval.
	AutobuildInterval time.Duration
	// HTTPServer adjusts the HTTP server (which has the production
	// timeouts) before it starts.
	HTTPServer func(*http.Server)
	// TemporalInterceptors wrap the deployment's Temporal client (its
	// dispatcher and workers), e.g. a tracing interceptor.
	TemporalInterceptors []interceptor.ClientInterceptor
	// API overrides API options (the deployment fills in its store, pubsub,
	// dispatcher, jobs, log, shutdown context and file size cap).
	API api.Options
}

// Deployment is a running in-process berth.
type Deployment struct {
	t   testing.TB
	URL *url.URL
	// API is the deployment's API (its Handler lists the routes).
	API        *api.API
	DB         *bun.DB
	Store      *db.Store
	PubSub     *pubsub.PubSub
	Temporal   client.Client
	Queues     workflows.Queues
	Dispatcher *dispatch.Dispatcher
	Reconciler *dispatch.Reconciler
	Log        *slog.Logger

	provisioners map[string]provisioner.Provisioner
}

// Logger writes a test's logs to its output.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(logctx.Handler(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// New starts a deployment that lives until the test ends.
func New(t testing.TB, opts Options) *Deployment {
	t.Helper()
	bdb := opts.DB
	if bdb == nil {
		bdb = testinfra.DB(t)
	}
	tc, _ := testinfra.Temporal(t)
	if len(opts.TemporalInterceptors) > 0 {
		wrapped, err := client.NewClientFromExisting(tc, client.Options{Namespace: "default", Interceptors: opts.TemporalInterceptors, Logger: tlog.NewStructuredLogger(Logger(t))})
		require.NoError(t, err)
		tc = wrapped
	}
	prefix := opts.QueuePrefix
	if prefix == "" {
		prefix = testinfra.TaskQueuePrefix(t)
	}
	log := Logger(t)
	store := db.NewStore(bdb)
	queues := workflows.Queues{Prefix: prefix}
	disp := dispatch.New(tc, store, queues, log)
	rec := dispatch.NewReconciler(disp, store, quartz.NewReal(), log)
	rec.Grace = 0

	ctx, cancel := context.WithCancel(context.Background())
	ps := pubsub.New(bdb, log)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = ps.Run(ctx)
	}()
	creator, err := jobs.New(jobs.Options{Store: store, Queues: queues, Log: log})
	require.NoError(t, err)
	apiOpts := opts.API
	apiOpts.Store, apiOpts.PubSub, apiOpts.Dispatcher, apiOpts.Jobs, apiOpts.Log, apiOpts.ShutdownCtx = store, ps, disp, creator, log, ctx
	if opts.MaxFileSize > 0 {
		apiOpts.MaxFileSize = opts.MaxFileSize
	}
	a, err := api.New(apiOpts)
	require.NoError(t, err)
	if opts.AutobuildInterval > 0 {
		exec, err := lifecycle.New(lifecycle.Options{Store: store, Jobs: creator, Log: log, Interval: opts.AutobuildInterval})
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = exec.Run(ctx)
		}()
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = httpapi.NewServer(a.Handler())
	if opts.HTTPServer != nil {
		opts.HTTPServer(srv.Config)
	}
	srv.Start()
	t.Cleanup(func() {
		cancel()
		srv.CloseClientConnections()
		srv.Close()
		wg.Wait()
	})
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	d := &Deployment{
		t: t, URL: u, API: a, DB: bdb, Store: store, PubSub: ps, Temporal: tc, Queues: queues,
		Dispatcher: disp, Reconciler: rec, Log: log, provisioners: opts.Provisioners,
	}
	if d.provisioners == nil {
		d.provisioners = map[string]provisioner.Provisioner{"echo": echo.New()}
	}
	if !opts.NoWorker {
		d.StartWorker(nil)
	}
	return d
}

// StartWorker runs an in-process worker with the deployment's provisioners and the
// given tags until the test ends (or stop is called). It returns once the
// worker polls its queues.
func (d *Deployment) StartWorker(tags map[string]string) (daemonID uuid.UUID, stop func()) {
	t := d.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan uuid.UUID, 1)
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Options{
			Temporal: d.Temporal, Store: d.Store, Queues: d.Queues, Tags: tags,
			Provisioners: d.provisioners,
			Name:         "test-worker", Log: d.Log, WorkDir: t.TempDir(), StopTimeout: 5 * time.Second,
			Ready: func(id uuid.UUID) { ready <- id },
		})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case id := <-ready:
		return id, stop
	case err := <-done:
		t.Fatalf("worker did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not start within 30s")
	}
	return uuid.Nil, stop
}

// Client returns an unauthenticated client.
func (d *Deployment) Client() *sdk.Client {
	return sdk.New(d.URL)
}

// OwnerPassword is the first user's password in every deployment.
const OwnerPassword = "Sup3r-Secret-Passw0rd!x"

// Owner is the first user, logged in.
type Owner struct {
	Client         *sdk.Client
	UserID         uuid.UUID
	OrganizationID uuid.UUID
}

// CreateFirstUser creates the owner and logs in.
func (d *Deployment) CreateFirstUser(ctx context.Context) Owner {
	t := d.t
	t.Helper()
	c := d.Client()
	first, err := c.CreateFirstUser(ctx, sdk.CreateFirstUserRequest{
		Email: "owner@example.com", Username: "owner", Password: OwnerPassword,
	})
	require.NoError(t, err)
	res, err := c.LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "owner@example.com", Password: OwnerPassword})
	require.NoError(t, err)
	c.SetSessionToken(res.SessionToken)
	return Owner{Client: c, UserID: first.UserID, OrganizationID: first.OrganizationID}
}

// UploadEcho uploads an echo.json template and returns the file ID.
func UploadEcho(ctx context.Context, t testing.TB, c *sdk.Client, spec string) uuid.UUID {
	t.Helper()
	data, err := echo.TarJSON(spec)
	require.NoError(t, err)
	res, err := c.Upload(ctx, sdk.ContentTypeTar, bytes.NewReader(data))
	require.NoError(t, err)
	return res.ID
}

// UploadDir uploads a directory as a tar archive and returns the file ID.
func UploadDir(ctx context.Context, t testing.TB, c *sdk.Client, dir string) uuid.UUID {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.AddFS(os.DirFS(dir)))
	require.NoError(t, tw.Close())
	res, err := c.Upload(ctx, sdk.ContentTypeTar, &buf)
	require.NoError(t, err)
	return res.ID
}

// WaitBuild polls a workspace build until its job is terminal.
func WaitBuild(t testing.TB, c *sdk.Client, id uuid.UUID) sdk.WorkspaceBuild {
	t.Helper()
	var b sdk.WorkspaceBuild
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var err error
		b, err = c.WorkspaceBuild(t.Context(), id)
		if assert.NoError(ct, err) {
			assert.False(ct, b.Job.Status.Active(), "build still %s", b.Job.Status)
		}
	}, 90*time.Second, 20*time.Millisecond)
	return b
}

// WaitJob polls a template version until its job is terminal.
func WaitJob(ctx context.Context, t testing.TB, c *sdk.Client, versionID uuid.UUID) sdk.TemplateVersion {
	t.Helper()
	var v sdk.TemplateVersion
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var err error
		v, err = c.TemplateVersion(ctx, versionID)
		if assert.NoError(ct, err) {
			assert.False(ct, v.Job.Status.Active(), "job still %s", v.Job.Status)
		}
	}, 60*time.Second, 20*time.Millisecond)
	return v
}
