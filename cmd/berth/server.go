package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/coder/quartz"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/activities"
	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/dispatch"
	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/db/pubsub"
	"github.com/berth-dev/berth/jobs"
	"github.com/berth-dev/berth/lifecycle"
	"github.com/berth-dev/berth/metrics"
	"github.com/berth-dev/berth/schedule"
	"github.com/berth-dev/berth/worker"
	"github.com/berth-dev/berth/workflows"
)

type serverCmd struct {
	dbFlags
	temporalFlags
	Address                    string        `help:"Address to listen on." default:"127.0.0.1:3000" env:"BERTH_ADDRESS"`
	AccessURL                  string        `help:"URL clients use to reach this server (default: http://<address>)." env:"BERTH_ACCESS_URL"`
	MaxFileSize                int64         `help:"Largest accepted upload in bytes." default:"104857600" env:"BERTH_MAX_FILE_SIZE"`
	ReapPendingAfter           time.Duration `help:"Fail jobs no provisioner picked up after this long." default:"30m" env:"BERTH_REAP_PENDING_AFTER"`
	ReapHungAfter              time.Duration `help:"Fail started jobs whose worker went silent for this long." default:"5m" env:"BERTH_REAP_HUNG_AFTER"`
	ReapLostAfter              time.Duration `help:"End a running build that used up its resumptions (failed) or a canceled job (canceled) whose worker went silent for this long: no other worker runs them." default:"15s" env:"BERTH_REAP_LOST_AFTER"`
	BuildResumptions           int           `help:"How often a build whose worker was lost resumes on another worker (as given to workers): the reaper leaves lost builds with resumptions left alone." default:"2" env:"BERTH_BUILD_RESUMPTIONS"`
	RunWorkflows               bool          `help:"Also run the job workflows that releases before workers dispatched their own jobs left in flight (ProvisionerJobV1, never activities)." default:"true" negatable:"" env:"BERTH_RUN_WORKFLOWS"`
	AutobuildInterval          time.Duration `help:"How often the lifecycle executor runs: autostart, autostop, failure TTL, dormancy, autodelete (0 disables it on this server)." default:"15s" env:"BERTH_AUTOBUILD_INTERVAL"`
	DefaultQuietHours          string        `help:"Quiet hours (a daily cron spec) of users who set none: templates with an autostop requirement stop workspaces then." default:"CRON_TZ=UTC 0 0 * * *" env:"BERTH_DEFAULT_QUIET_HOURS_SCHEDULE" name:"default-quiet-hours-schedule"`
	AllowWorkspaceRenames      bool          `help:"Let users rename workspaces (off by default, as in Coder)." env:"BERTH_ALLOW_WORKSPACE_RENAMES"`
	MaxTokenLifetime           time.Duration `help:"Longest lifetime of a token a user creates." default:"876600h" env:"BERTH_MAX_TOKEN_LIFETIME"`
	MaxAdminTokenLifetime      time.Duration `help:"Longest lifetime of a token a site owner creates." default:"168h" env:"BERTH_MAX_ADMIN_TOKEN_LIFETIME"`
	DefaultTokenLifetime       time.Duration `help:"Lifetime of a token created without one." default:"168h" env:"BERTH_DEFAULT_TOKEN_LIFETIME"`
	APIRateLimit               int64         `help:"Requests a minute each user (before signing in: each IP) may make to the API, as Coder's --api-rate-limit." default:"512" env:"BERTH_API_RATE_LIMIT"`
	LoginRateLimit             int64         `help:"Password logins and first-user requests a minute from each IP." default:"60" env:"BERTH_LOGIN_RATE_LIMIT"`
	FilesRateLimit             int64         `help:"Uploads a minute from each user." default:"12" env:"BERTH_FILES_RATE_LIMIT"`
	DangerousDisableRateLimits bool          `help:"Turn every rate limit off (benchmarks, load tests)." env:"BERTH_DANGEROUS_DISABLE_RATE_LIMITS"`
	MaxStreamsPerUser          int           `help:"Workspace watches and log follows one user may hold open on this server." default:"64" env:"BERTH_MAX_STREAMS_PER_USER"`
	MaxStreams                 int           `help:"Workspace watches and log follows this server holds open in all." default:"4096" env:"BERTH_MAX_STREAMS"`
	FileRetention              time.Duration `help:"Delete uploads no template version uses after this long (0 keeps them)." default:"24h" env:"BERTH_UNREFERENCED_FILE_RETENTION" name:"unreferenced-file-retention"`
	pprofFlags
	prometheusFlags
}

