package api

import (
	"context"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/berth-dev/berth/api/openapi"
	"github.com/berth-dev/berth/api/sdk"
)

// doc is what the OpenAPI document says of one route beyond its method
// and path (which come from the router): the wire types of its body and
// response. TestOpenAPIComplete fails when a route has no doc or a doc no
// route.
type doc struct {
	summary  string
	req      any
	status   int
	resp     any
	query    []string
	public   bool
	reqType  string // a non-JSON request body's content type
	respType string // a non-JSON response's content type
}

const (
	created   = http.StatusCreated
	noContent = http.StatusNoContent
)

var message = sdk.Response{}

// docs documents every /api/v2 route, keyed by "METHOD pattern" as the
// router names it.
var docs = map[string]doc{
	"GET /api/v2/buildinfo":         {summary: "Build information", resp: sdk.BuildInfoResponse{}, public: true},
	"GET /api/v2/openapi.json":      {summary: "This OpenAPI document", respType: "application/json", public: true},
	"GET /api/v2/users/authmethods": {summary: "Authentication methods", resp: sdk.AuthMethods{}, public: true},
	"GET /api/v2/users/first":       {summary: "Whether the first user exists (404 if not)", resp: message, public: true},
	"POST /api/v2/users/first":      {summary: "Create the first user", req: sdk.CreateFirstUserRequest{}, status: created, resp: sdk.CreateFirstUserResponse{}, public: true},
	"POST /api/v2/users/login":      {summary: "Log in with a password", req: sdk.LoginWithPasswordRequest{}, status: created, resp: sdk.LoginWithPasswordResponse{}, public: true},

	"POST /api/v2/users/logout":                                            {summary: "Log out", resp: message},
	"POST /api/v2/users":                                                   {summary: "Create a user", req: sdk.CreateUserRequest{}, status: created, resp: sdk.User{}},
	"GET /api/v2/users/:user":                                              {summary: "Get a user", resp: sdk.User{}},
	"GET /api/v2/users/:user/organizations":                                {summary: "A user's organizations", resp: []sdk.Organization{}},
	"GET /api/v2/users":                                                    {summary: "List users", resp: sdk.GetUsersResponse{}, query: []string{"q", "limit", "offset", "after_id"}},
	"GET /api/v2/users/roles":                                              {summary: "Assignable site roles", resp: []sdk.AssignableRoles{}},
	"DELETE /api/v2/users/:user":                                           {summary: "Delete a user", resp: message},
	"PUT /api/v2/users/:user/status/suspend":                               {summary: "Suspend a user", resp: sdk.User{}},
	"PUT /api/v2/users/:user/status/activate":                              {summary: "Activate a user", resp: sdk.User{}},
	"PUT /api/v2/users/:user/password":                                     {summary: "Change a user's password", req: sdk.UpdateUserPasswordRequest{}, status: noContent},
	"GET /api/v2/users/:user/roles":                                        {summary: "A user's roles", resp: sdk.UserRoles{}},
	"PUT /api/v2/users/:user/roles":                                        {summary: "Set a user's site roles", req: sdk.UpdateRoles{}, resp: sdk.User{}},
	"POST /api/v2/users/:user/keys":                                        {summary: "Create a session key", status: created, resp: sdk.GenerateAPIKeyResponse{}},
	"POST /api/v2/users/:user/keys/tokens":                                 {summary: "Create a token", req: sdk.CreateTokenRequest{}, status: created, resp: sdk.GenerateAPIKeyResponse{}},
	"GET /api/v2/users/:user/keys/tokens":                                  {summary: "List tokens", resp: []sdk.APIKeyWithOwner{}, query: []string{"include_all"}},
	"GET /api/v2/users/:user/keys/tokens/tokenconfig":                      {summary: "Token limits", resp: sdk.TokenConfig{}},
	"GET /api/v2/users/:user/keys/tokens/:keyname":                         {summary: "Get a token by name", resp: sdk.APIKey{}},
	"GET /api/v2/users/:user/keys/:keyid":                                  {summary: "Get a key by ID", resp: sdk.APIKey{}},
	"DELETE /api/v2/users/:user/keys/:keyid":                               {summary: "Delete a key", status: noContent},
	"GET /api/v2/users/:user/quiet-hours":                                  {summary: "A user's quiet hours", resp: sdk.UserQuietHoursScheduleResponse{}},
	"PUT /api/v2/users/:user/quiet-hours":                                  {summary: "Set a user's quiet hours", req: sdk.UpdateUserQuietHoursScheduleRequest{}, resp: sdk.UserQuietHoursScheduleResponse{}},
	"POST /api/v2/users/:user/workspaces":                                  {summary: "Create a workspace for a user", req: sdk.CreateWorkspaceRequest{}, status: created, resp: sdk.Workspace{}},
	"GET /api/v2/users/:user/workspace/:workspacename":                     {summary: "Get a workspace by owner and name", resp: sdk.Workspace{}, query: []string{"include_deleted"}},
	"GET /api/v2/users/:user/workspace/:workspacename/builds/:buildnumber": {summary: "Get a build by number", resp: sdk.WorkspaceBuild{}},

	"GET /api/v2/organizations/:organization":                                                       {summary: "Get an organization", resp: sdk.Organization{}},
	"GET /api/v2/organizations/:organization/provisionerdaemons":                                    {summary: "List provisioner daemons", resp: []sdk.ProvisionerDaemon{}, query: []string{"tags", "limit", "offline", "status", "ids"}},
	"GET /api/v2/organizations/:organization/provisionerjobs":                                       {summary: "List provisioner jobs", resp: []sdk.ProvisionerJob{}, query: []string{"status", "limit", "ids", "tags", "initiator"}},
	"GET /api/v2/organizations/:organization/provisionerjobs/:job":                                  {summary: "Get a provisioner job", resp: sdk.ProvisionerJob{}},
	"GET /api/v2/organizations/:organization/members":                                               {summary: "List members", resp: []sdk.OrganizationMemberWithUserData{}},
	"GET /api/v2/organizations/:organization/members/":                                              {summary: "List members", resp: []sdk.OrganizationMemberWithUserData{}},
	"GET /api/v2/organizations/:organization/members/roles":                                         {summary: "Assignable organization roles", resp: []sdk.AssignableRoles{}},
	"POST /api/v2/organizations/:organization/members/:user":                                        {summary: "Add a member", resp: sdk.OrganizationMember{}},
	"DELETE /api/v2/organizations/:organization/members/:user":                                      {summary: "Remove a member", status: noContent},
	"PUT /api/v2/organizations/:organization/members/:user/roles":                                   {summary: "Set a member's roles", req: sdk.UpdateRoles{}, resp: sdk.OrganizationMember{}},
	"POST /api/v2/organizations/:organization/members/:user/workspaces":                             {summary: "Create a workspace", req: sdk.CreateWorkspaceRequest{}, status: created, resp: sdk.Workspace{}},
	"POST /api/v2/organizations/:organization/templateversions":                                     {summary: "Create a template version (starts its import)", req: sdk.CreateTemplateVersionRequest{}, status: created, resp: sdk.TemplateVersion{}},
	"POST /api/v2/organizations/:organization/templates":                                            {summary: "Create a template", req: sdk.CreateTemplateRequest{}, status: created, resp: sdk.Template{}},
	"GET /api/v2/organizations/:organization/templates":                                             {summary: "List an organization's templates", resp: []sdk.Template{}},
	"GET /api/v2/organizations/:organization/templates/:templatename":                               {summary: "Get a template by name", resp: sdk.Template{}},
	"GET /api/v2/organizations/:organization/templates/:templatename/versions/:templateversionname": {summary: "Get a template version by name", resp: sdk.TemplateVersion{}},

	"GET /api/v2/workspaces":                                 {summary: "List workspaces", resp: sdk.WorkspacesResponse{}, query: []string{"q", "limit", "offset"}},
	"GET /api/v2/workspaces/:workspace":                      {summary: "Get a workspace", resp: sdk.Workspace{}, query: []string{"include_deleted"}},
	"GET /api/v2/workspaces/:workspace/watch":                {summary: "Watch a workspace (server-sent events)", respType: "text/event-stream"},
	"POST /api/v2/workspaces/:workspace/builds":              {summary: "Start a build", req: sdk.CreateWorkspaceBuildRequest{}, status: created, resp: sdk.WorkspaceBuild{}},
	"GET /api/v2/workspaces/:workspace/builds":               {summary: "List a workspace's builds", resp: []sdk.WorkspaceBuild{}, query: []string{"limit", "offset", "after_id", "since"}},
	"PATCH /api/v2/workspaces/:workspace":                    {summary: "Rename a workspace", req: sdk.UpdateWorkspaceRequest{}, status: noContent},
	"PUT /api/v2/workspaces/:workspace/autostart":            {summary: "Set autostart", req: sdk.UpdateWorkspaceAutostartRequest{}, status: noContent},
	"PUT /api/v2/workspaces/:workspace/autoupdates":          {summary: "Set automatic updates", req: sdk.UpdateWorkspaceAutomaticUpdatesRequest{}, status: noContent},
	"PUT /api/v2/workspaces/:workspace/ttl":                  {summary: "Set the TTL", req: sdk.UpdateWorkspaceTTLRequest{}, status: noContent},
	"PUT /api/v2/workspaces/:workspace/dormant":              {summary: "Set dormancy", req: sdk.UpdateWorkspaceDormancy{}, resp: sdk.Workspace{}},
	"PUT /api/v2/workspaces/:workspace/extend":               {summary: "Extend the deadline", req: sdk.PutExtendWorkspaceRequest{}, resp: message},
	"PUT /api/v2/workspaces/:workspace/favorite":             {summary: "Favorite", status: noContent},
	"DELETE /api/v2/workspaces/:workspace/favorite":          {summary: "Unfavorite", status: noContent},
	"GET /api/v2/workspaces/:workspace/resolve-autostart":    {summary: "Whether autostart would update", resp: sdk.ResolveAutostartResponse{}},
	"GET /api/v2/workspaces/:workspace/timings":              {summary: "The latest build's timings", resp: sdk.WorkspaceBuildTimings{}},
	"POST /api/v2/workspaces/:workspace/usage":               {summary: "Report use", req: sdk.PostWorkspaceUsageRequest{}, status: noContent},
	"GET /api/v2/workspacebuilds/:workspacebuild":            {summary: "Get a build", resp: sdk.WorkspaceBuild{}},
	"PATCH /api/v2/workspacebuilds/:workspacebuild/cancel":   {summary: "Cancel a build", resp: message, query: []string{"expect_status"}},
	"GET /api/v2/workspacebuilds/:workspacebuild/logs":       {summary: "A build's logs (with follow: a websocket)", resp: []sdk.ProvisionerJobLog{}, query: []string{"after", "before", "follow", "format"}},
	"GET /api/v2/workspacebuilds/:workspacebuild/resources":  {summary: "A build's resources", resp: []sdk.WorkspaceResource{}},
	"GET /api/v2/workspacebuilds/:workspacebuild/parameters": {summary: "A build's parameters", resp: []sdk.WorkspaceBuildParameter{}},
	"GET /api/v2/workspacebuilds/:workspacebuild/state":      {summary: "A build's Terraform state", respType: "application/json"},
	"PUT /api/v2/workspacebuilds/:workspacebuild/state":      {summary: "Replace a build's Terraform state", req: sdk.UpdateWorkspaceBuildStateRequest{}, status: noContent},

	"GET /api/v2/deployment/config": {summary: "Deployment configuration", resp: sdk.DeploymentConfig{}},
	"POST /api/v2/files":            {summary: "Upload a file", reqType: "application/x-tar", status: created, resp: sdk.UploadResponse{}},
	"GET /api/v2/files/:fileID":     {summary: "Download a file", respType: "application/x-tar", query: []string{"format"}},

	"GET /api/v2/templates":                                         {summary: "List templates", resp: []sdk.Template{}, query: []string{"q"}},
	"GET /api/v2/templates/:template":                               {summary: "Get a template", resp: sdk.Template{}},
	"PATCH /api/v2/templates/:template":                             {summary: "Update a template", req: sdk.UpdateTemplateMeta{}, resp: sdk.Template{}},
	"DELETE /api/v2/templates/:template":                            {summary: "Delete a template", resp: message},
	"GET /api/v2/templates/:template/daus":                          {summary: "Daily active users", resp: sdk.DAUsResponse{}, query: []string{"tz_offset"}},
	"GET /api/v2/templates/:template/versions":                      {summary: "List a template's versions", resp: []sdk.TemplateVersion{}, query: []string{"include_archived", "limit", "offset", "after_id"}},
	"PATCH /api/v2/templates/:template/versions":                    {summary: "Set the active version", req: sdk.UpdateActiveTemplateVersion{}, resp: message},
	"POST /api/v2/templates/:template/versions/archive":             {summary: "Archive unused versions", req: sdk.ArchiveTemplateVersionsRequest{}, resp: sdk.ArchiveTemplateVersionsResponse{}},
	"GET /api/v2/templates/:template/versions/:templateversionname": {summary: "Get a version by name", resp: sdk.TemplateVersion{}},

	"GET /api/v2/templateversions/:templateversion":                                     {summary: "Get a template version", resp: sdk.TemplateVersion{}},
	"PATCH /api/v2/templateversions/:templateversion":                                   {summary: "Update a template version", req: sdk.PatchTemplateVersionRequest{}, resp: sdk.TemplateVersion{}},
	"POST /api/v2/templateversions/:templateversion/dry-run":                            {summary: "Start a dry-run", req: sdk.CreateTemplateVersionDryRunRequest{}, status: created, resp: sdk.ProvisionerJob{}},
	"GET /api/v2/templateversions/:templateversion/dry-run/:jobID":                      {summary: "Get a dry-run", resp: sdk.ProvisionerJob{}},
	"PATCH /api/v2/templateversions/:templateversion/dry-run/:jobID/cancel":             {summary: "Cancel a dry-run", resp: message},
	"GET /api/v2/templateversions/:templateversion/dry-run/:jobID/logs":                 {summary: "A dry-run's logs (with follow: a websocket)", resp: []sdk.ProvisionerJobLog{}, query: []string{"after", "before", "follow"}},
	"GET /api/v2/templateversions/:templateversion/dry-run/:jobID/resources":            {summary: "A dry-run's resources", resp: []sdk.WorkspaceResource{}},
	"GET /api/v2/templateversions/:templateversion/dry-run/:jobID/matched-provisioners": {summary: "Provisioners that can run a dry-run", resp: sdk.MatchedProvisioners{}},
	"PATCH /api/v2/templateversions/:templateversion/cancel":                            {summary: "Cancel an import", resp: message},
	"POST /api/v2/templateversions/:templateversion/archive":                            {summary: "Archive a version", resp: message},
	"POST /api/v2/templateversions/:templateversion/unarchive":                          {summary: "Unarchive a version", resp: message},
	"GET /api/v2/templateversions/:templateversion/logs":                                {summary: "An import's logs (with follow: a websocket)", resp: []sdk.ProvisionerJobLog{}, query: []string{"after", "before", "follow"}},
	"GET /api/v2/templateversions/:templateversion/resources":                           {summary: "An import's resources", resp: []sdk.WorkspaceResource{}},
	"GET /api/v2/templateversions/:templateversion/rich-parameters":                     {summary: "A version's parameters", resp: []sdk.TemplateVersionParameter{}},
	"GET /api/v2/templateversions/:templateversion/variables":                           {summary: "A version's variables", resp: []sdk.TemplateVersionVariable{}},
	"GET /api/v2/templateversions/:templateversion/schema":                              {summary: "Legacy parameter schema (always empty)", resp: []any{}},
	"GET /api/v2/templateversions/:templateversion/external-auth":                       {summary: "A version's external auth", resp: []sdk.TemplateVersionExternalAuth{}},
	"GET /api/v2/templateversions/:templateversion/presets":                             {summary: "A version's presets", resp: []sdk.Preset{}},
	"GET /api/v2/templateversions/:templateversion/parameters":                          {summary: "Legacy parameters (always empty)", resp: []any{}},
}

