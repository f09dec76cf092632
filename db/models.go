package db

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Organization is a row of organizations.
type Organization struct {
	bun.BaseModel `bun:"table:organizations"`

	ID          uuid.UUID `bun:"id,pk,type:uuid"`
	Name        string    `bun:"name"`
	DisplayName string    `bun:"display_name"`
	Description string    `bun:"description"`
	Icon        string    `bun:"icon"`
	IsDefault   bool      `bun:"is_default"`
	CreatedAt   time.Time `bun:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at"`
}

// User is a row of users.
type User struct {
	bun.BaseModel `bun:"table:users"`

	ID              uuid.UUID `bun:"id,pk,type:uuid"`
	Email           string    `bun:"email"`
	Username        string    `bun:"username"`
	Name            string    `bun:"name"`
	AvatarURL       string    `bun:"avatar_url"`
	HashedPassword  []byte    `bun:"hashed_password"`
	Status          string    `bun:"status"`
	LoginType       string    `bun:"login_type"`
	RBACRoles       []string  `bun:"rbac_roles,array"`
	ThemePreference string    `bun:"theme_preference"`
	// QuietHoursSchedule is a daily cron spec; empty: the deployment's.
	QuietHoursSchedule string    `bun:"quiet_hours_schedule"`
	Deleted            bool      `bun:"deleted"`
	CreatedAt          time.Time `bun:"created_at"`
	UpdatedAt          time.Time `bun:"updated_at"`
	LastSeenAt         time.Time `bun:"last_seen_at"`
}

// IsOwner reports whether the user holds the site owner role.
func (u *User) IsOwner() bool {
	for _, r := range u.RBACRoles {
		if r == RoleOwner {
			return true
		}
	}
	return false
}

// Built-in site roles (every user is also a "member", which is implied and
// never stored).
const (
	RoleOwner         = "owner"
	RoleUserAdmin     = "user-admin"
	RoleTemplateAdmin = "template-admin"
	RoleAuditor       = "auditor"
	RoleMember        = "member"
)

// Built-in organization roles (every member is an "organization-member",
// implied and never stored).
const (
	RoleOrgAdmin                = "organization-admin"
	RoleOrgUserAdmin            = "organization-user-admin"
	RoleOrgTemplateAdmin        = "organization-template-admin"
	RoleOrgAuditor              = "organization-auditor"
	RoleOrgWorkspaceCreationBan = "organization-workspace-creation-ban"
	RoleOrgMember               = "organization-member"
)

// HasRole reports whether the user holds a site role.
func (u *User) HasRole(role string) bool {
	for _, r := range u.RBACRoles {
		if r == role {
			return true
		}
	}
	return false
}

// User statuses.
const (
	UserStatusActive    = "active"
	UserStatusDormant   = "dormant"
	UserStatusSuspended = "suspended"
)

// OrganizationMember is a row of organization_members.
type OrganizationMember struct {
	bun.BaseModel `bun:"table:organization_members"`

	UserID         uuid.UUID `bun:"user_id,pk,type:uuid"`
	OrganizationID uuid.UUID `bun:"organization_id,pk,type:uuid"`
	Roles          []string  `bun:"roles,array"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

// APIKey is a row of api_keys. Only a hash of the secret is stored.
type APIKey struct {
	bun.BaseModel `bun:"table:api_keys"`

	ID              string    `bun:"id,pk"`
	HashedSecret    []byte    `bun:"hashed_secret"`
	UserID          uuid.UUID `bun:"user_id,type:uuid"`
	LoginType       string    `bun:"login_type"`
	LifetimeSeconds int64     `bun:"lifetime_seconds"`
	TokenName       string    `bun:"token_name"`
	CreatedAt       time.Time `bun:"created_at"`
	UpdatedAt       time.Time `bun:"updated_at"`
	LastUsed        time.Time `bun:"last_used"`
	ExpiresAt       time.Time `bun:"expires_at"`
}

// File is a row of files: an uploaded template archive (always tar).
type File struct {
	bun.BaseModel `bun:"table:files"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	Hash      string    `bun:"hash"`
	CreatedBy uuid.UUID `bun:"created_by,type:uuid"`
	CreatedAt time.Time `bun:"created_at"`
	Mimetype  string    `bun:"mimetype"`
	Data      []byte    `bun:"data"`
}

