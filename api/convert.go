package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

func convertUser(u *db.User, orgIDs []uuid.UUID) sdk.User {
	roles := slimSiteRoles(u.RBACRoles)
	if orgIDs == nil {
		orgIDs = []uuid.UUID{}
	}
	return sdk.User{
		ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, AvatarURL: u.AvatarURL,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastSeenAt: u.LastSeenAt,
		Status: sdk.UserStatus(u.Status), LoginType: sdk.LoginType(u.LoginType),
		ThemePreference: u.ThemePreference, OrganizationIDs: orgIDs, Roles: roles,
	}
}

func convertMinimalUser(u *db.User) sdk.MinimalUser {
	if u == nil {
		return sdk.MinimalUser{}
	}
	return sdk.MinimalUser{ID: u.ID, Username: u.Username, Name: u.Name, AvatarURL: u.AvatarURL}
}

func convertOrganization(o *db.Organization) sdk.Organization {
	return sdk.Organization{
		ID: o.ID, Name: o.Name, DisplayName: o.DisplayName, Description: o.Description, Icon: o.Icon,
		IsDefault: o.IsDefault, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
}

func convertTemplate(t *db.Template, org *db.Organization, creator *db.User, stats db.BuildTimeStats, counts db.TemplateUserCounts) sdk.Template {
	out := sdk.Template{
		ID: t.ID, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, OrganizationID: t.OrganizationID,
		Name: t.Name, DisplayName: t.DisplayName, Provisioner: sdk.ProvisionerType(t.Provisioner),
		ActiveVersionID: t.ActiveVersionID, Description: t.Description,
		Deprecated: t.DeprecationMessage != "", DeprecationMessage: t.DeprecationMessage, Icon: t.Icon,
		DefaultTTLMillis: t.DefaultTTLMillis, ActivityBumpMillis: t.ActivityBumpMillis,
		AutostopRequirement: sdk.TemplateAutostopRequirement{
			DaysOfWeek: nonNil(t.AutostopRequirementDaysOfWeek), Weeks: t.AutostopRequirementWeeks,
		},
		AutostartRequirement:           sdk.TemplateAutostartRequirement{DaysOfWeek: nonNil(t.AutostartRequirementDaysOfWeek)},
		CreatedByID:                    t.CreatedBy,
		AllowUserAutostart:             t.AllowUserAutostart,
		AllowUserAutostop:              t.AllowUserAutostop,
		AllowUserCancelWorkspaceJobs:   t.AllowUserCancelWorkspaceJobs,
		FailureTTLMillis:               t.FailureTTLMillis,
		TimeTilDormantMillis:           t.TimeTilDormantMillis,
		TimeTilDormantAutoDeleteMillis: t.TimeTilDormantAutoDeleteMillis,
		RequireActiveVersion:           t.RequireActiveVersion,
		MaxPortShareLevel:              sdk.WorkspaceAgentPortShareLevel(t.MaxPortShareLevel),
		CORSBehavior:                   sdk.CORSBehavior(t.CORSBehavior),
		UseClassicParameterFlow:        true,
		ActiveUserCount:                counts.ActiveUsers,
		WorkspaceOwnerCount:            counts.WorkspaceOwners,
	}
	out.BuildTimeStats = sdk.TemplateBuildTimeStats{
		Start:  sdk.TransitionStats{P50: stats.Start.P50, P95: stats.Start.P95},
		Stop:   sdk.TransitionStats{P50: stats.Stop.P50, P95: stats.Stop.P95},
		Delete: sdk.TransitionStats{P50: stats.Delete.P50, P95: stats.Delete.P95},
	}
	if org != nil {
		out.OrganizationName, out.OrganizationDisplayName, out.OrganizationIcon = org.Name, org.DisplayName, org.Icon
	}
	if creator != nil {
		out.CreatedByName = creator.Username
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// jobView is what converting a job needs besides its row.
type jobView struct {
	queue      *db.JobQueue // nil: not computed (0/0)
	workerName string
	metadata   sdk.ProvisionerJobMetadata
}

func convertJob(j *db.ProvisionerJob, v jobView) sdk.ProvisionerJob {
	out := sdk.ProvisionerJob{
		ID: j.ID, CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, CompletedAt: j.CompletedAt,
		CanceledAt: j.CanceledAt, Error: j.Error, ErrorCode: sdk.JobErrorCode(j.ErrorCode),
		Status: sdk.ProvisionerJobStatus(j.Status), WorkerName: v.workerName, FileID: j.FileID,
		Tags: j.Tags, OrganizationID: j.OrganizationID, InitiatorID: j.InitiatorID,
		Type: sdk.ProvisionerJobType(j.Type), Metadata: v.metadata, LogsOverflowed: j.LogsOverflowed,
	}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	if j.WorkerID.Valid {
		id := j.WorkerID.UUID
		out.WorkerID = &id
	}
	var in db.JobInput
	if err := json.Unmarshal(j.Input, &in); err == nil {
		if in.TemplateVersionID.Valid {
			id := in.TemplateVersionID.UUID
			out.Input.TemplateVersionID = &id
		}
		if in.WorkspaceBuildID.Valid {
			id := in.WorkspaceBuildID.UUID
			out.Input.WorkspaceBuildID = &id
		}
	}
	if v.queue != nil {
		out.QueuePosition, out.QueueSize = v.queue.Position, v.queue.Size
		if j.Status == db.JobPending && len(v.queue.AvailableWorkers) > 0 {
			out.AvailableWorkers = v.queue.AvailableWorkers
		}
	}
	return out
}

func matchedProvisioners(q *db.JobQueue) *sdk.MatchedProvisioners {
	if q == nil {
		return &sdk.MatchedProvisioners{}
	}
	return &sdk.MatchedProvisioners{Count: q.Count, Available: q.Available, MostRecentlySeen: q.MostRecentlySeen}
}

// jobDetails loads the queue figures and the worker's name of a job: at
// most two queries, whatever the job.
//
// withQueue false skips the queue query for a job that is not pending
// (figures are 0 then), for the responses that only show them while pending.
func (a *API) jobDetails(ctx context.Context, j *db.ProvisionerJob, withQueue bool) (*db.JobQueue, string, error) {
	q := &db.JobQueue{AvailableWorkers: []uuid.UUID{}}
	if withQueue || j.Status == db.JobPending {
		var err error
		if q, err = a.store.GetJobQueue(ctx, j); err != nil {
			return nil, "", err
		}
	}
	name := ""
	if j.WorkerID.Valid {
		d, err := a.store.GetDaemonByID(ctx, j.WorkerID.UUID)
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return nil, "", err
		}
		if err == nil {
			name = d.Name
		}
	}
	return q, name, nil
}

// convertTemplateVersionFull builds a TemplateVersion with its job. creator
// may be nil, and is then loaded.
func (a *API) convertTemplateVersionFull(c *gin.Context, v *db.TemplateVersion, job *db.ProvisionerJob, tpl *db.Template, creator *db.User, created bool) (sdk.TemplateVersion, error) {
	ctx := c.Request.Context()
	if job.CompletedAt != nil {
		// Import results commit with the job's completion: a version row
		// read before the job could predate them.
		fresh, err := a.store.GetTemplateVersionByID(ctx, v.ID)
		if err != nil {
			return sdk.TemplateVersion{}, err
		}
		v = fresh
	}
	if creator == nil {
		users, err := a.store.GetUsersByIDs(ctx, []uuid.UUID{v.CreatedBy})
		if err != nil {
			return sdk.TemplateVersion{}, err
		}
		creator = users[v.CreatedBy]
	}
	queue, workerName, err := a.jobDetails(ctx, job, false)
	if err != nil {
		return sdk.TemplateVersion{}, err
	}
	view := jobView{queue: queue, workerName: workerName, metadata: versionMetadata(v, tpl)}
	if created {
		// Create handlers report no queue position (API-NOTES §3.3).
		view.queue = &db.JobQueue{AvailableWorkers: queue.AvailableWorkers}
	}
	out := convertTemplateVersion(v, job, creator, view)
	if job.Status == db.JobPending {
		out.MatchedProvisioners = matchedProvisioners(queue)
	}
	return out, nil
}

func convertResources(rs []db.WorkspaceResource) []sdk.WorkspaceResource {
	out := make([]sdk.WorkspaceResource, 0, len(rs))
	for _, r := range rs {
		var md []db.ResourceMetadata
		_ = json.Unmarshal(r.Metadata, &md)
		var agents []db.ResourceAgent
		_ = json.Unmarshal(r.Agents, &agents)
		res := sdk.WorkspaceResource{
			ID: r.ID, CreatedAt: r.CreatedAt, JobID: r.JobID, WorkspaceTransition: sdk.WorkspaceTransition(r.Transition),
			Type: r.Type, Name: r.Name, Hide: r.Hide, Icon: r.Icon, DailyCost: r.DailyCost,
			Agents: make([]sdk.WorkspaceAgent, 0, len(agents)), Metadata: make([]sdk.WorkspaceResourceMetadata, 0, len(md)),
		}
		for _, m := range md {
			res.Metadata = append(res.Metadata, sdk.WorkspaceResourceMetadata{Key: m.Key, Value: m.Value, Sensitive: m.Sensitive})
		}
		for _, ag := range agents {
			res.Agents = append(res.Agents, convertAgent(r, ag))
		}
		out = append(out, res)
	}
	return out
}

func convertParameters(ps []db.TemplateVersionParameter) []sdk.TemplateVersionParameter {
	out := make([]sdk.TemplateVersionParameter, 0, len(ps))
	for _, p := range ps {
		opts := []sdk.TemplateVersionParameterOption{}
		_ = json.Unmarshal(p.Options, &opts)
		out = append(out, sdk.TemplateVersionParameter{
			Name: p.Name, DisplayName: p.DisplayName, Description: p.Description, DescriptionPlaintext: p.Description,
			Type: p.Type, FormType: sdk.ParameterFormType(p.FormType), Mutable: p.Mutable, Ephemeral: p.Ephemeral,
			DefaultValue: p.DefaultValue, Icon: p.Icon, Options: nonNil(opts), ValidationRegex: p.ValidationRegex,
			ValidationError: p.ValidationError, ValidationMin: p.ValidationMin, ValidationMax: p.ValidationMax,
			ValidationMonotonic: sdk.ValidationMonotonicOrder(p.ValidationMonotonic), Required: p.Required,
		})
	}
	return out
}

func convertAgent(r db.WorkspaceResource, ag db.ResourceAgent) sdk.WorkspaceAgent {
	out := sdk.WorkspaceAgent{
		ID: ag.ID, CreatedAt: ag.CreatedAt, UpdatedAt: ag.CreatedAt, Status: "connecting",
		LifecycleState: "created", Name: ag.Name, ResourceID: r.ID, Architecture: ag.Architecture,
		EnvironmentVariables: ag.Env, OperatingSystem: ag.OperatingSystem,
		Directory: ag.Directory, Apps: make([]sdk.WorkspaceApp, 0, len(ag.Apps)),
		ConnectionTimeoutSeconds: ag.ConnectionTimeoutSeconds,
		TroubleshootingURL:       ag.TroubleshootingURL,
		Subsystems:               []string{}, DisplayApps: make([]sdk.DisplayApp, 0, len(ag.DisplayApps)),
		LogSources:            make([]sdk.WorkspaceAgentLogSource, 0, len(ag.Scripts)),
		Scripts:               make([]sdk.WorkspaceAgentScript, 0, len(ag.Scripts)),
		StartupScriptBehavior: "non-blocking",
		Health:                sdk.WorkspaceAgentHealth{Reason: "agent is not running"},
	}
	if out.EnvironmentVariables == nil {
		out.EnvironmentVariables = map[string]string{}
	}
	if ag.StartupScriptBehavior != "" {
		out.StartupScriptBehavior = sdk.WorkspaceAgentStartupScriptBehavior(ag.StartupScriptBehavior)
	}
	for _, d := range ag.DisplayApps {
		out.DisplayApps = append(out.DisplayApps, sdk.DisplayApp(d))
	}
	for _, sc := range ag.Scripts {
		out.LogSources = append(out.LogSources, sdk.WorkspaceAgentLogSource{
			ID: sc.LogSourceID, WorkspaceAgentID: ag.ID, CreatedAt: ag.CreatedAt, DisplayName: sc.DisplayName, Icon: sc.Icon,
		})
		out.Scripts = append(out.Scripts, sdk.WorkspaceAgentScript{
			ID: sc.ID, LogSourceID: sc.LogSourceID, LogPath: sc.LogPath, Script: sc.Script, Cron: sc.Cron,
			RunOnStart: sc.RunOnStart, RunOnStop: sc.RunOnStop, StartBlocksLogin: sc.StartBlocksLogin,
			Timeout: int64(sc.TimeoutSeconds) * int64(time.Second), DisplayName: sc.DisplayName,
		})
	}
	// Coder's order: display order, then display name, then slug.
	apps := slices.Clone(ag.Apps)
	slices.SortStableFunc(apps, func(x, y db.ResourceApp) int {
		return cmp.Or(cmp.Compare(x.Order, y.Order), cmp.Compare(x.DisplayName, y.DisplayName), cmp.Compare(x.Slug, y.Slug))
	})
	for _, app := range apps {
		a := sdk.WorkspaceApp{
			ID: app.ID, URL: app.URL, External: app.External, Slug: app.Slug, DisplayName: app.DisplayName,
			Command: app.Command, Icon: app.Icon, Subdomain: app.Subdomain,
			SharingLevel: sdk.WorkspaceAppSharingLevelOwner, Health: sdk.WorkspaceAppHealthDisabled,
			Hidden: app.Hidden, OpenIn: sdk.WorkspaceAppOpenInSlimWindow,
			Healthcheck: sdk.Healthcheck{URL: app.HealthcheckURL, Interval: app.HealthcheckInterval, Threshold: app.HealthcheckThreshold},
		}
		if app.SharingLevel != "" {
			a.SharingLevel = sdk.WorkspaceAppSharingLevel(app.SharingLevel)
		}
		if app.OpenIn != "" {
			a.OpenIn = sdk.WorkspaceAppOpenIn(app.OpenIn)
		}
		if app.HealthcheckURL != "" {
			a.Health = sdk.WorkspaceAppHealthInitializing
		}
		out.Apps = append(out.Apps, a)
	}
	return out
}

// convertTemplateVersions converts a page of one template's versions with a
// fixed number of queries, plus one queue query per pending job.
func (a *API) convertTemplateVersions(c *gin.Context, vs []*db.TemplateVersion, tpl *db.Template) ([]sdk.TemplateVersion, error) {
	ctx := c.Request.Context()
	jobIDs := make([]uuid.UUID, 0, len(vs))
	userIDs := make([]uuid.UUID, 0, len(vs))
	for _, v := range vs {
		jobIDs = append(jobIDs, v.JobID)
		userIDs = append(userIDs, v.CreatedBy)
	}
	jobs, err := a.store.GetJobsByIDs(ctx, jobIDs)
	if err != nil {
		return nil, err
	}
	// Re-read the versions after their jobs (see convertTemplateVersionFull).
	ids := make([]uuid.UUID, 0, len(vs))
	for _, v := range vs {
		ids = append(ids, v.ID)
	}
	fresh, err := a.store.GetTemplateVersionsByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, v := range vs {
		if f := fresh[v.ID]; f != nil {
			vs[i] = f
		}
	}
	users, err := a.store.GetUsersByIDs(ctx, userIDs)
	if err != nil {
		return nil, err
	}
	workerIDs := []uuid.UUID{}
	for _, j := range jobs {
		if j.WorkerID.Valid {
			workerIDs = append(workerIDs, j.WorkerID.UUID)
		}
	}
	names, err := a.store.GetDaemonNames(ctx, workerIDs)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.TemplateVersion, 0, len(vs))
	for _, v := range vs {
		job := jobs[v.JobID]
		if job == nil {
			return nil, errors.New("template version without its job")
		}
		view := jobView{metadata: versionMetadata(v, tpl)}
		if job.WorkerID.Valid {
			view.workerName = names[job.WorkerID.UUID]
		}
		var queue *db.JobQueue
		if job.Status == db.JobPending {
			if queue, err = a.store.GetJobQueue(ctx, job); err != nil {
				return nil, err
			}
			view.queue = queue
		}
		tv := convertTemplateVersion(v, job, users[v.CreatedBy], view)
		if job.Status == db.JobPending {
			tv.MatchedProvisioners = matchedProvisioners(queue)
		}
		out = append(out, tv)
	}
	return out, nil
}

func versionMetadata(v *db.TemplateVersion, tpl *db.Template) sdk.ProvisionerJobMetadata {
	md := sdk.ProvisionerJobMetadata{TemplateVersionName: v.Name}
	if tpl != nil {
		md.TemplateID, md.TemplateName, md.TemplateDisplayName, md.TemplateIcon = tpl.ID, tpl.Name, tpl.DisplayName, tpl.Icon
	}
	return md
}

func convertTemplateVersion(v *db.TemplateVersion, job *db.ProvisionerJob, creator *db.User, view jobView) sdk.TemplateVersion {
	return sdk.TemplateVersion{
		ID: v.ID, TemplateID: v.TemplateID, OrganizationID: v.OrganizationID, CreatedAt: v.CreatedAt,
		UpdatedAt: v.UpdatedAt, Name: v.Name, Message: v.Message, Job: convertJob(job, view),
		Readme: v.Readme, CreatedBy: convertMinimalUser(creator), Archived: v.Archived,
	}
}

// versionTemplate returns the live template a version belongs to, or nil.
func (a *API) versionTemplate(ctx context.Context, v *db.TemplateVersion) (*db.Template, error) {
	if !v.TemplateID.Valid {
		return nil, nil
	}
	t, err := a.store.GetTemplateByID(ctx, v.TemplateID.UUID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	return t, err
}