// openAPI builds the document of the routes in e once, on first request.
type openAPI struct {
	once sync.Once
	body []byte
	err  error
}

// Operations returns the documented operations of the routes in e under
// /api/v2, and the routes that have no doc.
func Operations(e *gin.Engine) (ops []openapi.Operation, undocumented []string) {
	for _, r := range e.Routes() {
		key := r.Method + " " + r.Path
		if len(r.Path) < len("/api/v2/") || r.Path[:len("/api/v2/")] != "/api/v2/" {
			continue
		}
		d, ok := docs[key]
		if !ok {
			undocumented = append(undocumented, key)
			continue
		}
		ops = append(ops, openapi.Operation{
			Method: r.Method, Path: r.Path, Summary: d.summary, Tag: tagOf(r.Path), Request: d.req, RequestContentType: d.reqType,
			Status: d.status, Response: d.resp, ResponseContentType: d.respType, Public: d.public, Query: d.query,
		})
	}
	return ops, undocumented
}

// tagOf groups a route by its first path segment after /api/v2.
func tagOf(path string) string {
	rest := path[len("/api/v2/"):]
	for i := range len(rest) {
		if rest[i] == '/' {
			return rest[:i]
		}
	}
	return rest
}

func (a *API) openAPIDocument(e *gin.Engine) ([]byte, error) {
	a.openapi.once.Do(func() {
		ops, _ := Operations(e)
		doc, err := openapi.Build(openapi.Info{
			Title: "berth", Version: a.opts.BuildVersion,
			Description: "berth's Coder-compatible /api/v2: the routes berth serves and their wire types.",
		}, ops, sdk.Response{})
		if err != nil {
			a.openapi.err = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			a.openapi.err = err
			return
		}
		a.openapi.body, a.openapi.err = doc.MarshalJSON()
	})
	return a.openapi.body, a.openapi.err
}

// serveOpenAPI serves GET /api/v2/openapi.json.
func (a *API) serveOpenAPI(e *gin.Engine) gin.HandlerFunc {
	return a.h(func(c *gin.Context) error {
		body, err := a.openAPIDocument(e)
		if err != nil {
			return err
		}
		c.Data(http.StatusOK, "application/json", body)
		return nil
	})
}