func (s *serverCmd) Run(ctx context.Context, g *globals) error {
	log := g.log.With("component", "server")
	bdb, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer bdb.Close()
	if err := db.Migrate(ctx, bdb); err != nil {
		return err
	}
	obs, err := newObservability(ctx, "berth-server")
	if err != nil {
		return err
	}
	defer obs.close()
	tc, err := s.dial(ctx, log, obs)
	if err != nil {
		return err
	}
	defer tc.Close()
	if err := ensureSearchAttributes(ctx, tc, os.Getenv("TEMPORAL_NAMESPACE")); err != nil {
		return err
	}
	access := s.AccessURL
	if access == "" {
		access = "http://" + s.Address
	}
	accessURL, err := url.Parse(access)
	if err != nil {
		return fmt.Errorf("parse access url: %w", err)
	}

	store := db.NewStore(bdb)
	ps := pubsub.New(bdb, log)
	disp := dispatch.New(tc, store, workflows.Queues{Prefix: s.QueuePrefix}, log)
	rec := dispatch.NewReconciler(disp, store, quartz.NewReal(), log)
	reaper := dispatch.NewReaper(disp, store, quartz.NewReal(), log)
	reaper.PendingAfter, reaper.HungAfter, reaper.LostAfter = s.ReapPendingAfter, s.ReapHungAfter, s.ReapLostAfter
	reaper.BuildResumptions = max(s.BuildResumptions, 0)
	control := metrics.NewControl(obs.reg)
	rec.Metrics, reaper.Metrics = control, control
	metrics.Listener(obs.reg, ps.Reconnects, ps.Listening)
	metrics.DBStats(obs.reg, bdb.DB)
	metrics.NewDeployment(obs.reg, deploymentSnapshot(store), log)
	ready := readiness(bdb, tc, ps.Listening)
	// The server finishes ProvisionerJobV1 jobs itself (FinishJob is
	// database-only), so they can end even with no provisioner worker alive.
	serverID := uuid.New()
	acts, err := activities.New(activities.Options{Store: store, WorkerID: serverID, Log: log})
	if err != nil {
		return err
	}
	queues := workflows.Queues{Prefix: s.QueuePrefix}
	ctl := worker.NewControlWorker(tc, queues, acts, "server-"+serverID.String())
	if err := ctl.Start(); err != nil {
		return fmt.Errorf("start control worker: %w", err)
	}
	defer ctl.Stop()
	if s.RunWorkflows {
		wf := worker.NewWorkflowWorker(tc, queues, "server-"+serverID.String())
		if err := wf.Start(); err != nil {
			return fmt.Errorf("start workflow worker: %w", err)
		}
		defer wf.Stop()
	}
	shutdownCtx, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	// The default organization is created once per database, so its ID
	// identifies the deployment.
	defOrg, err := store.GetDefaultOrganization(ctx)
	if err != nil {
		return err
	}
	quiet, err := schedule.Daily(s.DefaultQuietHours)
	if err != nil {
		return fmt.Errorf("default quiet hours schedule: %w", err)
	}
	creator, err := jobs.New(jobs.Options{Store: store, Queues: queues, Log: log, DefaultQuietHours: quiet})
	if err != nil {
		return err
	}
	if s.DangerousDisableRateLimits {
		s.APIRateLimit, s.LoginRateLimit, s.FilesRateLimit = 0, 0, 0
	}
	a, err := api.New(api.Options{
		Store: store, PubSub: ps, Dispatcher: disp, Jobs: creator, Log: log, AccessURL: accessURL,
		BuildVersion: version, MaxFileSize: s.MaxFileSize, ShutdownCtx: shutdownCtx,
		DeploymentID: defOrg.ID.String(), AllowWorkspaceRenames: s.AllowWorkspaceRenames,
		MaxTokenLifetime: s.MaxTokenLifetime, MaxAdminTokenLifetime: s.MaxAdminTokenLifetime,
		DefaultTokenLifetime: s.DefaultTokenLifetime, HTTPAddress: s.Address,
		AutobuildPollInterval: s.AutobuildInterval, DefaultQuietHoursSchedule: s.DefaultQuietHours,
		RateLimitAPI: s.APIRateLimit, RateLimitLogin: s.LoginRateLimit, RateLimitFiles: s.FilesRateLimit,
		MaxStreamsPerUser: s.MaxStreamsPerUser, MaxStreams: s.MaxStreams,
		Metrics: httpmw.NewMetrics(obs.reg), Ready: ready, TracerProvider: obs.tracer,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Address)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := httpapi.NewServer(a.Handler())
	log.Info("api listening", "address", ln.Addr().String(), "access_url", accessURL.String())

	grp, gctx := errgroup.WithContext(ctx)
	grp.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	grp.Go(func() error { return ps.Run(gctx) })
	grp.Go(func() error { return s.servePprof(gctx, log) })
	grp.Go(func() error { return s.prometheusFlags.serve(gctx, log, obs, ready) })
	grp.Go(func() error { return rec.Run(gctx) })
	grp.Go(func() error { return reaper.Run(gctx) })
	if s.FileRetention > 0 {
		grp.Go(func() error { return purgeFiles(gctx, store, quartz.NewReal(), s.FileRetention, log) })
	}
	if s.AutobuildInterval > 0 {
		exec, err := lifecycle.New(lifecycle.Options{Store: store, Jobs: creator, Log: log, Interval: s.AutobuildInterval})
		if err != nil {
			return err
		}
		grp.Go(func() error { return exec.Run(gctx) })
	}
	grp.Go(func() error {
		<-gctx.Done()
		// Stop in order: streams first, then HTTP, then the rest via gctx.
		shutdown()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return grp.Wait()
}
