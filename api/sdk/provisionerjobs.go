package sdk

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ProvisionerJobStatus is derived from a job's timestamps and error.
type ProvisionerJobStatus string

// ProvisionerJobStatus values.
const (
	ProvisionerJobPending   ProvisionerJobStatus = "pending"
	ProvisionerJobRunning   ProvisionerJobStatus = "running"
	ProvisionerJobSucceeded ProvisionerJobStatus = "succeeded"
	ProvisionerJobCanceling ProvisionerJobStatus = "canceling"
	ProvisionerJobCanceled  ProvisionerJobStatus = "canceled"
	ProvisionerJobFailed    ProvisionerJobStatus = "failed"
	ProvisionerJobUnknown   ProvisionerJobStatus = "unknown"
)

// Active reports whether a job with this status has not completed yet
// (pending, running or canceling).
func (s ProvisionerJobStatus) Active() bool {
	return s == ProvisionerJobPending || s == ProvisionerJobRunning || s == ProvisionerJobCanceling
}

// ProvisionerJobType says what a job does.
type ProvisionerJobType string

// ProvisionerJobType values.
const (
	ProvisionerJobTypeTemplateVersionImport ProvisionerJobType = "template_version_import"
	ProvisionerJobTypeWorkspaceBuild        ProvisionerJobType = "workspace_build"
	ProvisionerJobTypeTemplateVersionDryRun ProvisionerJobType = "template_version_dry_run"
)

// JobErrorCode classifies some job failures; empty when there is none.
type JobErrorCode string

// JobErrorCode values.
const (
	RequiredTemplateVariables JobErrorCode = "REQUIRED_TEMPLATE_VARIABLES"
	MissingTemplateParameter  JobErrorCode = "MISSING_TEMPLATE_PARAMETER"
)

// ProvisionerType names a provisioner.
type ProvisionerType string

// ProvisionerType values.
const (
	ProvisionerTypeEcho      ProvisionerType = "echo"
	ProvisionerTypeTerraform ProvisionerType = "terraform"
)

// LogLevel is the severity of a log line.
type LogLevel string

// LogLevel values.
const (
	LogLevelTrace LogLevel = "trace"
	LogLevelDebug LogLevel = "debug"
	LogLevelInfo  LogLevel = "info"
	LogLevelWarn  LogLevel = "warn"
	LogLevelError LogLevel = "error"
)

// LogSource says who wrote a log line.
type LogSource string

// LogSource values.
const (
	// LogSourceProvisionerDaemon marks the worker's framing lines (stage
	// headers, reaper notices).
	LogSourceProvisionerDaemon LogSource = "provisioner_daemon"
	// LogSourceProvisioner marks output from echo or Terraform.
	LogSourceProvisioner LogSource = "provisioner"
)

// ProvisionerJobInput exposes the object a job works on.
type ProvisionerJobInput struct {
	TemplateVersionID *uuid.UUID `json:"template_version_id,omitempty"`
	WorkspaceBuildID  *uuid.UUID `json:"workspace_build_id,omitempty"`
	Error             string     `json:"error,omitempty"`
}

// ProvisionerJobMetadata names the template (and workspace) a job belongs to.
type ProvisionerJobMetadata struct {
	TemplateVersionName string     `json:"template_version_name"`
	TemplateID          uuid.UUID  `json:"template_id"`
	TemplateName        string     `json:"template_name"`
	TemplateDisplayName string     `json:"template_display_name"`
	TemplateIcon        string     `json:"template_icon"`
	WorkspaceID         *uuid.UUID `json:"workspace_id,omitempty"`
	WorkspaceName       string     `json:"workspace_name,omitempty"`
}

