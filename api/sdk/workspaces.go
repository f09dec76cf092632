package sdk

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// AutomaticUpdates says whether autostart moves a workspace to the active
// template version.
type AutomaticUpdates string

// AutomaticUpdates values.
const (
	AutomaticUpdatesAlways AutomaticUpdates = "always"
	AutomaticUpdatesNever  AutomaticUpdates = "never"
)

// WorkspaceHealth summarises a workspace's agents.
type WorkspaceHealth struct {
	Healthy       bool        `json:"healthy"`
	FailingAgents []uuid.UUID `json:"failing_agents"` // never null
}

// Workspace is a user's instance of a template.
type Workspace struct {
	ID                                   uuid.UUID      `json:"id"`
	CreatedAt                            time.Time      `json:"created_at"`
	UpdatedAt                            time.Time      `json:"updated_at"`
	OwnerID                              uuid.UUID      `json:"owner_id"`
	OwnerName                            string         `json:"owner_name"`
	OwnerAvatarURL                       string         `json:"owner_avatar_url"`
	OrganizationID                       uuid.UUID      `json:"organization_id"`
	OrganizationName                     string         `json:"organization_name"`
	TemplateID                           uuid.UUID      `json:"template_id"`
	TemplateName                         string         `json:"template_name"`
	TemplateDisplayName                  string         `json:"template_display_name"`
	TemplateIcon                         string         `json:"template_icon"`
	TemplateAllowUserCancelWorkspaceJobs bool           `json:"template_allow_user_cancel_workspace_jobs"`
	TemplateActiveVersionID              uuid.UUID      `json:"template_active_version_id"`
	TemplateRequireActiveVersion         bool           `json:"template_require_active_version"`
	LatestBuild                          WorkspaceBuild `json:"latest_build"`
	// Outdated is true when the latest build's version is not the active one.
	Outdated bool   `json:"outdated"`
	Name     string `json:"name"`
	// AutostartSchedule is a cron spec (e.g. "CRON_TZ=UTC 30 9 * * 1-5");
	// omitted when autostart is off.
	AutostartSchedule *string `json:"autostart_schedule,omitempty"`
	// TTLMillis is the autostop delay; omitted when autostop is off.
	TTLMillis  *int64    `json:"ttl_ms,omitempty"`
	LastUsedAt time.Time `json:"last_used_at"`
	// DeletingAt, DormantAt and NextStartAt are null when unset.
	DeletingAt       *time.Time       `json:"deleting_at"`
	DormantAt        *time.Time       `json:"dormant_at"`
	Health           WorkspaceHealth  `json:"health"`
	AutomaticUpdates AutomaticUpdates `json:"automatic_updates"`
	AllowRenames     bool             `json:"allow_renames"`
	Favorite         bool             `json:"favorite"`
	NextStartAt      *time.Time       `json:"next_start_at"`
}

// WorkspacesResponse answers GET /workspaces.
type WorkspacesResponse struct {
	Workspaces []Workspace `json:"workspaces"` // never null
	// Count is the total before paging.
	Count int `json:"count"`
}

// CreateWorkspaceRequest is the body of the workspace create endpoints. Set
// exactly one of TemplateID (uses the active version) and TemplateVersionID.
type CreateWorkspaceRequest struct {
	TemplateID        uuid.UUID `json:"template_id,omitzero"`
	TemplateVersionID uuid.UUID `json:"template_version_id,omitzero"`
	Name              string    `json:"name" validate:"workspace_name"`
	AutostartSchedule *string   `json:"autostart_schedule,omitempty"`
	// TTLMillis is the autostop delay in milliseconds.
	TTLMillis           *int64                    `json:"ttl_ms,omitempty"`
	RichParameterValues []WorkspaceBuildParameter `json:"rich_parameter_values,omitempty"`
	// TemplateVersionPresetID is the preset whose values build 1 uses.
	TemplateVersionPresetID uuid.UUID `json:"template_version_preset_id,omitzero"`
	// AutomaticUpdates defaults to never.
	AutomaticUpdates AutomaticUpdates `json:"automatic_updates,omitempty"`
}