// ProvisionerDaemon is a row of provisioner_daemons: one berth worker.
type ProvisionerDaemon struct {
	bun.BaseModel `bun:"table:provisioner_daemons"`

	ID             uuid.UUID         `bun:"id,pk,type:uuid"`
	OrganizationID uuid.UUID         `bun:"organization_id,type:uuid"`
	Name           string            `bun:"name"`
	Provisioners   []string          `bun:"provisioners,array"`
	Tags           map[string]string `bun:"tags,type:jsonb"`
	TaskQueue      string            `bun:"task_queue"`
	Version        string            `bun:"version"`
	APIVersion     string            `bun:"api_version"`
	CreatedAt      time.Time         `bun:"created_at"`
	LastSeenAt     time.Time         `bun:"last_seen_at"`
}

// Job types.
const (
	JobTypeTemplateVersionImport = "template_version_import"
	JobTypeTemplateVersionDryRun = "template_version_dry_run"
	JobTypeWorkspaceBuild        = "workspace_build"
)

// Job statuses (computed by Postgres from the timestamps and error).
const (
	JobPending   = "pending"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobCanceling = "canceling"
	JobCanceled  = "canceled"
	JobFailed    = "failed"
)

// ProvisionerJob is a row of provisioner_jobs.
type ProvisionerJob struct {
	bun.BaseModel `bun:"table:provisioner_jobs"`

	ID                uuid.UUID         `bun:"id,pk,type:uuid"`
	CreatedAt         time.Time         `bun:"created_at"`
	UpdatedAt         time.Time         `bun:"updated_at"`
	StartedAt         *time.Time        `bun:"started_at"`
	CanceledAt        *time.Time        `bun:"canceled_at"`
	CompletedAt       *time.Time        `bun:"completed_at"`
	Error             string            `bun:"error"`
	ErrorCode         string            `bun:"error_code"`
	WorkerID          uuid.NullUUID     `bun:"worker_id,type:uuid"`
	OrganizationID    uuid.UUID         `bun:"organization_id,type:uuid"`
	InitiatorID       uuid.UUID         `bun:"initiator_id,type:uuid"`
	Provisioner       string            `bun:"provisioner"`
	StorageMethod     string            `bun:"storage_method"`
	Type              string            `bun:"type"`
	Input             json.RawMessage   `bun:"input,type:jsonb"`
	Tags              map[string]string `bun:"tags,type:jsonb"`
	FileID            uuid.UUID         `bun:"file_id,type:uuid"`
	TaskQueue         string            `bun:"task_queue"`
	WorkspaceID       uuid.NullUUID     `bun:"workspace_id,type:uuid"`
	WorkflowStartedAt *time.Time        `bun:"workflow_started_at"`
	Attempts          int               `bun:"attempts"`
	LogsLength        int               `bun:"logs_length"`
	LogsLines         int               `bun:"logs_lines"`
	LogsOverflowed    bool              `bun:"logs_overflowed"`
	Status            string            `bun:"job_status,scanonly"`
}

// Active reports whether the job has not completed.
func (j *ProvisionerJob) Active() bool { return j.CompletedAt == nil }

// JobInput is the internal input of a job, stored as JSON.
type JobInput struct {
	TemplateVersionID  uuid.NullUUID    `json:"template_version_id"`
	WorkspaceBuildID   uuid.NullUUID    `json:"workspace_build_id,omitempty"`
	UserVariableValues []VariableValue  `json:"user_variable_values,omitempty"`
	WorkspaceName      string           `json:"workspace_name,omitempty"`
	RichParameters     []ParameterValue `json:"rich_parameter_values,omitempty"`
	LogLevel           string           `json:"log_level,omitempty"`
	// Orphan deletes the workspace without running the provisioner.
	Orphan bool `json:"orphan,omitempty"`
	// TraceParent is the W3C traceparent of the request that created the
	// job (empty when tracing is off).
	TraceParent string `json:"trace_parent,omitempty"`
}