// ProvisionerJob is a template import, dry-run or workspace build job.
type ProvisionerJob struct {
	ID        uuid.UUID `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// StartedAt, CompletedAt and CanceledAt are omitted while unset.
	StartedAt   *time.Time           `json:"started_at,omitempty"`
	CompletedAt *time.Time           `json:"completed_at,omitempty"`
	CanceledAt  *time.Time           `json:"canceled_at,omitempty"`
	Error       string               `json:"error"`
	ErrorCode   JobErrorCode         `json:"error_code"`
	Status      ProvisionerJobStatus `json:"status"`
	WorkerID    *uuid.UUID           `json:"worker_id,omitempty"`
	WorkerName  string               `json:"worker_name,omitempty"`
	FileID      uuid.UUID            `json:"file_id"`
	Tags        map[string]string    `json:"tags"` // never null
	// QueuePosition and QueueSize are 0 unless the job is pending and an
	// online daemon could take it.
	QueuePosition  int                 `json:"queue_position"`
	QueueSize      int                 `json:"queue_size"`
	OrganizationID uuid.UUID           `json:"organization_id"`
	InitiatorID    uuid.UUID           `json:"initiator_id"`
	Input          ProvisionerJobInput `json:"input"`
	Type           ProvisionerJobType  `json:"type"`
	// AvailableWorkers holds the IDs of the online daemons that match the job.
	AvailableWorkers []uuid.UUID            `json:"available_workers,omitempty"`
	Metadata         ProvisionerJobMetadata `json:"metadata"`
	LogsOverflowed   bool                   `json:"logs_overflowed"`
}

// ProvisionerJobLog is one line of a job's output. IDs strictly increase
// within a job.
type ProvisionerJobLog struct {
	ID        int64     `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Source    LogSource `json:"log_source"`
	Level     LogLevel  `json:"log_level"`
	Stage     string    `json:"stage"`
	Output    string    `json:"output"`
}

// MatchedProvisioners counts the daemons that could run a job.
type MatchedProvisioners struct {
	// Count is the number of matching daemons, online or not.
	Count int `json:"count"`
	// Available is the number of matching daemons that are online.
	Available int `json:"available"`
	// MostRecentlySeen is null when no daemon matches.
	MostRecentlySeen *time.Time `json:"most_recently_seen"`
}

// OrganizationProvisionerJobsOptions filters GET
// /organizations/{org}/provisionerjobs. Zero values do not filter; Limit 0
// means the server's default (50).
type OrganizationProvisionerJobsOptions struct {
	Limit       int
	IDs         []uuid.UUID
	Status      []ProvisionerJobStatus
	Tags        map[string]string
	InitiatorID uuid.UUID
}

// OrganizationProvisionerJobs calls GET /api/v2/organizations/{org}/provisionerjobs.
func (c *Client) OrganizationProvisionerJobs(ctx context.Context, org string, opts OrganizationProvisionerJobsOptions) ([]ProvisionerJob, error) {
	q := url.Values{}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if len(opts.IDs) > 0 {
		ids := make([]string, 0, len(opts.IDs))
		for _, id := range opts.IDs {
			ids = append(ids, id.String())
		}
		q.Set("ids", strings.Join(ids, ","))
	}
	if len(opts.Status) > 0 {
		ss := make([]string, 0, len(opts.Status))
		for _, s := range opts.Status {
			ss = append(ss, string(s))
		}
		q.Set("status", strings.Join(ss, ","))
	}
	if len(opts.Tags) > 0 {
		raw, err := json.Marshal(opts.Tags)
		if err != nil {
			return nil, err
		}
		q.Set("tags", string(raw))
	}
	if opts.InitiatorID != uuid.Nil {
		q.Set("initiator", opts.InitiatorID.String())
	}
	path := "/api/v2/organizations/" + url.PathEscape(org) + "/provisionerjobs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return get[[]ProvisionerJob](ctx, c, path)
}

// OrganizationProvisionerJob calls GET /api/v2/organizations/{org}/provisionerjobs/{job}.
func (c *Client) OrganizationProvisionerJob(ctx context.Context, org string, id uuid.UUID) (ProvisionerJob, error) {
	return get[ProvisionerJob](ctx, c, "/api/v2/organizations/"+url.PathEscape(org)+"/provisionerjobs/"+id.String())
}
