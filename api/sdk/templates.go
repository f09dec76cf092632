package sdk

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// WorkspaceAgentPortShareLevel is the widest audience a shared port may have.
type WorkspaceAgentPortShareLevel string

// WorkspaceAgentPortShareLevel values.
const (
	WorkspaceAgentPortShareLevelOwner         WorkspaceAgentPortShareLevel = "owner"
	WorkspaceAgentPortShareLevelAuthenticated WorkspaceAgentPortShareLevel = "authenticated"
	WorkspaceAgentPortShareLevelOrganization  WorkspaceAgentPortShareLevel = "organization"
	WorkspaceAgentPortShareLevelPublic        WorkspaceAgentPortShareLevel = "public"
)

// CORSBehavior controls how workspace apps answer CORS requests.
type CORSBehavior string

// CORSBehavior values.
const (
	CORSBehaviorSimple   CORSBehavior = "simple"
	CORSBehaviorPassthru CORSBehavior = "passthru"
)

// TransitionStats holds build-time percentiles in milliseconds; a value is
// null when there is no data.
type TransitionStats struct {
	P50 *int64 `json:"p50"`
	P95 *int64 `json:"p95"`
}

// TemplateBuildTimeStats always carries the three transitions.
type TemplateBuildTimeStats struct {
	Start  TransitionStats `json:"start"`
	Stop   TransitionStats `json:"stop"`
	Delete TransitionStats `json:"delete"`
}

// TemplateAutostopRequirement says on which days workspaces must restart.
type TemplateAutostopRequirement struct {
	// DaysOfWeek holds lowercase weekday names ("monday"…); never null.
	DaysOfWeek []string `json:"days_of_week"`
	// Weeks between required restarts.
	Weeks int64 `json:"weeks"`
}

// TemplateAutostartRequirement says on which days autostart may happen.
type TemplateAutostartRequirement struct {
	// DaysOfWeek holds lowercase weekday names ("monday"…); never null.
	DaysOfWeek []string `json:"days_of_week"`
}

// Template is a named, versioned workspace definition.
type Template struct {
	ID                      uuid.UUID       `json:"id"`
	CreatedAt               time.Time       `json:"created_at"`
	UpdatedAt               time.Time       `json:"updated_at"`
	OrganizationID          uuid.UUID       `json:"organization_id"`
	OrganizationName        string          `json:"organization_name"`
	OrganizationDisplayName string          `json:"organization_display_name"`
	OrganizationIcon        string          `json:"organization_icon"`
	Name                    string          `json:"name"`
	DisplayName             string          `json:"display_name"`
	Provisioner             ProvisionerType `json:"provisioner"`
	ActiveVersionID         uuid.UUID       `json:"active_version_id"`
	// ActiveUserCount counts active users over the last 7 days.
	ActiveUserCount     int                    `json:"active_user_count"`
	WorkspaceOwnerCount int                    `json:"workspace_owner_count"`
	BuildTimeStats      TemplateBuildTimeStats `json:"build_time_stats"`
	Description         string                 `json:"description"`
	Deprecated          bool                   `json:"deprecated"`
	DeprecationMessage  string                 `json:"deprecation_message"`
	Icon                string                 `json:"icon"`
	// Durations are in milliseconds.
	DefaultTTLMillis               int64                        `json:"default_ttl_ms"`
	ActivityBumpMillis             int64                        `json:"activity_bump_ms"`
	AutostopRequirement            TemplateAutostopRequirement  `json:"autostop_requirement"`
	AutostartRequirement           TemplateAutostartRequirement `json:"autostart_requirement"`
	CreatedByID                    uuid.UUID                    `json:"created_by_id"`
	CreatedByName                  string                       `json:"created_by_name"`
	AllowUserAutostart             bool                         `json:"allow_user_autostart"`
	AllowUserAutostop              bool                         `json:"allow_user_autostop"`
	AllowUserCancelWorkspaceJobs   bool                         `json:"allow_user_cancel_workspace_jobs"`
	FailureTTLMillis               int64                        `json:"failure_ttl_ms"`
	TimeTilDormantMillis           int64                        `json:"time_til_dormant_ms"`
	TimeTilDormantAutoDeleteMillis int64                        `json:"time_til_dormant_autodelete_ms"`
	RequireActiveVersion           bool                         `json:"require_active_version"`
	MaxPortShareLevel              WorkspaceAgentPortShareLevel `json:"max_port_share_level"`
	CORSBehavior                   CORSBehavior                 `json:"cors_behavior"`
	UseClassicParameterFlow        bool                         `json:"use_classic_parameter_flow"`
	UseTerraformWorkspaceCache     bool                         `json:"use_terraform_workspace_cache"`
}

