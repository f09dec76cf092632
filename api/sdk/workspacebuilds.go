package sdk

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
)

// WorkspaceTransition is what a build does to a workspace.
type WorkspaceTransition string

// WorkspaceTransition values.
const (
	WorkspaceTransitionStart  WorkspaceTransition = "start"
	WorkspaceTransitionStop   WorkspaceTransition = "stop"
	WorkspaceTransitionDelete WorkspaceTransition = "delete"
)

// WorkspaceStatus is a build's status, derived from its job and transition.
type WorkspaceStatus string

// WorkspaceStatus values.
const (
	WorkspaceStatusPending   WorkspaceStatus = "pending"
	WorkspaceStatusStarting  WorkspaceStatus = "starting"
	WorkspaceStatusRunning   WorkspaceStatus = "running"
	WorkspaceStatusStopping  WorkspaceStatus = "stopping"
	WorkspaceStatusStopped   WorkspaceStatus = "stopped"
	WorkspaceStatusFailed    WorkspaceStatus = "failed"
	WorkspaceStatusCanceling WorkspaceStatus = "canceling"
	WorkspaceStatusCanceled  WorkspaceStatus = "canceled"
	WorkspaceStatusDeleting  WorkspaceStatus = "deleting"
	WorkspaceStatusDeleted   WorkspaceStatus = "deleted"
)

// BuildReason says why a build happened.
type BuildReason string

// BuildReason values.
const (
	BuildReasonInitiator           BuildReason = "initiator"
	BuildReasonAutostart           BuildReason = "autostart"
	BuildReasonAutostop            BuildReason = "autostop"
	BuildReasonDormancy            BuildReason = "dormancy"
	BuildReasonFailedStop          BuildReason = "failedstop"
	BuildReasonAutodelete          BuildReason = "autodelete"
	BuildReasonDashboard           BuildReason = "dashboard"
	BuildReasonCLI                 BuildReason = "cli"
	BuildReasonSSHConnection       BuildReason = "ssh_connection"
	BuildReasonVSCodeConnection    BuildReason = "vscode_connection"
	BuildReasonJetbrainsConnection BuildReason = "jetbrains_connection"
)

// CreateWorkspaceBuildReason is the reason a client may give for a build.
type CreateWorkspaceBuildReason string

// CreateWorkspaceBuildReason values.
const (
	CreateWorkspaceBuildReasonDashboard           CreateWorkspaceBuildReason = "dashboard"
	CreateWorkspaceBuildReasonCLI                 CreateWorkspaceBuildReason = "cli"
	CreateWorkspaceBuildReasonSSHConnection       CreateWorkspaceBuildReason = "ssh_connection"
	CreateWorkspaceBuildReasonVSCodeConnection    CreateWorkspaceBuildReason = "vscode_connection"
	CreateWorkspaceBuildReasonJetbrainsConnection CreateWorkspaceBuildReason = "jetbrains_connection"
)

// WorkspaceBuildParameter is a rich parameter value.
type WorkspaceBuildParameter struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// WorkspaceBuild is one start, stop or delete of a workspace.
type WorkspaceBuild struct {
	ID                      uuid.UUID           `json:"id"`
	CreatedAt               time.Time           `json:"created_at"`
	UpdatedAt               time.Time           `json:"updated_at"`
	WorkspaceID             uuid.UUID           `json:"workspace_id"`
	WorkspaceName           string              `json:"workspace_name"`
	WorkspaceOwnerID        uuid.UUID           `json:"workspace_owner_id"`
	WorkspaceOwnerName      string              `json:"workspace_owner_name"`
	WorkspaceOwnerAvatarURL string              `json:"workspace_owner_avatar_url"`
	TemplateVersionID       uuid.UUID           `json:"template_version_id"`
	TemplateVersionName     string              `json:"template_version_name"`
	BuildNumber             int32               `json:"build_number"`
	Transition              WorkspaceTransition `json:"transition"`
	InitiatorID             uuid.UUID           `json:"initiator_id"`
	InitiatorUsername       string              `json:"initiator_name"`
	Job                     ProvisionerJob      `json:"job"`
	Reason                  BuildReason         `json:"reason"`
	Resources               []WorkspaceResource `json:"resources"` // never null
	// Deadline and MaxDeadline are null when unset.
	Deadline    *time.Time      `json:"deadline"`
	MaxDeadline *time.Time      `json:"max_deadline"`
	Status      WorkspaceStatus `json:"status"`
	DailyCost   int32           `json:"daily_cost"`
	// TemplateVersionPresetID is the preset the build used, or null.
	TemplateVersionPresetID *uuid.UUID `json:"template_version_preset_id"`
	// MatchedProvisioners is sent on every build.
	MatchedProvisioners *MatchedProvisioners `json:"matched_provisioners,omitempty"`
}

