package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
)

// deploymentConfig serves GET /deployment/config to site owners and
// auditors (Coder's read permission on the deployment's configuration),
// with the values of the settings berth has under Coder's names.
func (a *API) deploymentConfig(c *gin.Context) error {
	if !httpmw.ActorFrom(c).HasSiteRole(db.RoleOwner, db.RoleAuditor) {
		return forbidden()
	}
	o := a.opts
	v := &sdk.DeploymentValues{
		AccessURL:             o.AccessURL.String(),
		HTTPAddress:           o.HTTPAddress,
		AutobuildPollInterval: o.AutobuildPollInterval,
		Provisioner:           sdk.ProvisionerConfig{DaemonTypes: []string{}, ForceCancelInterval: 10 * time.Minute},
		RateLimit:             sdk.RateLimitConfig{DisableAll: o.RateLimitAPI <= 0, API: o.RateLimitAPI},
		Experiments:           []string{},
		Sessions: sdk.SessionLifetime{
			DefaultDuration: SessionLifetime, DefaultTokenDuration: o.DefaultTokenLifetime,
			MaximumTokenDuration: o.MaxTokenLifetime, MaximumAdminTokenDuration: o.MaxAdminTokenLifetime,
		},
		UserQuietHoursSchedule: sdk.UserQuietHoursScheduleConfig{DefaultSchedule: o.DefaultQuietHoursSchedule, AllowUserCustom: true},
		AllowWorkspaceRenames:  o.AllowWorkspaceRenames,
	}
	return httpapi.Write(c, http.StatusOK, sdk.DeploymentConfig{Values: v})
}
