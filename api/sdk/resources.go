package sdk

import (
	"time"

	"github.com/google/uuid"
)

// WorkspaceResource is an infrastructure resource recorded by a job.
type WorkspaceResource struct {
	ID                  uuid.UUID                   `json:"id"`
	CreatedAt           time.Time                   `json:"created_at"`
	JobID               uuid.UUID                   `json:"job_id"`
	WorkspaceTransition WorkspaceTransition         `json:"workspace_transition"`
	Type                string                      `json:"type"`
	Name                string                      `json:"name"`
	Hide                bool                        `json:"hide"`
	Icon                string                      `json:"icon"`
	Agents              []WorkspaceAgent            `json:"agents"`   // never null
	Metadata            []WorkspaceResourceMetadata `json:"metadata"` // never null
	DailyCost           int32                       `json:"daily_cost"`
}

// WorkspaceResourceMetadata is a key/value pair attached to a resource.
// Sensitive values are redacted by the server.
type WorkspaceResourceMetadata struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Sensitive bool   `json:"sensitive"`
}

// WorkspaceAgentStatus is an agent's connection state.
type WorkspaceAgentStatus string

// WorkspaceAgentStatus values.
const (
	WorkspaceAgentConnecting   WorkspaceAgentStatus = "connecting"
	WorkspaceAgentConnected    WorkspaceAgentStatus = "connected"
	WorkspaceAgentDisconnected WorkspaceAgentStatus = "disconnected"
	WorkspaceAgentTimeout      WorkspaceAgentStatus = "timeout"
)

// WorkspaceAgentLifecycle is an agent's lifecycle state.
type WorkspaceAgentLifecycle string

// WorkspaceAgentLifecycle values.
const (
	WorkspaceAgentLifecycleCreated         WorkspaceAgentLifecycle = "created"
	WorkspaceAgentLifecycleStarting        WorkspaceAgentLifecycle = "starting"
	WorkspaceAgentLifecycleStartTimeout    WorkspaceAgentLifecycle = "start_timeout"
	WorkspaceAgentLifecycleStartError      WorkspaceAgentLifecycle = "start_error"
	WorkspaceAgentLifecycleReady           WorkspaceAgentLifecycle = "ready"
	WorkspaceAgentLifecycleShuttingDown    WorkspaceAgentLifecycle = "shutting_down"
	WorkspaceAgentLifecycleShutdownTimeout WorkspaceAgentLifecycle = "shutdown_timeout"
	WorkspaceAgentLifecycleShutdownError   WorkspaceAgentLifecycle = "shutdown_error"
	WorkspaceAgentLifecycleOff             WorkspaceAgentLifecycle = "off"
)

// WorkspaceAgentStartupScriptBehavior says whether startup blocks logins.
type WorkspaceAgentStartupScriptBehavior string

// WorkspaceAgentStartupScriptBehavior values.
const (
	WorkspaceAgentStartupScriptBehaviorBlocking    WorkspaceAgentStartupScriptBehavior = "blocking"
	WorkspaceAgentStartupScriptBehaviorNonBlocking WorkspaceAgentStartupScriptBehavior = "non-blocking"
)

// DisplayApp is a built-in app shown for an agent.
type DisplayApp string

// DisplayApp values.
const (
	DisplayAppVSCodeDesktop  DisplayApp = "vscode"
	DisplayAppVSCodeInsiders DisplayApp = "vscode_insiders"
	DisplayAppWebTerminal    DisplayApp = "web_terminal"
	DisplayAppPortForward    DisplayApp = "port_forwarding_helper"
	DisplayAppSSH            DisplayApp = "ssh_helper"
)

// WorkspaceAgentHealth summarises an agent's health.
type WorkspaceAgentHealth struct {
	Healthy bool `json:"healthy"`
	// Reason explains an unhealthy agent.
	Reason string `json:"reason,omitempty"`
}

// DERPRegion is an agent's latency to one relay region.
type DERPRegion struct {
	Preferred bool    `json:"preferred"`
	LatencyMS float64 `json:"latency_ms"`
}

