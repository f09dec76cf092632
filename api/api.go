// Package api serves berth's Coder-compatible /api/v2 over gin. Every read
// comes from Postgres; writes commit before any workflow is started.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/db/pubsub"
	"github.com/berth-dev/berth/health"
	"github.com/berth-dev/berth/jobs"
	"github.com/berth-dev/berth/workflows"
)

// dispatcher is what the API needs of Temporal.
type dispatcher interface {
	Cancel(ctx context.Context, job *db.ProvisionerJob) error
	Queues() workflows.Queues
}

// Options configures the API.
type Options struct {
	Store      *db.Store
	PubSub     *pubsub.PubSub
	Dispatcher dispatcher
	// Jobs creates jobs (default: one on Store and Dispatcher).
	Jobs *jobs.Creator
	Log  *slog.Logger
	// AccessURL is the URL clients use to reach this deployment.
	AccessURL *url.URL
	// BuildVersion is sent as X-Coder-Build-Version (default v2.30.0).
	BuildVersion string
	// DeploymentID identifies the deployment in /buildinfo.
	DeploymentID string
	// MaxFileSize caps uploads (default 100 MiB).
	MaxFileSize int64
	// ShutdownCtx ends long-lived streams when the server stops.
	ShutdownCtx context.Context
	// MaxTokenLifetime caps the lifetime of tokens users create (default
	// Coder's: 100 years and 25 days); MaxAdminTokenLifetime that of site
	// owners' tokens (default 7 days); DefaultTokenLifetime is a token's
	// lifetime when the request names none (default 7 days).
	MaxTokenLifetime      time.Duration
	MaxAdminTokenLifetime time.Duration
	DefaultTokenLifetime  time.Duration
	// AllowWorkspaceRenames lets owners rename workspaces (default off, as
	// in Coder).
	AllowWorkspaceRenames bool
	// HTTPAddress, AutobuildPollInterval and DefaultQuietHoursSchedule are
	// only reported by GET /deployment/config.
	HTTPAddress               string
	AutobuildPollInterval     time.Duration
	DefaultQuietHoursSchedule string
	// Rate limits, in requests a minute (0: none, the default, which
	// in-process test deployments rely on). RateLimitAPI counts every
	// request of a user (before signing in, of an IP); RateLimitLogin every
	// password login and first-user request of an IP; RateLimitFiles every
	// upload of a user.
	RateLimitAPI   int64
	RateLimitLogin int64
	RateLimitFiles int64
	// MaxStreamsPerUser caps the workspace watches and log follows one
	// user holds open on this server (default 64), MaxStreams all of them
	// (default 4096).
	MaxStreamsPerUser int
	MaxStreams        int
	// Metrics, if set, records every request (Coder's coderd_api_*).
	Metrics *httpmw.Metrics
	// TracerProvider, if set, traces every request (off by default).
	TracerProvider trace.TracerProvider
	// Ready answers GET /readyz (default: always ready, for tests);
	// GET /healthz always answers 200.
	Ready *health.Checker
}

// API serves /api/v2.
type API struct {
	store *db.Store
	ps    *pubsub.PubSub
	disp  dispatcher
	jobs  *jobs.Creator
	log   *slog.Logger
	opts  Options

	keys    *httpmw.KeyCache
	streams *streamLimiter
	watches *watchHub
	openapi openAPI
}

