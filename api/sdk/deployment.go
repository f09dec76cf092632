package sdk

import (
	"context"
	"time"
)

// SessionLifetime holds the session and token lifetimes.
type SessionLifetime struct {
	DisableExpiryRefresh      bool          `json:"disable_expiry_refresh,omitempty"`
	DefaultDuration           time.Duration `json:"default_duration"`
	DefaultTokenDuration      time.Duration `json:"default_token_lifetime,omitempty"`
	MaximumTokenDuration      time.Duration `json:"max_token_lifetime,omitempty"`
	MaximumAdminTokenDuration time.Duration `json:"max_admin_token_lifetime,omitempty"`
}

// RateLimitConfig holds the API rate limit.
type RateLimitConfig struct {
	DisableAll bool  `json:"disable_all"`
	API        int64 `json:"api"`
}

// UserQuietHoursScheduleConfig holds the default quiet hours.
type UserQuietHoursScheduleConfig struct {
	DefaultSchedule string `json:"default_schedule"`
	AllowUserCustom bool   `json:"allow_user_custom"`
}

// ProvisionerConfig holds the built-in provisioner settings; berth runs
// none in the server (its workers are separate processes).
type ProvisionerConfig struct {
	Daemons             int64         `json:"daemons"`
	DaemonTypes         []string      `json:"daemon_types"`
	DaemonPollInterval  time.Duration `json:"daemon_poll_interval"`
	DaemonPollJitter    time.Duration `json:"daemon_poll_jitter"`
	ForceCancelInterval time.Duration `json:"force_cancel_interval"`
	DaemonPSK           string        `json:"daemon_psk"`
}

// TelemetryConfig holds the telemetry settings (always off).
type TelemetryConfig struct {
	Enable bool   `json:"enable"`
	Trace  bool   `json:"trace"`
	URL    string `json:"url"`
}

// DeploymentValues are the deployment settings, with Coder's JSON names
// for the settings berth has.
type DeploymentValues struct {
	AccessURL              string                       `json:"access_url,omitempty"`
	HTTPAddress            string                       `json:"http_address,omitempty"`
	AutobuildPollInterval  time.Duration                `json:"autobuild_poll_interval,omitempty"`
	Telemetry              TelemetryConfig              `json:"telemetry"`
	Provisioner            ProvisionerConfig            `json:"provisioner"`
	RateLimit              RateLimitConfig              `json:"rate_limit"`
	Experiments            []string                     `json:"experiments"`
	Sessions               SessionLifetime              `json:"session_lifetime"`
	DisablePasswordAuth    bool                         `json:"disable_password_auth"`
	UserQuietHoursSchedule UserQuietHoursScheduleConfig `json:"user_quiet_hours_schedule"`
	AllowWorkspaceRenames  bool                         `json:"allow_workspace_renames"`
}

// DeploymentConfig answers GET /deployment/config.
type DeploymentConfig struct {
	Values *DeploymentValues `json:"config,omitempty"`
}

// DeploymentConfig calls GET /api/v2/deployment/config.
func (c *Client) DeploymentConfig(ctx context.Context) (DeploymentConfig, error) {
	return get[DeploymentConfig](ctx, c, "/api/v2/deployment/config")
}