// UpdateWorkspaceRequest is the body of PATCH /workspaces/{workspace}.
type UpdateWorkspaceRequest struct {
	Name string `json:"name,omitempty" validate:"omitempty,workspace_name"`
}

// UpdateWorkspaceAutostartRequest is the body of
// PUT /workspaces/{workspace}/autostart; nil turns autostart off.
type UpdateWorkspaceAutostartRequest struct {
	Schedule *string `json:"schedule"`
}

// UpdateWorkspaceAutomaticUpdatesRequest is the body of
// PUT /workspaces/{workspace}/autoupdates.
type UpdateWorkspaceAutomaticUpdatesRequest struct {
	AutomaticUpdates AutomaticUpdates `json:"automatic_updates"`
}

// UpdateWorkspaceTTLRequest is the body of PUT /workspaces/{workspace}/ttl;
// nil or 0 turns autostop off.
type UpdateWorkspaceTTLRequest struct {
	TTLMillis *int64 `json:"ttl_ms"`
}

// UpdateWorkspaceDormancy is the body of PUT /workspaces/{workspace}/dormant.
type UpdateWorkspaceDormancy struct {
	Dormant bool `json:"dormant"`
}

// PutExtendWorkspaceRequest is the body of PUT /workspaces/{workspace}/extend.
type PutExtendWorkspaceRequest struct {
	Deadline time.Time `json:"deadline"`
}

// PostWorkspaceUsageRequest is the optional body of
// POST /workspaces/{workspace}/usage.
type PostWorkspaceUsageRequest struct {
	AgentID uuid.UUID `json:"agent_id"`
	AppName string    `json:"app_name"`
}

// ResolveAutostartResponse answers GET /workspaces/{workspace}/resolve-autostart.
type ResolveAutostartResponse struct {
	ParameterMismatch bool `json:"parameter_mismatch"`
}

// TimingStage names a phase in build timings.
type TimingStage string

// TimingStage values.
const (
	TimingStageInit    TimingStage = "init"
	TimingStagePlan    TimingStage = "plan"
	TimingStageGraph   TimingStage = "graph"
	TimingStageApply   TimingStage = "apply"
	TimingStageStart   TimingStage = "start"
	TimingStageStop    TimingStage = "stop"
	TimingStageCron    TimingStage = "cron"
	TimingStageConnect TimingStage = "connect"
)

// ProvisionerTiming times one provisioner action on a resource.
type ProvisionerTiming struct {
	JobID     uuid.UUID   `json:"job_id"`
	StartedAt time.Time   `json:"started_at"`
	EndedAt   time.Time   `json:"ended_at"`
	Stage     TimingStage `json:"stage"`
	Source    string      `json:"source"`
	Action    string      `json:"action"`
	Resource  string      `json:"resource"`
}

// AgentScriptTiming times one agent script run.
type AgentScriptTiming struct {
	StartedAt          time.Time   `json:"started_at"`
	EndedAt            time.Time   `json:"ended_at"`
	ExitCode           int32       `json:"exit_code"`
	Stage              TimingStage `json:"stage"`
	Status             string      `json:"status"`
	DisplayName        string      `json:"display_name"`
	WorkspaceAgentID   string      `json:"workspace_agent_id"`
	WorkspaceAgentName string      `json:"workspace_agent_name"`
}

// AgentConnectionTiming times an agent's connection.
type AgentConnectionTiming struct {
	StartedAt          time.Time   `json:"started_at"`
	EndedAt            time.Time   `json:"ended_at"`
	Stage              TimingStage `json:"stage"`
	WorkspaceAgentID   string      `json:"workspace_agent_id"`
	WorkspaceAgentName string      `json:"workspace_agent_name"`
}

// WorkspaceBuildTimings answers GET /workspaces/{workspace}/timings.
type WorkspaceBuildTimings struct {
	ProvisionerTimings     []ProvisionerTiming     `json:"provisioner_timings"`      // never null
	AgentScriptTimings     []AgentScriptTiming     `json:"agent_script_timings"`     // never null
	AgentConnectionTimings []AgentConnectionTiming `json:"agent_connection_timings"` // never null
}