// New returns an API with defaults filled in.
func New(opts Options) (*API, error) {
	if opts.Store == nil || opts.PubSub == nil || opts.Dispatcher == nil {
		return nil, errors.New("api: store, pubsub and dispatcher are required")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.AccessURL == nil {
		opts.AccessURL = &url.URL{Scheme: "http", Host: "127.0.0.1:3000"}
	}
	if opts.BuildVersion == "" {
		opts.BuildVersion = "v2.30.0"
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = 100 << 20
	}
	if opts.MaxTokenLifetime <= 0 {
		opts.MaxTokenLifetime = (100*365 + 25) * 24 * time.Hour
	}
	if opts.MaxAdminTokenLifetime <= 0 {
		opts.MaxAdminTokenLifetime = 7 * 24 * time.Hour
	}
	if opts.DefaultTokenLifetime <= 0 {
		opts.DefaultTokenLifetime = 7 * 24 * time.Hour
	}
	if opts.ShutdownCtx == nil {
		opts.ShutdownCtx = context.Background()
	}
	if opts.Jobs == nil {
		j, err := jobs.New(jobs.Options{Store: opts.Store, Queues: opts.Dispatcher.Queues(), Log: opts.Log})
		if err != nil {
			return nil, err
		}
		opts.Jobs = j
	}
	if opts.MaxStreamsPerUser <= 0 {
		opts.MaxStreamsPerUser = 64
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = 4096
	}
	a := &API{store: opts.Store, ps: opts.PubSub, disp: opts.Dispatcher, jobs: opts.Jobs, log: opts.Log, opts: opts,
		keys: httpmw.NewKeyCache(opts.PubSub.AuthGeneration), streams: newStreamLimiter(opts.MaxStreamsPerUser, opts.MaxStreams)}
	a.watches = newWatchHub(a)
	return a, nil
}

// h adapts an error-returning handler; the one renderer writes errors.
func (a *API) h(fn func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			httpapi.RenderError(c, a.log, err)
		}
	}
}

// Handler returns the HTTP handler serving the API.
func (a *API) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = false
	e.UseRawPath = true
	_ = e.SetTrustedProxies(nil)
	if a.opts.Metrics != nil {
		// Outside recovery, so a panic counts as the 500 it becomes.
		e.Use(a.opts.Metrics.Handler())
	}
	e.Use(gin.CustomRecovery(func(c *gin.Context, rec any) {
		a.log.ErrorContext(c.Request.Context(), "handler panicked", "panic", rec)
		httpapi.RenderError(c, a.log, errors.New("panic"))
	}))
	if a.opts.TracerProvider != nil {
		e.Use(httpmw.Trace(a.opts.TracerProvider))
	}
	e.Use(httpmw.RequestID(a.log), func(c *gin.Context) {
		c.Header("X-Coder-Build-Version", a.opts.BuildVersion)
		c.Next()
	})
	e.NoRoute(func(c *gin.Context) {
		httpapi.RenderError(c, a.log, httpapi.Errorf(http.StatusNotFound, "Route not found."))
	})
	e.GET("/healthz", gin.WrapH(health.Healthz()))
	ready := a.opts.Ready
	if ready == nil {
		ready = health.New()
	}
	e.GET("/readyz", gin.WrapH(ready.Readyz()))
	a.routes(e.Group("/api/v2"))
	e.GET("/api/v2/openapi.json", a.serveOpenAPI(e))
	return e
}