// VariableValue is a template variable value supplied at import.
type VariableValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ParameterValue is a rich parameter value.
type ParameterValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ProvisionerJobLog is a row of provisioner_job_logs.
type ProvisionerJobLog struct {
	bun.BaseModel `bun:"table:provisioner_job_logs"`

	ID        int64     `bun:"id,pk,autoincrement"`
	JobID     uuid.UUID `bun:"job_id,type:uuid"`
	CreatedAt time.Time `bun:"created_at"`
	Source    string    `bun:"source"`
	Level     string    `bun:"level"`
	Stage     string    `bun:"stage"`
	Output    string    `bun:"output"`
}

// Log sources.
const (
	LogSourceDaemon      = "provisioner_daemon"
	LogSourceProvisioner = "provisioner"
)

// Template is a row of templates.
type Template struct {
	bun.BaseModel `bun:"table:templates"`

	ID                             uuid.UUID `bun:"id,pk,type:uuid"`
	OrganizationID                 uuid.UUID `bun:"organization_id,type:uuid"`
	Name                           string    `bun:"name"`
	DisplayName                    string    `bun:"display_name"`
	Description                    string    `bun:"description"`
	Icon                           string    `bun:"icon"`
	Provisioner                    string    `bun:"provisioner"`
	ActiveVersionID                uuid.UUID `bun:"active_version_id,type:uuid"`
	CreatedBy                      uuid.UUID `bun:"created_by,type:uuid"`
	CreatedAt                      time.Time `bun:"created_at"`
	UpdatedAt                      time.Time `bun:"updated_at"`
	Deleted                        bool      `bun:"deleted"`
	DefaultTTLMillis               int64     `bun:"default_ttl_ms"`
	ActivityBumpMillis             int64     `bun:"activity_bump_ms"`
	AutostopRequirementDaysOfWeek  []string  `bun:"autostop_requirement_days_of_week,array"`
	AutostopRequirementWeeks       int64     `bun:"autostop_requirement_weeks"`
	AutostartRequirementDaysOfWeek []string  `bun:"autostart_requirement_days_of_week,array"`
	FailureTTLMillis               int64     `bun:"failure_ttl_ms"`
	TimeTilDormantMillis           int64     `bun:"time_til_dormant_ms"`
	TimeTilDormantAutoDeleteMillis int64     `bun:"time_til_dormant_autodelete_ms"`
	AllowUserCancelWorkspaceJobs   bool      `bun:"allow_user_cancel_workspace_jobs"`
	AllowUserAutostart             bool      `bun:"allow_user_autostart"`
	AllowUserAutostop              bool      `bun:"allow_user_autostop"`
	RequireActiveVersion           bool      `bun:"require_active_version"`
	DeprecationMessage             string    `bun:"deprecation_message"`
	MaxPortShareLevel              string    `bun:"max_port_share_level"`
	CORSBehavior                   string    `bun:"cors_behavior"`
	DisableEveryoneGroupAccess     bool      `bun:"disable_everyone_group_access"`
}

// TemplateVersion is a row of template_versions.
type TemplateVersion struct {
	bun.BaseModel `bun:"table:template_versions"`

	ID                    uuid.UUID       `bun:"id,pk,type:uuid"`
	TemplateID            uuid.NullUUID   `bun:"template_id,type:uuid"`
	OrganizationID        uuid.UUID       `bun:"organization_id,type:uuid"`
	Name                  string          `bun:"name"`
	Message               string          `bun:"message"`
	Readme                string          `bun:"readme"`
	JobID                 uuid.UUID       `bun:"job_id,type:uuid"`
	CreatedBy             uuid.UUID       `bun:"created_by,type:uuid"`
	Archived              bool            `bun:"archived"`
	ExternalAuthProviders json.RawMessage `bun:"external_auth_providers,type:jsonb"`
	CreatedAt             time.Time       `bun:"created_at"`
	UpdatedAt             time.Time       `bun:"updated_at"`
}

// TemplateVersionVariable is a row of template_version_variables.
type TemplateVersionVariable struct {
	bun.BaseModel `bun:"table:template_version_variables"`

	TemplateVersionID uuid.UUID `bun:"template_version_id,pk,type:uuid"`
	Position          int       `bun:"position"`
	Name              string    `bun:"name,pk"`
	Description       string    `bun:"description"`
	Type              string    `bun:"type"`
	Value             string    `bun:"value"`
	DefaultValue      string    `bun:"default_value"`
	Required          bool      `bun:"required"`
	Sensitive         bool      `bun:"sensitive"`
}