func wsPath(id uuid.UUID, suffix string) string {
	return "/api/v2/workspaces/" + id.String() + suffix
}

// CreateWorkspace calls
// POST /api/v2/organizations/{organization}/members/{user}/workspaces (201).
func (c *Client) CreateWorkspace(ctx context.Context, orgID uuid.UUID, user string, req CreateWorkspaceRequest) (Workspace, error) {
	return do[Workspace](ctx, c, http.MethodPost,
		fmt.Sprintf("/api/v2/organizations/%s/members/%s/workspaces", orgID, url.PathEscape(user)), req, createdOnly)
}

// CreateUserWorkspace calls POST /api/v2/users/{user}/workspaces (201).
func (c *Client) CreateUserWorkspace(ctx context.Context, user string, req CreateWorkspaceRequest) (Workspace, error) {
	return do[Workspace](ctx, c, http.MethodPost, fmt.Sprintf("/api/v2/users/%s/workspaces", url.PathEscape(user)), req, createdOnly)
}

// Workspace calls GET /api/v2/workspaces/{workspace}. Pass
// WithQueryParam("include_deleted", "true") to read a deleted workspace.
func (c *Client) Workspace(ctx context.Context, id uuid.UUID, opts ...RequestOption) (Workspace, error) {
	return get[Workspace](ctx, c, wsPath(id, ""), opts...)
}

// WorkspaceByOwnerAndName calls
// GET /api/v2/users/{user}/workspace/{workspacename}.
func (c *Client) WorkspaceByOwnerAndName(ctx context.Context, owner, name string, opts ...RequestOption) (Workspace, error) {
	return get[Workspace](ctx, c, fmt.Sprintf("/api/v2/users/%s/workspace/%s", url.PathEscape(owner), url.PathEscape(name)), opts...)
}

// Workspaces calls GET /api/v2/workspaces?q=…&limit=…&offset=…; empty q and
// zero limit or offset are not sent.
func (c *Client) Workspaces(ctx context.Context, q string, limit, offset int) (WorkspacesResponse, error) {
	var opts []RequestOption
	if q != "" {
		opts = append(opts, WithQueryParam("q", q))
	}
	if limit != 0 {
		opts = append(opts, WithQueryParam("limit", strconv.Itoa(limit)))
	}
	if offset != 0 {
		opts = append(opts, WithQueryParam("offset", strconv.Itoa(offset)))
	}
	return get[WorkspacesResponse](ctx, c, "/api/v2/workspaces", opts...)
}

// UpdateWorkspace calls PATCH /api/v2/workspaces/{workspace} (204).
func (c *Client) UpdateWorkspace(ctx context.Context, id uuid.UUID, req UpdateWorkspaceRequest) error {
	return exec(ctx, c, http.MethodPatch, wsPath(id, ""), req, noContent)
}

// UpdateWorkspaceAutostart calls PUT /api/v2/workspaces/{workspace}/autostart
// (204).
func (c *Client) UpdateWorkspaceAutostart(ctx context.Context, id uuid.UUID, req UpdateWorkspaceAutostartRequest) error {
	return exec(ctx, c, http.MethodPut, wsPath(id, "/autostart"), req, noContent)
}

// UpdateWorkspaceAutomaticUpdates calls
// PUT /api/v2/workspaces/{workspace}/autoupdates (204).
func (c *Client) UpdateWorkspaceAutomaticUpdates(ctx context.Context, id uuid.UUID, req UpdateWorkspaceAutomaticUpdatesRequest) error {
	return exec(ctx, c, http.MethodPut, wsPath(id, "/autoupdates"), req, noContent)
}

// UpdateWorkspaceTTL calls PUT /api/v2/workspaces/{workspace}/ttl (204).
func (c *Client) UpdateWorkspaceTTL(ctx context.Context, id uuid.UUID, req UpdateWorkspaceTTLRequest) error {
	return exec(ctx, c, http.MethodPut, wsPath(id, "/ttl"), req, noContent)
}

