package sdk

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ProvisionerDaemonStatus is a daemon's state: offline when not seen within
// 90 s, busy while it holds an active job, else idle.
type ProvisionerDaemonStatus string

// ProvisionerDaemonStatus values.
const (
	ProvisionerDaemonOffline ProvisionerDaemonStatus = "offline"
	ProvisionerDaemonIdle    ProvisionerDaemonStatus = "idle"
	ProvisionerDaemonBusy    ProvisionerDaemonStatus = "busy"
)

// ProvisionerDaemonJob is the short job form shown on a daemon.
type ProvisionerDaemonJob struct {
	ID                  uuid.UUID            `json:"id"`
	Status              ProvisionerJobStatus `json:"status"`
	TemplateName        string               `json:"template_name"`
	TemplateIcon        string               `json:"template_icon"`
	TemplateDisplayName string               `json:"template_display_name"`
}

// ProvisionerDaemon is a registered worker that runs provisioner jobs.
type ProvisionerDaemon struct {
	ID             uuid.UUID `json:"id"`
	OrganizationID uuid.UUID `json:"organization_id"`
	KeyID          uuid.UUID `json:"key_id"`
	CreatedAt      time.Time `json:"created_at"`
	// LastSeenAt is null if the daemon has never been seen.
	LastSeenAt   *time.Time              `json:"last_seen_at"`
	Name         string                  `json:"name"`
	Version      string                  `json:"version"`
	APIVersion   string                  `json:"api_version"`
	Provisioners []ProvisionerType       `json:"provisioners"` // never null
	Tags         map[string]string       `json:"tags"`         // never null
	KeyName      string                  `json:"key_name"`
	Status       ProvisionerDaemonStatus `json:"status"`
	// CurrentJob and PreviousJob are null when there is none.
	CurrentJob  *ProvisionerDaemonJob `json:"current_job"`
	PreviousJob *ProvisionerDaemonJob `json:"previous_job"`
}

// ProvisionerDaemons calls
// GET /api/v2/organizations/{organization}/provisionerdaemons. Filter with
// WithQueryParam (limit, ids, tags, offline, status, max_age).
func (c *Client) ProvisionerDaemons(ctx context.Context, orgID uuid.UUID, opts ...RequestOption) ([]ProvisionerDaemon, error) {
	return get[[]ProvisionerDaemon](ctx, c, fmt.Sprintf("/api/v2/organizations/%s/provisionerdaemons", orgID), opts...)
}
