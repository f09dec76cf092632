// Package provisioner defines what a berth worker asks of a provisioner
// (echo, terraform) and the results it gets back. It is a leaf package: it
// knows nothing of the database, Temporal or HTTP.
package provisioner

import (
	"context"
	"errors"
)

// Log levels, as the API spells them.
const (
	LevelTrace = "trace"
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

// Transitions of a workspace build.
const (
	TransitionStart  = "start"
	TransitionStop   = "stop"
	TransitionDelete = "delete"
)

// Log is one line of provisioner output.
type Log struct {
	Level  string
	Output string
}

// Sink receives what a provisioner reports while it runs. Implementations are
// safe for use by one provisioner goroutine at a time.
type Sink interface {
	// Log records one line of output. It never blocks for long.
	Log(l Log)
	// Stall stops the job's liveness signal (heartbeats) for the rest of the
	// job. The echo provisioner uses it to simulate a lost worker.
	Stall()
}

// Provisioner runs the steps of a job inside a directory that holds the
// extracted template archive. Import: Init, Parse, Plan(start), Plan(stop).
// Dry-run: Init, Plan(start). Build: Init, Plan(t), Apply(t).
//
// Every method returns promptly once ctx is canceled, with ctx.Err().
// A scripted or template failure is returned as a *JobError.
type Provisioner interface {
	Init(ctx context.Context, dir string, sink Sink) error
	Parse(ctx context.Context, dir string, sink Sink) (*ParseResult, error)
	Plan(ctx context.Context, dir string, in PlanInput, sink Sink) (*PlanResult, error)
	Apply(ctx context.Context, dir string, in PlanInput, sink Sink) (*ApplyResult, error)
}

// JobError is a failure that is the job's outcome (a template error, a
// scripted failure), as opposed to an infrastructure error worth retrying.
type JobError struct {
	Message string
	Code    string // "", REQUIRED_TEMPLATE_VARIABLES, MISSING_TEMPLATE_PARAMETER
}

func (e *JobError) Error() string { return e.Message }

// AsJobError reports whether err is (or wraps) a *JobError.
func AsJobError(err error) (*JobError, bool) {
	var je *JobError
	ok := errors.As(err, &je)
	return je, ok
}

// WorkspaceMeta describes the workspace a plan or apply is for. Import
// plans fill it with placeholder values.
type WorkspaceMeta struct {
	WorkspaceID         string
	WorkspaceName       string
	WorkspaceBuildID    string
	OwnerID             string
	OwnerName           string // username
	OwnerFullName       string
	OwnerEmail          string
	TemplateID          string
	TemplateName        string
	TemplateVersionName string
	AgentURL            string
}

// PlanInput is what Plan and Apply receive.
type PlanInput struct {
	Transition string // start, stop or delete
	Workspace  WorkspaceMeta
	// Parameters holds the resolved rich parameter values by name.
	Parameters map[string]string
	// PreviousParameters holds the previous build's values by name.
	PreviousParameters map[string]string
	// Variables holds template variable values by name.
	Variables map[string]string
	// State is the previous build's provisioner state (nil for none).
	State []byte
	// Resume, when set, is the last checkpoint of this build's apply,
	// interrupted when its worker was lost: Plan and Apply continue from
	// it (only provisioners that implement Resumer get one).
	Resume *Checkpoint
}

// ParseResult is what Parse finds in a template.
type ParseResult struct {
	Variables     []Variable
	Readme        string
	WorkspaceTags map[string]string
}

// PlanResult is what a plan yields.
type PlanResult struct {
	Resources    []Resource
	Parameters   []RichParameter
	ExternalAuth []ExternalAuthProvider
	// Presets are the template's workspace presets (an import's start plan
	// records them).
	Presets []Preset
}

// Preset is a named set of parameter values a workspace can be created
// with (Terraform coder_workspace_preset).
type Preset struct {
	Name        string            `json:"name"`
	Parameters  []PresetParameter `json:"parameters"`
	Default     bool              `json:"default"`
	Description string            `json:"description"`
	Icon        string            `json:"icon"`
	// PrebuildInstances is the number of prebuilt workspaces asked for, if
	// any (berth records it but builds none in advance).
	PrebuildInstances *int32 `json:"prebuild_instances,omitempty"`
}

// PresetParameter is one parameter value of a preset.
type PresetParameter struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Checkpoint is how far an apply has got, reported while it runs so that
// another worker can resume the build if this one is lost.
type Checkpoint struct {
	// State is the provisioner state the apply has persisted so far
	// (Terraform's state file), or nil when the provisioner keeps none.
	State []byte
	// Position is where the apply had got to, opaque to berth (echo:
	// how many of its lines it had played).
	Position []byte
}

// Checkpointer is the optional side of a Sink that records an apply's
// checkpoints. Apply reports one each time what it has persisted changes;
// the sink keeps the latest and stores it at a bounded rate.
type Checkpointer interface {
	Checkpoint(cp Checkpoint)
}

// ReportCheckpoint hands cp to sink if the sink records checkpoints.
func ReportCheckpoint(sink Sink, cp Checkpoint) {
	if c, ok := sink.(Checkpointer); ok {
		c.Checkpoint(cp)
	}
}

// Resumer is implemented by provisioners whose Apply reports checkpoints
// and whose Plan and Apply continue from PlanInput.Resume. A build of
// another provisioner fails when its worker is lost, as it cannot resume.
type Resumer interface {
	// ResumesApply describes how the provisioner resumes (for logs).
	ResumesApply() string
}

// ApplyResult is what an apply yields. Apply may return it together with an
// error: State is then what the failed or interrupted apply left behind and
// is kept as the build's state.
type ApplyResult struct {
	State     []byte
	Resources []Resource
}

// Variable is a template variable.
type Variable struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	Type         string `json:"type"` // string, number, bool
	DefaultValue string `json:"default_value"`
	Required     bool   `json:"required"`
	Sensitive    bool   `json:"sensitive"`
}