// TemplateVersionParameter is a row of template_version_parameters.
type TemplateVersionParameter struct {
	bun.BaseModel `bun:"table:template_version_parameters"`

	TemplateVersionID   uuid.UUID       `bun:"template_version_id,pk,type:uuid"`
	Name                string          `bun:"name,pk"`
	DisplayName         string          `bun:"display_name"`
	Description         string          `bun:"description"`
	Type                string          `bun:"type"`
	FormType            string          `bun:"form_type"`
	Mutable             bool            `bun:"mutable"`
	Ephemeral           bool            `bun:"ephemeral"`
	DefaultValue        string          `bun:"default_value"`
	Icon                string          `bun:"icon"`
	Options             json.RawMessage `bun:"options,type:jsonb"`
	ValidationRegex     string          `bun:"validation_regex"`
	ValidationError     string          `bun:"validation_error"`
	ValidationMin       *int32          `bun:"validation_min"`
	ValidationMax       *int32          `bun:"validation_max"`
	ValidationMonotonic string          `bun:"validation_monotonic"`
	Required            bool            `bun:"required"`
	DisplayOrder        int32           `bun:"display_order"`
}

// WorkspaceResource is a row of workspace_resources.
type WorkspaceResource struct {
	bun.BaseModel `bun:"table:workspace_resources"`

	ID           uuid.UUID       `bun:"id,pk,type:uuid"`
	JobID        uuid.UUID       `bun:"job_id,type:uuid"`
	CreatedAt    time.Time       `bun:"created_at"`
	Transition   string          `bun:"transition"`
	Position     int             `bun:"position"`
	Type         string          `bun:"type"`
	Name         string          `bun:"name"`
	Hide         bool            `bun:"hide"`
	Icon         string          `bun:"icon"`
	InstanceType string          `bun:"instance_type"`
	DailyCost    int32           `bun:"daily_cost"`
	Metadata     json.RawMessage `bun:"metadata,type:jsonb"`
	Agents       json.RawMessage `bun:"agents,type:jsonb"`
}

// ResourceMetadata is one metadata item stored in workspace_resources.metadata.
type ResourceMetadata struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Sensitive bool   `json:"sensitive"`
	IsNull    bool   `json:"is_null"`
}

// ResourceAgent is one agent stored in workspace_resources.agents. The auth
// token is stored as a SHA-256 hash only.
type ResourceAgent struct {
	ID              uuid.UUID `json:"id"`
	Name            string    `json:"name"`
	OperatingSystem string    `json:"operating_system"`
	Architecture    string    `json:"architecture"`
	Directory       string    `json:"directory"`
	CreatedAt       time.Time `json:"created_at"`
	AuthTokenHash   []byte    `json:"auth_token_hash,omitempty"`

	Env                      map[string]string `json:"env,omitempty"`
	ConnectionTimeoutSeconds int32             `json:"connection_timeout_seconds,omitempty"`
	TroubleshootingURL       string            `json:"troubleshooting_url,omitempty"`
	MOTDFile                 string            `json:"motd_file,omitempty"`
	StartupScriptBehavior    string            `json:"startup_script_behavior,omitempty"`
	DisplayApps              []string          `json:"display_apps,omitempty"`
	Apps                     []ResourceApp     `json:"apps,omitempty"`
	Scripts                  []ResourceScript  `json:"scripts,omitempty"`
}

// ResourceScript is one script of a ResourceAgent and its log source.
type ResourceScript struct {
	ID               uuid.UUID `json:"id"`
	LogSourceID      uuid.UUID `json:"log_source_id"`
	DisplayName      string    `json:"display_name"`
	Icon             string    `json:"icon,omitempty"`
	Script           string    `json:"script"`
	Cron             string    `json:"cron,omitempty"`
	LogPath          string    `json:"log_path,omitempty"`
	RunOnStart       bool      `json:"run_on_start,omitempty"`
	RunOnStop        bool      `json:"run_on_stop,omitempty"`
	StartBlocksLogin bool      `json:"start_blocks_login,omitempty"`
	TimeoutSeconds   int32     `json:"timeout_seconds,omitempty"`
}