// WorkspaceAgent is an agent defined by a resource. Berth records agents from
// the template but runs none, so new agents stay "connecting".
type WorkspaceAgent struct {
	ID                       uuid.UUID                           `json:"id"`
	CreatedAt                time.Time                           `json:"created_at"`
	UpdatedAt                time.Time                           `json:"updated_at"`
	FirstConnectedAt         *time.Time                          `json:"first_connected_at,omitempty"`
	LastConnectedAt          *time.Time                          `json:"last_connected_at,omitempty"`
	DisconnectedAt           *time.Time                          `json:"disconnected_at,omitempty"`
	StartedAt                *time.Time                          `json:"started_at,omitempty"`
	ReadyAt                  *time.Time                          `json:"ready_at,omitempty"`
	Status                   WorkspaceAgentStatus                `json:"status"`
	LifecycleState           WorkspaceAgentLifecycle             `json:"lifecycle_state"`
	Name                     string                              `json:"name"`
	ResourceID               uuid.UUID                           `json:"resource_id"`
	InstanceID               string                              `json:"instance_id,omitempty"`
	Architecture             string                              `json:"architecture"`
	EnvironmentVariables     map[string]string                   `json:"environment_variables"` // never null
	OperatingSystem          string                              `json:"operating_system"`
	LogsLength               int32                               `json:"logs_length"`
	LogsOverflowed           bool                                `json:"logs_overflowed"`
	Directory                string                              `json:"directory,omitempty"`
	ExpandedDirectory        string                              `json:"expanded_directory,omitempty"`
	Version                  string                              `json:"version"`
	APIVersion               string                              `json:"api_version"`
	Apps                     []WorkspaceApp                      `json:"apps"` // never null
	Latency                  map[string]DERPRegion               `json:"latency,omitempty"`
	ConnectionTimeoutSeconds int32                               `json:"connection_timeout_seconds"`
	TroubleshootingURL       string                              `json:"troubleshooting_url"`
	Subsystems               []string                            `json:"subsystems"` // never null
	Health                   WorkspaceAgentHealth                `json:"health"`
	DisplayApps              []DisplayApp                        `json:"display_apps"` // never null
	LogSources               []WorkspaceAgentLogSource           `json:"log_sources"`  // never null
	Scripts                  []WorkspaceAgentScript              `json:"scripts"`      // never null
	StartupScriptBehavior    WorkspaceAgentStartupScriptBehavior `json:"startup_script_behavior"`
}

// WorkspaceAppSharingLevel says who may open an app.
type WorkspaceAppSharingLevel string

// WorkspaceAppSharingLevel values.
const (
	WorkspaceAppSharingLevelOwner         WorkspaceAppSharingLevel = "owner"
	WorkspaceAppSharingLevelAuthenticated WorkspaceAppSharingLevel = "authenticated"
	WorkspaceAppSharingLevelOrganization  WorkspaceAppSharingLevel = "organization"
	WorkspaceAppSharingLevelPublic        WorkspaceAppSharingLevel = "public"
)

// WorkspaceAppHealth is an app's health-check state.
type WorkspaceAppHealth string

// WorkspaceAppHealth values.
const (
	WorkspaceAppHealthDisabled     WorkspaceAppHealth = "disabled"
	WorkspaceAppHealthInitializing WorkspaceAppHealth = "initializing"
	WorkspaceAppHealthHealthy      WorkspaceAppHealth = "healthy"
	WorkspaceAppHealthUnhealthy    WorkspaceAppHealth = "unhealthy"
)

// WorkspaceAppOpenIn says where the dashboard opens an app.
type WorkspaceAppOpenIn string

// WorkspaceAppOpenIn values.
const (
	WorkspaceAppOpenInSlimWindow WorkspaceAppOpenIn = "slim-window"
	WorkspaceAppOpenInTab        WorkspaceAppOpenIn = "tab"
)

// Healthcheck configures an app's health probe.
type Healthcheck struct {
	URL       string `json:"url"`
	Interval  int32  `json:"interval"`
	Threshold int32  `json:"threshold"`
}

// WorkspaceApp is an app exposed by an agent.
type WorkspaceApp struct {
	ID            uuid.UUID                `json:"id"`
	URL           string                   `json:"url,omitempty"`
	External      bool                     `json:"external"`
	Slug          string                   `json:"slug"`
	DisplayName   string                   `json:"display_name,omitempty"`
	Command       string                   `json:"command,omitempty"`
	Icon          string                   `json:"icon,omitempty"`
	Subdomain     bool                     `json:"subdomain"`
	SubdomainName string                   `json:"subdomain_name,omitempty"`
	SharingLevel  WorkspaceAppSharingLevel `json:"sharing_level"`
	Healthcheck   Healthcheck              `json:"healthcheck"`
	Health        WorkspaceAppHealth       `json:"health"`
	Hidden        bool                     `json:"hidden"`
	OpenIn        WorkspaceAppOpenIn       `json:"open_in"`
}

// WorkspaceAgentLogSource is a named source of agent logs.
type WorkspaceAgentLogSource struct {
	ID               uuid.UUID `json:"id"`
	WorkspaceAgentID uuid.UUID `json:"workspace_agent_id"`
	CreatedAt        time.Time `json:"created_at"`
	DisplayName      string    `json:"display_name"`
	Icon             string    `json:"icon"`
}

// WorkspaceAgentScript is a script an agent runs.
type WorkspaceAgentScript struct {
	ID               uuid.UUID `json:"id"`
	LogSourceID      uuid.UUID `json:"log_source_id"`
	LogPath          string    `json:"log_path"`
	Script           string    `json:"script"`
	Cron             string    `json:"cron"`
	RunOnStart       bool      `json:"run_on_start"`
	RunOnStop        bool      `json:"run_on_stop"`
	StartBlocksLogin bool      `json:"start_blocks_login"`
	// Timeout is a Go duration in nanoseconds, as Coder sends it.
	Timeout     int64  `json:"timeout"`
	DisplayName string `json:"display_name"`
}