func (a *API) routes(root *gin.RouterGroup) {
	// One API limiter, keyed by IP here and by user once authenticated.
	apiLimit := httpmw.RateLimit(int(a.opts.RateLimitAPI), time.Minute)
	loginLimit := httpmw.RateLimit(int(a.opts.RateLimitLogin), time.Minute)
	filesLimit := httpmw.RateLimit(int(a.opts.RateLimitFiles), time.Minute)
	r := root.Group("", apiLimit)
	r.GET("/buildinfo", a.h(a.buildInfo))
	r.GET("/users/authmethods", a.h(a.authMethods))
	r.GET("/users/first", a.h(a.firstUserExists))
	r.POST("/users/first", loginLimit, a.h(a.createFirstUser))
	r.POST("/users/login", loginLimit, a.h(a.login))

	auth := root.Group("", httpmw.Authenticate(a.store, a.keys, a.log), apiLimit)
	auth.POST("/users/logout", a.h(a.logout))
	auth.POST("/users", a.h(a.createUser))
	auth.GET("/users/:user", a.h(a.user))
	auth.GET("/users/:user/organizations", a.h(a.userOrganizations))
	auth.GET("/users", a.h(a.users))
	auth.GET("/users/roles", a.h(a.assignableSiteRoles))
	auth.DELETE("/users/:user", a.h(a.deleteUser))
	auth.PUT("/users/:user/status/suspend", a.h(a.suspendUser))
	auth.PUT("/users/:user/status/activate", a.h(a.activateUser))
	auth.PUT("/users/:user/password", a.h(a.putUserPassword))
	auth.GET("/users/:user/roles", a.h(a.userRoles))
	auth.PUT("/users/:user/roles", a.h(a.putUserRoles))
	auth.POST("/users/:user/keys", a.h(a.createAPIKey))
	auth.POST("/users/:user/keys/tokens", a.h(a.postToken))
	auth.GET("/users/:user/keys/tokens", a.h(a.tokens))
	auth.GET("/users/:user/keys/tokens/tokenconfig", a.h(a.tokenConfig))
	auth.GET("/users/:user/keys/tokens/:keyname", a.h(a.apiKeyByName))
	auth.GET("/users/:user/keys/:keyid", a.h(a.apiKeyByID))
	auth.DELETE("/users/:user/keys/:keyid", a.h(a.deleteAPIKey))
	auth.GET("/users/:user/quiet-hours", a.h(a.userQuietHours))
	auth.PUT("/users/:user/quiet-hours", a.h(a.putUserQuietHours))

	auth.GET("/organizations/:organization", a.h(a.organization))
	auth.GET("/organizations/:organization/provisionerdaemons", a.h(a.provisionerDaemons))
	auth.GET("/organizations/:organization/provisionerjobs", a.h(a.provisionerJobs))
	auth.GET("/organizations/:organization/provisionerjobs/:job", a.h(a.provisionerJob))
	auth.GET("/organizations/:organization/members", a.h(a.organizationMembers))
	auth.GET("/organizations/:organization/members/", a.h(a.organizationMembers))
	auth.GET("/organizations/:organization/members/roles", a.h(a.assignableOrgRoles))
	auth.POST("/organizations/:organization/members/:user", a.h(a.postOrganizationMember))
	auth.DELETE("/organizations/:organization/members/:user", a.h(a.deleteOrganizationMember))
	auth.PUT("/organizations/:organization/members/:user/roles", a.h(a.putMemberRoles))
	auth.POST("/organizations/:organization/templateversions", httpmw.KeepsSessions, a.h(a.createTemplateVersion))
	auth.POST("/organizations/:organization/templates", a.h(a.createTemplate))
	auth.GET("/organizations/:organization/templates", a.h(a.templatesByOrganization))
	auth.GET("/organizations/:organization/templates/:templatename", a.h(a.templateByName))
	auth.GET("/organizations/:organization/templates/:templatename/versions/:templateversionname", a.h(a.templateVersionByOrgTemplateAndName))

	auth.POST("/organizations/:organization/members/:user/workspaces", httpmw.KeepsSessions, a.h(a.createWorkspaceInOrganization))
	auth.POST("/users/:user/workspaces", httpmw.KeepsSessions, a.h(a.createUserWorkspace))
	auth.GET("/users/:user/workspace/:workspacename", a.h(a.workspaceByOwnerAndName))
	auth.GET("/users/:user/workspace/:workspacename/builds/:buildnumber", a.h(a.workspaceBuildByNumber))
	auth.GET("/workspaces", a.h(a.workspaces))
	auth.GET("/workspaces/:workspace", a.h(a.workspace))
	auth.GET("/workspaces/:workspace/watch", a.h(a.watchWorkspace))
	auth.POST("/workspaces/:workspace/builds", httpmw.KeepsSessions, a.h(a.createWorkspaceBuild))
	auth.GET("/workspaces/:workspace/builds", a.h(a.workspaceBuilds))
	auth.GET("/workspacebuilds/:workspacebuild", a.h(a.workspaceBuild))
	auth.PATCH("/workspacebuilds/:workspacebuild/cancel", httpmw.KeepsSessions, a.h(a.cancelWorkspaceBuild))
	auth.GET("/workspacebuilds/:workspacebuild/logs", a.h(a.workspaceBuildLogs))
	auth.GET("/workspacebuilds/:workspacebuild/resources", a.h(a.workspaceBuildResources))
	auth.GET("/workspacebuilds/:workspacebuild/parameters", a.h(a.workspaceBuildParameters))
	auth.GET("/workspacebuilds/:workspacebuild/state", a.h(a.workspaceBuildState))
	auth.PUT("/workspacebuilds/:workspacebuild/state", a.h(a.putWorkspaceBuildState))
	auth.PATCH("/workspaces/:workspace", a.h(a.patchWorkspace))
	auth.PUT("/workspaces/:workspace/autostart", a.h(a.putWorkspaceAutostart))
	auth.PUT("/workspaces/:workspace/autoupdates", a.h(a.putWorkspaceAutoupdates))
	auth.PUT("/workspaces/:workspace/ttl", a.h(a.putWorkspaceTTL))
	auth.PUT("/workspaces/:workspace/dormant", a.h(a.putWorkspaceDormant))
	auth.PUT("/workspaces/:workspace/extend", a.h(a.putExtendWorkspace))
	auth.PUT("/workspaces/:workspace/favorite", a.h(a.putFavoriteWorkspace))
	auth.DELETE("/workspaces/:workspace/favorite", a.h(a.deleteFavoriteWorkspace))
	auth.GET("/workspaces/:workspace/resolve-autostart", a.h(a.resolveAutostart))
	auth.GET("/workspaces/:workspace/timings", a.h(a.workspaceTimings))
	auth.POST("/workspaces/:workspace/usage", a.h(a.postWorkspaceUsage))

	auth.GET("/deployment/config", a.h(a.deploymentConfig))

	auth.POST("/files", httpmw.KeepsSessions, filesLimit, a.h(a.uploadFile))
	auth.GET("/files/:fileID", a.h(a.downloadFile))

	auth.GET("/templates", a.h(a.templates))
	auth.GET("/templates/:template", a.h(a.template))
	auth.PATCH("/templates/:template", a.h(a.patchTemplate))
	auth.DELETE("/templates/:template", a.h(a.deleteTemplate))
	auth.GET("/templates/:template/daus", a.h(a.templateDAUs))
	auth.GET("/templates/:template/versions", a.h(a.templateVersionsByTemplate))
	auth.PATCH("/templates/:template/versions", a.h(a.setActiveTemplateVersion))
	auth.POST("/templates/:template/versions/archive", a.h(a.archiveTemplateVersions))
	auth.GET("/templates/:template/versions/:templateversionname", a.h(a.templateVersionByName))

	auth.GET("/templateversions/:templateversion", a.h(a.templateVersion))
	auth.PATCH("/templateversions/:templateversion", a.h(a.patchTemplateVersion))
	auth.POST("/templateversions/:templateversion/dry-run", httpmw.KeepsSessions, a.h(a.createTemplateVersionDryRun))
	auth.GET("/templateversions/:templateversion/dry-run/:jobID", a.h(a.templateVersionDryRun))
	auth.PATCH("/templateversions/:templateversion/dry-run/:jobID/cancel", httpmw.KeepsSessions, a.h(a.cancelTemplateVersionDryRun))
	auth.GET("/templateversions/:templateversion/dry-run/:jobID/logs", a.h(a.templateVersionDryRunLogs))
	auth.GET("/templateversions/:templateversion/dry-run/:jobID/resources", a.h(a.templateVersionDryRunResources))
	auth.GET("/templateversions/:templateversion/dry-run/:jobID/matched-provisioners", a.h(a.templateVersionDryRunMatchedProvisioners))
	auth.PATCH("/templateversions/:templateversion/cancel", httpmw.KeepsSessions, a.h(a.cancelTemplateVersion))
	auth.POST("/templateversions/:templateversion/archive", a.h(a.archiveTemplateVersion))
	auth.POST("/templateversions/:templateversion/unarchive", a.h(a.unarchiveTemplateVersion))
	auth.GET("/templateversions/:templateversion/logs", a.h(a.templateVersionLogs))
	auth.GET("/templateversions/:templateversion/resources", a.h(a.templateVersionResources))
	auth.GET("/templateversions/:templateversion/rich-parameters", a.h(a.templateVersionRichParameters))
	auth.GET("/templateversions/:templateversion/variables", a.h(a.templateVersionVariables))
	auth.GET("/templateversions/:templateversion/schema", a.h(a.emptyList))
	auth.GET("/templateversions/:templateversion/external-auth", a.h(a.templateVersionExternalAuth))
	auth.GET("/templateversions/:templateversion/presets", a.h(a.templateVersionPresets))
	auth.GET("/templateversions/:templateversion/parameters", a.h(a.emptyList))
}
