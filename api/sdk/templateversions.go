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

// ProvisionerStorageMethod says where a version's source lives.
type ProvisionerStorageMethod string

// ProvisionerStorageMethodFile is the only storage method: an uploaded file.
const ProvisionerStorageMethodFile ProvisionerStorageMethod = "file"

// TemplateVersion is one uploaded revision of a template.
type TemplateVersion struct {
	ID uuid.UUID `json:"id"`
	// TemplateID is null until the version is attached to a template.
	TemplateID     uuid.NullUUID  `json:"template_id"`
	OrganizationID uuid.UUID      `json:"organization_id"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
	Name           string         `json:"name"`
	Message        string         `json:"message"`
	Job            ProvisionerJob `json:"job"`
	Readme         string         `json:"readme"`
	CreatedBy      MinimalUser    `json:"created_by"`
	Archived       bool           `json:"archived"`
	// Warnings is omitted when empty.
	Warnings []string `json:"warnings,omitempty"`
	// MatchedProvisioners is sent while the import job is pending.
	MatchedProvisioners *MatchedProvisioners `json:"matched_provisioners,omitempty"`
	HasExternalAgent    bool                 `json:"has_external_agent"`
}

// VariableValue sets a template (Terraform) variable.
type VariableValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CreateTemplateVersionRequest is the body of
// POST /organizations/{organization}/templateversions.
type CreateTemplateVersionRequest struct {
	// Name is generated when empty.
	Name    string `json:"name,omitempty" validate:"omitempty,template_version_name"`
	Message string `json:"message,omitempty" validate:"lt=1048577"`
	// TemplateID attaches the version to an existing template.
	TemplateID    uuid.UUID                `json:"template_id,omitzero"`
	StorageMethod ProvisionerStorageMethod `json:"storage_method" validate:"omitempty,oneof=file"`
	FileID        uuid.UUID                `json:"file_id,omitzero"`
	ExampleID     string                   `json:"example_id,omitempty"`
	Provisioner   ProvisionerType          `json:"provisioner" validate:"oneof=terraform echo"`
	// ProvisionerTags select the daemons that may run the job.
	ProvisionerTags    map[string]string `json:"tags"`
	UserVariableValues []VariableValue   `json:"user_variable_values,omitempty"`
}

// PatchTemplateVersionRequest is the body of PATCH /templateversions/{tv}.
// Nil fields (and an empty name) keep the current value.
type PatchTemplateVersionRequest struct {
	Name    string  `json:"name" validate:"omitempty,template_version_name"`
	Message *string `json:"message,omitempty"`
}

// TemplateVersionVariable is a template (Terraform) variable. Sensitive values
// read as "*redacted*".
type TemplateVersionVariable struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Type is string, number or bool.
	Type         string `json:"type"`
	Value        string `json:"value"`
	DefaultValue string `json:"default_value"`
	Required     bool   `json:"required"`
	Sensitive    bool   `json:"sensitive"`
}

// ParameterFormType is the UI control for a rich parameter.
type ParameterFormType string

// ParameterFormType values.
const (
	ParameterFormTypeDefault     ParameterFormType = ""
	ParameterFormTypeRadio       ParameterFormType = "radio"
	ParameterFormTypeDropdown    ParameterFormType = "dropdown"
	ParameterFormTypeInput       ParameterFormType = "input"
	ParameterFormTypeTextArea    ParameterFormType = "textarea"
	ParameterFormTypeSlider      ParameterFormType = "slider"
	ParameterFormTypeCheckbox    ParameterFormType = "checkbox"
	ParameterFormTypeSwitch      ParameterFormType = "switch"
	ParameterFormTypeTagSelect   ParameterFormType = "tag-select"
	ParameterFormTypeMultiSelect ParameterFormType = "multi-select"
	ParameterFormTypeError       ParameterFormType = "error"
)

// ValidationMonotonicOrder constrains how a number parameter may change.
type ValidationMonotonicOrder string

// ValidationMonotonicOrder values.
const (
	MonotonicOrderIncreasing ValidationMonotonicOrder = "increasing"
	MonotonicOrderDecreasing ValidationMonotonicOrder = "decreasing"
)

// TemplateVersionParameterOption is one allowed value of a rich parameter.
type TemplateVersionParameterOption struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Value       string `json:"value"`
	Icon        string `json:"icon"`
}

// TemplateVersionParameter is a rich parameter of a template version.
type TemplateVersionParameter struct {
	Name                 string `json:"name"`
	DisplayName          string `json:"display_name,omitempty"`
	Description          string `json:"description"`
	DescriptionPlaintext string `json:"description_plaintext"`
	// Type is string, number, bool or list(string).
	Type                string                           `json:"type"`
	FormType            ParameterFormType                `json:"form_type"`
	Mutable             bool                             `json:"mutable"`
	Ephemeral           bool                             `json:"ephemeral"`
	DefaultValue        string                           `json:"default_value"`
	Icon                string                           `json:"icon"`
	Options             []TemplateVersionParameterOption `json:"options"` // never null
	ValidationRegex     string                           `json:"validation_regex,omitempty"`
	ValidationError     string                           `json:"validation_error,omitempty"`
	ValidationMin       *int32                           `json:"validation_min,omitempty"`
	ValidationMax       *int32                           `json:"validation_max,omitempty"`
	ValidationMonotonic ValidationMonotonicOrder         `json:"validation_monotonic,omitempty"`
	// Required means the parameter has no default.
	Required bool `json:"required"`
}

// TemplateVersionExternalAuth is an external-auth provider a version needs.
type TemplateVersionExternalAuth struct {
	ID              string `json:"id"`
	Type            string `json:"type"`
	DisplayName     string `json:"display_name"`
	DisplayIcon     string `json:"display_icon"`
	AuthenticateURL string `json:"authenticate_url"`
	Authenticated   bool   `json:"authenticated"`
	Optional        bool   `json:"optional,omitempty"`
}

// PresetParameter is one value of a preset. Coder spells the preset keys
// capitalised; Go decoding matches either case.
type PresetParameter struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// Preset is a named set of parameter values of a version.
type Preset struct {
	ID         uuid.UUID         `json:"ID"`
	Name       string            `json:"Name"`
	Parameters []PresetParameter `json:"Parameters"`
	Default    bool              `json:"Default"`
	// DesiredPrebuildInstances is the prebuild count the template asks
	// for, or null (berth builds no prebuilt workspaces).
	DesiredPrebuildInstances *int   `json:"DesiredPrebuildInstances"`
	Description              string `json:"Description"`
	Icon                     string `json:"Icon"`
}

// CreateTemplateVersionDryRunRequest is the body of
// POST /templateversions/{tv}/dry-run.
type CreateTemplateVersionDryRunRequest struct {
	// WorkspaceName defaults to "dryrun".
	WorkspaceName       string                    `json:"workspace_name"`
	RichParameterValues []WorkspaceBuildParameter `json:"rich_parameter_values"`
	UserVariableValues  []VariableValue           `json:"user_variable_values,omitempty"`
}

func tvPath(id uuid.UUID, suffix string) string {
	return "/api/v2/templateversions/" + id.String() + suffix
}

func dryRunPath(versionID, jobID uuid.UUID, suffix string) string {
	return fmt.Sprintf("/api/v2/templateversions/%s/dry-run/%s%s", versionID, jobID, suffix)
}

// CreateTemplateVersion calls
// POST /api/v2/organizations/{organization}/templateversions (201).
func (c *Client) CreateTemplateVersion(ctx context.Context, orgID uuid.UUID, req CreateTemplateVersionRequest) (TemplateVersion, error) {
	return do[TemplateVersion](ctx, c, http.MethodPost, fmt.Sprintf("/api/v2/organizations/%s/templateversions", orgID), req, createdOnly)
}

// TemplateVersion calls GET /api/v2/templateversions/{templateversion}.
func (c *Client) TemplateVersion(ctx context.Context, id uuid.UUID) (TemplateVersion, error) {
	return get[TemplateVersion](ctx, c, tvPath(id, ""))
}

// PatchTemplateVersion calls PATCH /api/v2/templateversions/{templateversion}.
func (c *Client) PatchTemplateVersion(ctx context.Context, id uuid.UUID, req PatchTemplateVersionRequest) (TemplateVersion, error) {
	return do[TemplateVersion](ctx, c, http.MethodPatch, tvPath(id, ""), req, okOnly)
}

// CancelTemplateVersion calls
// PATCH /api/v2/templateversions/{templateversion}/cancel.
func (c *Client) CancelTemplateVersion(ctx context.Context, id uuid.UUID) error {
	return exec(ctx, c, http.MethodPatch, tvPath(id, "/cancel"), nil, okOnly)
}

// TemplateVersionResources calls
// GET /api/v2/templateversions/{templateversion}/resources.
func (c *Client) TemplateVersionResources(ctx context.Context, id uuid.UUID) ([]WorkspaceResource, error) {
	return get[[]WorkspaceResource](ctx, c, tvPath(id, "/resources"))
}

// TemplateVersionLogsAfter calls
// GET /api/v2/templateversions/{templateversion}/logs?after=N (no follow) and
// returns the lines with id > after.
func (c *Client) TemplateVersionLogsAfter(ctx context.Context, id uuid.UUID, after int64) ([]ProvisionerJobLog, error) {
	return logsAfter(ctx, c, tvPath(id, "/logs"), after)
}

// TemplateVersionLogsFollow opens the websocket
// GET /api/v2/templateversions/{templateversion}/logs?follow&after=N. The
// channel closes when the server closes the socket (the job has finished).
func (c *Client) TemplateVersionLogsFollow(ctx context.Context, id uuid.UUID, after int64) (<-chan ProvisionerJobLog, io.Closer, error) {
	return followLogs(ctx, c, tvPath(id, "/logs"), after)
}

// TemplateVersionVariables calls
// GET /api/v2/templateversions/{templateversion}/variables.
func (c *Client) TemplateVersionVariables(ctx context.Context, id uuid.UUID) ([]TemplateVersionVariable, error) {
	return get[[]TemplateVersionVariable](ctx, c, tvPath(id, "/variables"))
}

// TemplateVersionRichParameters calls
// GET /api/v2/templateversions/{templateversion}/rich-parameters.
func (c *Client) TemplateVersionRichParameters(ctx context.Context, id uuid.UUID) ([]TemplateVersionParameter, error) {
	return get[[]TemplateVersionParameter](ctx, c, tvPath(id, "/rich-parameters"))
}

// TemplateVersionExternalAuth calls
// GET /api/v2/templateversions/{templateversion}/external-auth.
func (c *Client) TemplateVersionExternalAuth(ctx context.Context, id uuid.UUID) ([]TemplateVersionExternalAuth, error) {
	return get[[]TemplateVersionExternalAuth](ctx, c, tvPath(id, "/external-auth"))
}

// TemplateVersionPresets calls
// GET /api/v2/templateversions/{templateversion}/presets.
func (c *Client) TemplateVersionPresets(ctx context.Context, id uuid.UUID) ([]Preset, error) {
	return get[[]Preset](ctx, c, tvPath(id, "/presets"))
}

// CreateTemplateVersionDryRun calls
// POST /api/v2/templateversions/{templateversion}/dry-run (201).
func (c *Client) CreateTemplateVersionDryRun(ctx context.Context, versionID uuid.UUID, req CreateTemplateVersionDryRunRequest) (ProvisionerJob, error) {
	return do[ProvisionerJob](ctx, c, http.MethodPost, tvPath(versionID, "/dry-run"), req, createdOnly)
}

// TemplateVersionDryRun calls
// GET /api/v2/templateversions/{templateversion}/dry-run/{jobID}.
func (c *Client) TemplateVersionDryRun(ctx context.Context, versionID, jobID uuid.UUID) (ProvisionerJob, error) {
	return get[ProvisionerJob](ctx, c, dryRunPath(versionID, jobID, ""))
}

// CancelTemplateVersionDryRun calls
// PATCH /api/v2/templateversions/{templateversion}/dry-run/{jobID}/cancel.
func (c *Client) CancelTemplateVersionDryRun(ctx context.Context, versionID, jobID uuid.UUID) error {
	return exec(ctx, c, http.MethodPatch, dryRunPath(versionID, jobID, "/cancel"), nil, okOnly)
}

// TemplateVersionDryRunResources calls
// GET /api/v2/templateversions/{templateversion}/dry-run/{jobID}/resources.
func (c *Client) TemplateVersionDryRunResources(ctx context.Context, versionID, jobID uuid.UUID) ([]WorkspaceResource, error) {
	return get[[]WorkspaceResource](ctx, c, dryRunPath(versionID, jobID, "/resources"))
}

// TemplateVersionDryRunMatchedProvisioners calls
// GET /api/v2/templateversions/{templateversion}/dry-run/{jobID}/matched-provisioners.
func (c *Client) TemplateVersionDryRunMatchedProvisioners(ctx context.Context, versionID, jobID uuid.UUID) (MatchedProvisioners, error) {
	return get[MatchedProvisioners](ctx, c, dryRunPath(versionID, jobID, "/matched-provisioners"))
}

// TemplateVersionDryRunLogsAfter calls
// GET /api/v2/templateversions/{templateversion}/dry-run/{jobID}/logs?after=N
// (no follow).
func (c *Client) TemplateVersionDryRunLogsAfter(ctx context.Context, versionID, jobID uuid.UUID, after int64) ([]ProvisionerJobLog, error) {
	return logsAfter(ctx, c, dryRunPath(versionID, jobID, "/logs"), after)
}

// TemplateVersionDryRunLogsFollow opens the websocket
// GET /api/v2/templateversions/{templateversion}/dry-run/{jobID}/logs?follow&after=N.
func (c *Client) TemplateVersionDryRunLogsFollow(ctx context.Context, versionID, jobID uuid.UUID, after int64) (<-chan ProvisionerJobLog, io.Closer, error) {
	return followLogs(ctx, c, dryRunPath(versionID, jobID, "/logs"), after)
}

// ArchiveTemplateVersionsRequest is the body of
// POST /templates/{template}/versions/archive; All archives every unused
// version, not only failed ones.
type ArchiveTemplateVersionsRequest struct {
	All bool `json:"all"`
}

// ArchiveTemplateVersionsResponse lists the versions archived.
type ArchiveTemplateVersionsResponse struct {
	TemplateID  uuid.UUID   `json:"template_id"`
	ArchivedIDs []uuid.UUID `json:"archived_ids"`
}

// ArchiveTemplateVersions calls POST /api/v2/templates/{template}/versions/archive.
func (c *Client) ArchiveTemplateVersions(ctx context.Context, template uuid.UUID, all bool) (ArchiveTemplateVersionsResponse, error) {
	return do[ArchiveTemplateVersionsResponse](ctx, c, http.MethodPost, "/api/v2/templates/"+template.String()+"/versions/archive",
		ArchiveTemplateVersionsRequest{All: all}, okOnly)
}

// SetArchiveTemplateVersion calls POST /api/v2/templateversions/{v}/archive
// (or /unarchive).
func (c *Client) SetArchiveTemplateVersion(ctx context.Context, version uuid.UUID, archive bool) error {
	action := "archive"
	if !archive {
		action = "unarchive"
	}
	return exec(ctx, c, http.MethodPost, "/api/v2/templateversions/"+version.String()+"/"+action, nil, okOnly)
}

// TemplateVersionByOrganizationAndName calls
// GET /api/v2/organizations/{org}/templates/{template}/versions/{version}.
func (c *Client) TemplateVersionByOrganizationAndName(ctx context.Context, org, template, version string) (TemplateVersion, error) {
	return get[TemplateVersion](ctx, c, "/api/v2/organizations/"+url.PathEscape(org)+"/templates/"+url.PathEscape(template)+
		"/versions/"+url.PathEscape(version))
}