// CreateWorkspaceBuildRequest is the body of POST /workspaces/{workspace}/builds.
type CreateWorkspaceBuildRequest struct {
	// TemplateVersionID defaults to the last build's version.
	TemplateVersionID uuid.UUID           `json:"template_version_id,omitzero"`
	Transition        WorkspaceTransition `json:"transition" validate:"oneof=start stop delete"`
	// ProvisionerState replaces the build state (template admins only).
	ProvisionerState []byte `json:"state,omitempty"`
	// Orphan deletes without running the provisioner (delete only).
	Orphan              bool                      `json:"orphan,omitempty"`
	RichParameterValues []WorkspaceBuildParameter `json:"rich_parameter_values,omitempty"`
	// TemplateVersionPresetID is the preset whose values the build uses.
	TemplateVersionPresetID uuid.UUID                  `json:"template_version_preset_id,omitzero"`
	LogLevel                LogLevel                   `json:"log_level,omitempty"`
	Reason                  CreateWorkspaceBuildReason `json:"reason,omitempty" validate:"omitempty,oneof=dashboard cli ssh_connection vscode_connection jetbrains_connection"`
}

// CancelWorkspaceBuildStatus is the status a cancel may require.
type CancelWorkspaceBuildStatus string

// CancelWorkspaceBuildStatus values.
const (
	CancelWorkspaceBuildStatusRunning CancelWorkspaceBuildStatus = "running"
	CancelWorkspaceBuildStatusPending CancelWorkspaceBuildStatus = "pending"
)

// CancelWorkspaceBuildParams are the query parameters of
// PATCH /workspacebuilds/{workspacebuild}/cancel.
type CancelWorkspaceBuildParams struct {
	// ExpectStatus, when set, makes the cancel fail with 412 unless the job
	// has this status.
	ExpectStatus CancelWorkspaceBuildStatus
}

func buildPath(id uuid.UUID, suffix string) string {
	return "/api/v2/workspacebuilds/" + id.String() + suffix
}

// CreateWorkspaceBuild calls POST /api/v2/workspaces/{workspace}/builds (201).
func (c *Client) CreateWorkspaceBuild(ctx context.Context, workspaceID uuid.UUID, req CreateWorkspaceBuildRequest) (WorkspaceBuild, error) {
	return do[WorkspaceBuild](ctx, c, http.MethodPost, wsPath(workspaceID, "/builds"), req, createdOnly)
}

// WorkspaceBuilds calls GET /api/v2/workspaces/{workspace}/builds (newest
// first). Use WithPagination and WithQueryParam("since", …) to page and
// filter.
func (c *Client) WorkspaceBuilds(ctx context.Context, workspaceID uuid.UUID, opts ...RequestOption) ([]WorkspaceBuild, error) {
	return get[[]WorkspaceBuild](ctx, c, wsPath(workspaceID, "/builds"), opts...)
}

// WorkspaceBuild calls GET /api/v2/workspacebuilds/{workspacebuild}.
func (c *Client) WorkspaceBuild(ctx context.Context, id uuid.UUID) (WorkspaceBuild, error) {
	return get[WorkspaceBuild](ctx, c, buildPath(id, ""))
}