// CreateTemplateRequest is the body of POST /organizations/{o}/templates.
// Pointer fields are optional: nil means "use the default".
//
// Naming trap: the dormancy durations are called dormant_ttl_ms and
// delete_ttl_ms here, but time_til_dormant_ms and
// time_til_dormant_autodelete_ms on Template and UpdateTemplateMeta.
type CreateTemplateRequest struct {
	Name        string    `json:"name" validate:"template_name"`
	DisplayName string    `json:"display_name,omitempty" validate:"template_display_name"`
	Description string    `json:"description,omitempty" validate:"lt=128"`
	Icon        string    `json:"icon,omitempty"`
	VersionID   uuid.UUID `json:"template_version_id" validate:"required"`
	// Durations are in milliseconds.
	DefaultTTLMillis     *int64                        `json:"default_ttl_ms,omitempty"`
	ActivityBumpMillis   *int64                        `json:"activity_bump_ms,omitempty"` // default 1 h
	AutostopRequirement  *TemplateAutostopRequirement  `json:"autostop_requirement,omitempty"`
	AutostartRequirement *TemplateAutostartRequirement `json:"autostart_requirement,omitempty"`
	// AllowUserCancelWorkspaceJobs defaults to false, the others to true.
	AllowUserCancelWorkspaceJobs   *bool                         `json:"allow_user_cancel_workspace_jobs,omitempty"`
	AllowUserAutostart             *bool                         `json:"allow_user_autostart,omitempty"`
	AllowUserAutostop              *bool                         `json:"allow_user_autostop,omitempty"`
	FailureTTLMillis               *int64                        `json:"failure_ttl_ms,omitempty"`
	TimeTilDormantMillis           *int64                        `json:"dormant_ttl_ms,omitempty"`
	TimeTilDormantAutoDeleteMillis *int64                        `json:"delete_ttl_ms,omitempty"`
	DisableEveryoneGroupAccess     bool                          `json:"disable_everyone_group_access"`
	RequireActiveVersion           bool                          `json:"require_active_version"`
	MaxPortShareLevel              *WorkspaceAgentPortShareLevel `json:"max_port_share_level,omitempty"`
	CORSBehavior                   *CORSBehavior                 `json:"cors_behavior,omitempty"`
	UseClassicParameterFlow        *bool                         `json:"use_classic_parameter_flow,omitempty"`
}

// UpdateTemplateMeta is the body of PATCH /templates/{template}. Clients send
// the whole object: omitted booleans and durations are written as false/0.
// Nil string pointers keep the current value; an empty Name keeps the name.
type UpdateTemplateMeta struct {
	Name        string  `json:"name,omitempty" validate:"omitempty,template_name"`
	DisplayName *string `json:"display_name,omitempty" validate:"omitempty,template_display_name"`
	Description *string `json:"description,omitempty" validate:"omitempty,lt=128"`
	Icon        *string `json:"icon,omitempty"`
	// Durations are in milliseconds.
	DefaultTTLMillis               int64                         `json:"default_ttl_ms,omitempty"`
	ActivityBumpMillis             int64                         `json:"activity_bump_ms,omitempty"`
	AutostopRequirement            *TemplateAutostopRequirement  `json:"autostop_requirement,omitempty"`
	AutostartRequirement           *TemplateAutostartRequirement `json:"autostart_requirement,omitempty"`
	AllowUserAutostart             bool                          `json:"allow_user_autostart,omitempty"`
	AllowUserAutostop              bool                          `json:"allow_user_autostop,omitempty"`
	AllowUserCancelWorkspaceJobs   bool                          `json:"allow_user_cancel_workspace_jobs,omitempty"`
	FailureTTLMillis               int64                         `json:"failure_ttl_ms,omitempty"`
	TimeTilDormantMillis           int64                         `json:"time_til_dormant_ms,omitempty"`
	TimeTilDormantAutoDeleteMillis int64                         `json:"time_til_dormant_autodelete_ms,omitempty"`
	UpdateWorkspaceLastUsedAt      bool                          `json:"update_workspace_last_used_at"`
	UpdateWorkspaceDormantAt       bool                          `json:"update_workspace_dormant_at"`
	RequireActiveVersion           bool                          `json:"require_active_version,omitempty"`
	// DeprecationMessage deprecates the template when non-empty and
	// un-deprecates it when empty; nil keeps the current state.
	DeprecationMessage         *string                       `json:"deprecation_message,omitempty"`
	DisableEveryoneGroupAccess bool                          `json:"disable_everyone_group_access"`
	MaxPortShareLevel          *WorkspaceAgentPortShareLevel `json:"max_port_share_level,omitempty"`
	CORSBehavior               *CORSBehavior                 `json:"cors_behavior,omitempty"`
	UseClassicParameterFlow    *bool                         `json:"use_classic_parameter_flow,omitempty"`
}

// UpdateActiveTemplateVersion is the body of PATCH /templates/{t}/versions.
type UpdateActiveTemplateVersion struct {
	ID uuid.UUID `json:"id"`
}

// DAUEntry is one day of a DAU series.
type DAUEntry struct {
	// Date is YYYY-MM-DD in the requested offset's zone.
	Date   string `json:"date"`
	Amount int    `json:"amount"`
}