// UpdateWorkspaceDormancy calls PUT /api/v2/workspaces/{workspace}/dormant.
// It returns ErrNotModified when the server answers 304.
func (c *Client) UpdateWorkspaceDormancy(ctx context.Context, id uuid.UUID, req UpdateWorkspaceDormancy) (Workspace, error) {
	return doNotModified[Workspace](ctx, c, http.MethodPut, wsPath(id, "/dormant"), req)
}

// PutExtendWorkspace calls PUT /api/v2/workspaces/{workspace}/extend.
func (c *Client) PutExtendWorkspace(ctx context.Context, id uuid.UUID, req PutExtendWorkspaceRequest) error {
	return exec(ctx, c, http.MethodPut, wsPath(id, "/extend"), req, okOnly)
}

// FavoriteWorkspace calls PUT /api/v2/workspaces/{workspace}/favorite (204).
func (c *Client) FavoriteWorkspace(ctx context.Context, id uuid.UUID) error {
	return exec(ctx, c, http.MethodPut, wsPath(id, "/favorite"), nil, noContent)
}

// UnfavoriteWorkspace calls DELETE /api/v2/workspaces/{workspace}/favorite
// (204).
func (c *Client) UnfavoriteWorkspace(ctx context.Context, id uuid.UUID) error {
	return exec(ctx, c, http.MethodDelete, wsPath(id, "/favorite"), nil, noContent)
}

// PostWorkspaceUsage calls POST /api/v2/workspaces/{workspace}/usage (204).
func (c *Client) PostWorkspaceUsage(ctx context.Context, id uuid.UUID, req PostWorkspaceUsageRequest) error {
	return exec(ctx, c, http.MethodPost, wsPath(id, "/usage"), req, noContent)
}

// ResolveAutostart calls GET /api/v2/workspaces/{workspace}/resolve-autostart.
func (c *Client) ResolveAutostart(ctx context.Context, id uuid.UUID) (ResolveAutostartResponse, error) {
	return get[ResolveAutostartResponse](ctx, c, wsPath(id, "/resolve-autostart"))
}

// WorkspaceTimings calls GET /api/v2/workspaces/{workspace}/timings.
func (c *Client) WorkspaceTimings(ctx context.Context, id uuid.UUID) (WorkspaceBuildTimings, error) {
	return get[WorkspaceBuildTimings](ctx, c, wsPath(id, "/timings"))
}

// maxSSELine bounds one server-sent event line (a Workspace JSON).
const maxSSELine = 8 << 20

// WatchWorkspace opens the server-sent event stream
// GET /api/v2/workspaces/{workspace}/watch and sends each "data" event's
// Workspace. Pings are skipped. The channel closes when the stream ends, an
// event cannot be decoded, or ctx ends.
func (c *Client) WatchWorkspace(ctx context.Context, id uuid.UUID) (<-chan Workspace, error) {
	res, err := c.Request(ctx, http.MethodGet, wsPath(id, "/watch"), nil, WithHeader("Accept", "text/event-stream"))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		return nil, ReadBodyAsError(res)
	}
	out := make(chan Workspace)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 0, 64<<10), maxSSELine)
		var event string
		var data bytes.Buffer
		for sc.Scan() {
			line := sc.Bytes()
			switch {
			case len(line) == 0: // end of event
				if event == "data" && data.Len() > 0 {
					var ws Workspace
					if err := json.Unmarshal(data.Bytes(), &ws); err != nil {
						return
					}
					select {
					case out <- ws:
					case <-ctx.Done():
						return
					}
				}
				event = ""
				data.Reset()
			case bytes.HasPrefix(line, []byte("event:")):
				event = string(bytes.TrimSpace(line[len("event:"):]))
			case bytes.HasPrefix(line, []byte("data:")):
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.Write(bytes.TrimPrefix(line[len("data:"):], []byte(" ")))
			}
		}
	}()
	return out, nil
}