// ResourceApp is one app of a ResourceAgent.
type ResourceApp struct {
	ID                   uuid.UUID `json:"id"`
	Slug                 string    `json:"slug"`
	DisplayName          string    `json:"display_name,omitempty"`
	Command              string    `json:"command,omitempty"`
	URL                  string    `json:"url,omitempty"`
	Icon                 string    `json:"icon,omitempty"`
	External             bool      `json:"external,omitempty"`
	Subdomain            bool      `json:"subdomain,omitempty"`
	SharingLevel         string    `json:"sharing_level,omitempty"`
	Hidden               bool      `json:"hidden,omitempty"`
	OpenIn               string    `json:"open_in,omitempty"`
	Order                int32     `json:"order,omitempty"`
	HealthcheckURL       string    `json:"healthcheck_url,omitempty"`
	HealthcheckInterval  int32     `json:"healthcheck_interval,omitempty"`
	HealthcheckThreshold int32     `json:"healthcheck_threshold,omitempty"`
}

// Workspace is a row of workspaces.
type Workspace struct {
	bun.BaseModel `bun:"table:workspaces"`

	ID                uuid.UUID  `bun:"id,pk,type:uuid"`
	CreatedAt         time.Time  `bun:"created_at"`
	UpdatedAt         time.Time  `bun:"updated_at"`
	OwnerID           uuid.UUID  `bun:"owner_id,type:uuid"`
	OrganizationID    uuid.UUID  `bun:"organization_id,type:uuid"`
	TemplateID        uuid.UUID  `bun:"template_id,type:uuid"`
	Name              string     `bun:"name"`
	Deleted           bool       `bun:"deleted"`
	AutostartSchedule *string    `bun:"autostart_schedule"`
	TTLMillis         *int64     `bun:"ttl_ms"`
	LastUsedAt        time.Time  `bun:"last_used_at"`
	DormantAt         *time.Time `bun:"dormant_at"`
	DeletingAt        *time.Time `bun:"deleting_at"`
	AutomaticUpdates  string     `bun:"automatic_updates"`
	NextStartAt       *time.Time `bun:"next_start_at"`
}

// WorkspaceBuild is a row of workspace_builds.
type WorkspaceBuild struct {
	bun.BaseModel `bun:"table:workspace_builds"`

	ID                uuid.UUID  `bun:"id,pk,type:uuid"`
	CreatedAt         time.Time  `bun:"created_at"`
	UpdatedAt         time.Time  `bun:"updated_at"`
	WorkspaceID       uuid.UUID  `bun:"workspace_id,type:uuid"`
	TemplateVersionID uuid.UUID  `bun:"template_version_id,type:uuid"`
	BuildNumber       int32      `bun:"build_number"`
	Transition        string     `bun:"transition"`
	InitiatorID       uuid.UUID  `bun:"initiator_id,type:uuid"`
	JobID             uuid.UUID  `bun:"job_id,type:uuid"`
	Reason            string     `bun:"reason"`
	ProvisionerState  []byte     `bun:"provisioner_state"`
	Deadline          *time.Time `bun:"deadline"`
	MaxDeadline       *time.Time `bun:"max_deadline"`
	DailyCost         int32      `bun:"daily_cost"`
	// TemplateVersionPresetID is the preset the build was created with.
	TemplateVersionPresetID uuid.NullUUID `bun:"template_version_preset_id,type:uuid"`
}

// WorkspaceBuildParameter is a row of workspace_build_parameters.
type WorkspaceBuildParameter struct {
	bun.BaseModel `bun:"table:workspace_build_parameters"`

	WorkspaceBuildID uuid.UUID `bun:"workspace_build_id,pk,type:uuid"`
	Name             string    `bun:"name,pk"`
	Value            string    `bun:"value"`
}

// TemplateVersionPreset is a row of template_version_presets.
type TemplateVersionPreset struct {
	bun.BaseModel `bun:"table:template_version_presets"`

	ID                       uuid.UUID        `bun:"id,pk,type:uuid"`
	TemplateVersionID        uuid.UUID        `bun:"template_version_id,type:uuid"`
	Position                 int              `bun:"position"`
	Name                     string           `bun:"name"`
	IsDefault                bool             `bun:"is_default"`
	Description              string           `bun:"description"`
	Icon                     string           `bun:"icon"`
	DesiredPrebuildInstances *int32           `bun:"desired_prebuild_instances"`
	Parameters               []ParameterValue `bun:"parameters,type:jsonb"`
}