// DAUsResponse answers GET /templates/{template}/daus.
type DAUsResponse struct {
	Entries      []DAUEntry `json:"entries"` // never null
	TZHourOffset int        `json:"tz_hour_offset"`
}

// Pagination holds the common list parameters; zero values are not sent.
type Pagination struct {
	AfterID uuid.UUID
	// Limit 0 means no limit.
	Limit  int
	Offset int
}

// WithPagination adds after_id, limit and offset (when non-zero) to the query.
func WithPagination(p Pagination) RequestOption {
	return func(r *http.Request) {
		q := r.URL.Query()
		if p.AfterID != uuid.Nil {
			q.Set("after_id", p.AfterID.String())
		}
		if p.Limit > 0 {
			q.Set("limit", strconv.Itoa(p.Limit))
		}
		if p.Offset > 0 {
			q.Set("offset", strconv.Itoa(p.Offset))
		}
		r.URL.RawQuery = q.Encode()
	}
}

// CreateTemplate calls POST /api/v2/organizations/{organization}/templates
// (201).
func (c *Client) CreateTemplate(ctx context.Context, orgID uuid.UUID, req CreateTemplateRequest) (Template, error) {
	return do[Template](ctx, c, http.MethodPost, fmt.Sprintf("/api/v2/organizations/%s/templates", orgID), req, createdOnly)
}

// TemplatesByOrganization calls GET /api/v2/organizations/{organization}/templates.
func (c *Client) TemplatesByOrganization(ctx context.Context, orgID uuid.UUID) ([]Template, error) {
	return get[[]Template](ctx, c, fmt.Sprintf("/api/v2/organizations/%s/templates", orgID))
}

// TemplateByName calls
// GET /api/v2/organizations/{organization}/templates/{templatename}.
func (c *Client) TemplateByName(ctx context.Context, orgID uuid.UUID, name string) (Template, error) {
	return get[Template](ctx, c, fmt.Sprintf("/api/v2/organizations/%s/templates/%s", orgID, url.PathEscape(name)))
}

// Templates calls GET /api/v2/templates with an optional search query q.
func (c *Client) Templates(ctx context.Context, q string) ([]Template, error) {
	var opts []RequestOption
	if q != "" {
		opts = append(opts, WithQueryParam("q", q))
	}
	return get[[]Template](ctx, c, "/api/v2/templates", opts...)
}

// Template calls GET /api/v2/templates/{template}.
func (c *Client) Template(ctx context.Context, id uuid.UUID) (Template, error) {
	return get[Template](ctx, c, "/api/v2/templates/"+id.String())
}

// DeleteTemplate calls DELETE /api/v2/templates/{template}.
func (c *Client) DeleteTemplate(ctx context.Context, id uuid.UUID) error {
	return exec(ctx, c, http.MethodDelete, "/api/v2/templates/"+id.String(), nil, okOnly)
}

// UpdateTemplateMeta calls PATCH /api/v2/templates/{template}. It returns
// ErrNotModified when the server answers 304.
func (c *Client) UpdateTemplateMeta(ctx context.Context, id uuid.UUID, req UpdateTemplateMeta) (Template, error) {
	return doNotModified[Template](ctx, c, http.MethodPatch, "/api/v2/templates/"+id.String(), req)
}

// TemplateDAUs calls GET /api/v2/templates/{template}/daus?tz_offset=N.
func (c *Client) TemplateDAUs(ctx context.Context, id uuid.UUID, tzOffset int) (DAUsResponse, error) {
	return get[DAUsResponse](ctx, c, fmt.Sprintf("/api/v2/templates/%s/daus", id), WithQueryParam("tz_offset", strconv.Itoa(tzOffset)))
}

// TemplateVersionsByTemplate calls GET /api/v2/templates/{template}/versions.
// Use WithPagination and WithQueryParam("include_archived", "true") to page
// and filter.
func (c *Client) TemplateVersionsByTemplate(ctx context.Context, templateID uuid.UUID, opts ...RequestOption) ([]TemplateVersion, error) {
	return get[[]TemplateVersion](ctx, c, fmt.Sprintf("/api/v2/templates/%s/versions", templateID), opts...)
}

// UpdateActiveTemplateVersion calls PATCH /api/v2/templates/{template}/versions
// to promote a version.
func (c *Client) UpdateActiveTemplateVersion(ctx context.Context, templateID uuid.UUID, req UpdateActiveTemplateVersion) error {
	return exec(ctx, c, http.MethodPatch, fmt.Sprintf("/api/v2/templates/%s/versions", templateID), req, okOnly)
}

// TemplateVersionByName calls
// GET /api/v2/templates/{template}/versions/{templateversionname}.
func (c *Client) TemplateVersionByName(ctx context.Context, templateID uuid.UUID, name string) (TemplateVersion, error) {
	return get[TemplateVersion](ctx, c, fmt.Sprintf("/api/v2/templates/%s/versions/%s", templateID, url.PathEscape(name)))
}
