package sdk

import "context"

// BuildInfoResponse answers GET /buildinfo.
type BuildInfoResponse struct {
	ExternalURL           string `json:"external_url"`
	Version               string `json:"version"`
	DashboardURL          string `json:"dashboard_url"`
	Telemetry             bool   `json:"telemetry"`
	WorkspaceProxy        bool   `json:"workspace_proxy"`
	AgentAPIVersion       string `json:"agent_api_version"`
	ProvisionerAPIVersion string `json:"provisioner_api_version"`
	UpgradeMessage        string `json:"upgrade_message"`
	DeploymentID          string `json:"deployment_id"`
}

// BuildInfo calls GET /api/v2/buildinfo (no auth).
func (c *Client) BuildInfo(ctx context.Context) (BuildInfoResponse, error) {
	return get[BuildInfoResponse](ctx, c, "/api/v2/buildinfo")
}
