package sdk

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/google/uuid"
)

// Organization is a tenant that owns templates and workspaces.
type Organization struct {
	ID          uuid.UUID `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Description string    `json:"description"`
	Icon        string    `json:"icon"`
	IsDefault   bool      `json:"is_default"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// OrganizationsByUser calls GET /api/v2/users/{user}/organizations.
func (c *Client) OrganizationsByUser(ctx context.Context, user string) ([]Organization, error) {
	return get[[]Organization](ctx, c, fmt.Sprintf("/api/v2/users/%s/organizations", url.PathEscape(user)))
}

// Organization calls GET /api/v2/organizations/{organization}; idOrName is a
// UUID, a name or "default".
func (c *Client) Organization(ctx context.Context, idOrName string) (Organization, error) {
	return get[Organization](ctx, c, "/api/v2/organizations/"+url.PathEscape(idOrName))
}