// WorkspaceBuildByNumber calls
// GET /api/v2/users/{user}/workspace/{workspacename}/builds/{buildnumber}.
// buildNumber is sent as is, so callers can exercise malformed numbers.
func (c *Client) WorkspaceBuildByNumber(ctx context.Context, owner, workspace, buildNumber string) (WorkspaceBuild, error) {
	return get[WorkspaceBuild](ctx, c, fmt.Sprintf("/api/v2/users/%s/workspace/%s/builds/%s",
		url.PathEscape(owner), url.PathEscape(workspace), url.PathEscape(buildNumber)))
}

// CancelWorkspaceBuild calls
// PATCH /api/v2/workspacebuilds/{workspacebuild}/cancel[?expect_status=…].
func (c *Client) CancelWorkspaceBuild(ctx context.Context, id uuid.UUID, params CancelWorkspaceBuildParams) error {
	var opts []RequestOption
	if params.ExpectStatus != "" {
		opts = append(opts, WithQueryParam("expect_status", string(params.ExpectStatus)))
	}
	return exec(ctx, c, http.MethodPatch, buildPath(id, "/cancel"), nil, okOnly, opts...)
}

// WorkspaceBuildResources calls
// GET /api/v2/workspacebuilds/{workspacebuild}/resources.
func (c *Client) WorkspaceBuildResources(ctx context.Context, id uuid.UUID) ([]WorkspaceResource, error) {
	return get[[]WorkspaceResource](ctx, c, buildPath(id, "/resources"))
}

// WorkspaceBuildParameters calls
// GET /api/v2/workspacebuilds/{workspacebuild}/parameters.
func (c *Client) WorkspaceBuildParameters(ctx context.Context, id uuid.UUID) ([]WorkspaceBuildParameter, error) {
	return get[[]WorkspaceBuildParameter](ctx, c, buildPath(id, "/parameters"))
}

// WorkspaceBuildState calls GET /api/v2/workspacebuilds/{workspacebuild}/state
// and returns the raw state bytes.
func (c *Client) WorkspaceBuildState(ctx context.Context, id uuid.UUID) ([]byte, error) {
	res, err := c.Request(ctx, http.MethodGet, buildPath(id, "/state"), nil)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, ReadBodyAsError(res)
	}
	state, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("read build state: %w", err)
	}
	return state, nil
}

// WorkspaceBuildLogsAfter calls
// GET /api/v2/workspacebuilds/{workspacebuild}/logs?after=N (no follow).
func (c *Client) WorkspaceBuildLogsAfter(ctx context.Context, id uuid.UUID, after int64) ([]ProvisionerJobLog, error) {
	return logsAfter(ctx, c, buildPath(id, "/logs"), after)
}

// WorkspaceBuildLogsFollow opens the websocket
// GET /api/v2/workspacebuilds/{workspacebuild}/logs?follow&after=N. The
// channel closes when the server closes the socket (the job has finished).
func (c *Client) WorkspaceBuildLogsFollow(ctx context.Context, id uuid.UUID, after int64) (<-chan ProvisionerJobLog, io.Closer, error) {
	return followLogs(ctx, c, buildPath(id, "/logs"), after)
}

// UpdateWorkspaceBuildStateRequest is the body of
// PUT /workspacebuilds/{build}/state (the state travels base64-encoded).
type UpdateWorkspaceBuildStateRequest struct {
	State []byte `json:"state"`
}

// UpdateWorkspaceBuildState calls PUT /api/v2/workspacebuilds/{build}/state (204).
func (c *Client) UpdateWorkspaceBuildState(ctx context.Context, build uuid.UUID, state []byte) error {
	return exec(ctx, c, http.MethodPut, "/api/v2/workspacebuilds/"+build.String()+"/state",
		UpdateWorkspaceBuildStateRequest{State: state}, noContent)
}