// RichParameter is a template's rich parameter (coder_parameter).
type RichParameter struct {
	Name                string            `json:"name"`
	DisplayName         string            `json:"display_name"`
	Description         string            `json:"description"`
	Type                string            `json:"type"` // string, number, bool, list(string)
	FormType            string            `json:"form_type"`
	Mutable             bool              `json:"mutable"`
	Ephemeral           bool              `json:"ephemeral"`
	DefaultValue        string            `json:"default_value"`
	Icon                string            `json:"icon"`
	Options             []ParameterOption `json:"options"`
	ValidationRegex     string            `json:"validation_regex"`
	ValidationError     string            `json:"validation_error"`
	ValidationMin       *int32            `json:"validation_min"`
	ValidationMax       *int32            `json:"validation_max"`
	ValidationMonotonic string            `json:"validation_monotonic"` // "", increasing, decreasing
	Required            bool              `json:"required"`
	Order               int32             `json:"order"`
}

// ParameterOption is one choice of a rich parameter.
type ParameterOption struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Value       string `json:"value"`
	Icon        string `json:"icon"`
}

// ExternalAuthProvider is an external auth provider a template requires.
type ExternalAuthProvider struct {
	ID       string `json:"id"`
	Optional bool   `json:"optional"`
}

// Resource is an infrastructure resource a plan or apply reports.
type Resource struct {
	Name         string     `json:"name"`
	Type         string     `json:"type"`
	Icon         string     `json:"icon"`
	Hide         bool       `json:"hide"`
	DailyCost    int32      `json:"daily_cost"`
	InstanceType string     `json:"instance_type"`
	Metadata     []Metadata `json:"metadata"`
	Agents       []Agent    `json:"agents"`
}

// Metadata is one key/value item shown on a resource.
type Metadata struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Sensitive bool   `json:"sensitive"`
	IsNull    bool   `json:"is_null"`
}

// Agent is a workspace agent defined on a resource.
type Agent struct {
	ID              string `json:"id"` // may be empty; the worker assigns one
	Name            string `json:"name"`
	OperatingSystem string `json:"operating_system"`
	Architecture    string `json:"architecture"`
	Directory       string `json:"directory"`
	// Token is the agent's auth token. The worker stores only its hash.
	Token                    string            `json:"token,omitempty"`
	Env                      map[string]string `json:"env,omitempty"`
	ConnectionTimeoutSeconds int32             `json:"connection_timeout_seconds,omitempty"`
	TroubleshootingURL       string            `json:"troubleshooting_url,omitempty"`
	MOTDFile                 string            `json:"motd_file,omitempty"`
	StartupScriptBehavior    string            `json:"startup_script_behavior,omitempty"`
	// DisplayApps lists the built-in apps shown (vscode, web_terminal, …).
	DisplayApps []string `json:"display_apps,omitempty"`
	Apps        []App    `json:"apps,omitempty"`
	// Scripts are what the agent runs: its startup and shutdown scripts
	// and coder_script resources.
	Scripts []Script `json:"scripts,omitempty"`
}

// Script is a script an agent runs, with its own log source.
type Script struct {
	DisplayName      string `json:"display_name"`
	Icon             string `json:"icon,omitempty"`
	Script           string `json:"script"`
	Cron             string `json:"cron,omitempty"`
	LogPath          string `json:"log_path,omitempty"`
	RunOnStart       bool   `json:"run_on_start,omitempty"`
	RunOnStop        bool   `json:"run_on_stop,omitempty"`
	StartBlocksLogin bool   `json:"start_blocks_login,omitempty"`
	TimeoutSeconds   int32  `json:"timeout_seconds,omitempty"`
}

// App is an app an agent exposes (coder_app).
type App struct {
	ID           string       `json:"id,omitempty"`
	Slug         string       `json:"slug"`
	DisplayName  string       `json:"display_name,omitempty"`
	Command      string       `json:"command,omitempty"`
	URL          string       `json:"url,omitempty"`
	Icon         string       `json:"icon,omitempty"`
	External     bool         `json:"external,omitempty"`
	Subdomain    bool         `json:"subdomain,omitempty"`
	SharingLevel string       `json:"sharing_level,omitempty"` // owner (default), authenticated, organization, public
	Hidden       bool         `json:"hidden,omitempty"`
	OpenIn       string       `json:"open_in,omitempty"` // slim-window (default), tab
	Order        int32        `json:"order,omitempty"`
	Healthcheck  *Healthcheck `json:"healthcheck,omitempty"`
}

// Healthcheck is an app's health probe.
type Healthcheck struct {
	URL       string `json:"url"`
	Interval  int32  `json:"interval"`
	Threshold int32  `json:"threshold"`
}
