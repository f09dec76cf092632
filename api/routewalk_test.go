package api_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// routeStatuses is what each route answers an anonymous caller, a member
// of another organization, a member of the fixtures' organization and the
// owner, in that order. Path parameters name the owner's fixtures (its
// template, version, workspace, build, file, dry-run, token and user), so
// the two members ask for what is not theirs. Write bodies are `{}`.
var routeStatuses = map[string][4]int{
	// Public: health, readiness and the API description.
	"GET /healthz":                                                    {200, 200, 200, 200},
	"GET /readyz":                                                     {200, 200, 200, 200},
	"GET /api/v2/openapi.json":                                        {200, 200, 200, 200},
	"GET /api/v2/buildinfo":                                           {200, 200, 200, 200},
	"GET /api/v2/deployment/config":                                   {401, 403, 403, 200},
	"GET /api/v2/files/:fileID":                                       {401, 404, 404, 200},
	"GET /api/v2/organizations/:organization":                         {401, 404, 200, 200},
	"GET /api/v2/organizations/:organization/members":                 {401, 404, 200, 200},
	"GET /api/v2/organizations/:organization/members/":                {401, 404, 200, 200},
	"GET /api/v2/organizations/:organization/members/roles":           {401, 404, 200, 200},
	"GET /api/v2/organizations/:organization/provisionerdaemons":      {401, 404, 404, 200},
	"GET /api/v2/organizations/:organization/provisionerjobs":         {401, 404, 404, 200},
	"GET /api/v2/organizations/:organization/provisionerjobs/:job":    {401, 404, 404, 200},
	"GET /api/v2/organizations/:organization/templates":               {401, 404, 200, 200},
	"GET /api/v2/organizations/:organization/templates/:templatename": {401, 404, 200, 200},
	"GET /api/v2/organizations/:organization/templates/:templatename/versions/:templateversionname": {401, 404, 200, 200},
	"GET /api/v2/templates":                                                             {401, 200, 200, 200},
	"GET /api/v2/templates/:template":                                                   {401, 404, 200, 200},
	"GET /api/v2/templates/:template/daus":                                              {401, 404, 200, 200},
	"GET /api/v2/templates/:template/versions":                                          {401, 404, 200, 200},
	"GET /api/v2/templates/:template/versions/:templateversionname":                     {401, 404, 200, 200},
	"GET /api/v2/templateversions/:templateversion":                                     {401, 404, 200, 200},
	"GET /api/v2/templateversions/:templateversion/dry-run/:jobID":                      {401, 404, 404, 200},
	"GET /api/v2/templateversions/:templateversion/dry-run/:jobID/logs":                 {401, 404, 404, 200},
	"GET /api/v2/templateversions/:templateversion/dry-run/:jobID/matched-provisioners": {401, 404, 404, 200},
	"GET /api/v2/templateversions/:templateversion/dry-run/:jobID/resources":            {401, 404, 404, 200},
	"GET /api/v2/templateversions/:templateversion/external-auth":                       {401, 404, 200, 200},
	"GET /api/v2/templateversions/:templateversion/logs":                                {401, 404, 200, 200},
	"GET /api/v2/templateversions/:templateversion/parameters":                          {401, 404, 200, 200},
	"GET /api/v2/templateversions/:templateversion/presets":                             {401, 404, 200, 200},
	"GET /api/v2/templateversions/:templateversion/resources":                           {401, 404, 200, 200},
	"GET /api/v2/templateversions/:templateversion/rich-parameters":                     {401, 404, 200, 200},
	"GET /api/v2/templateversions/:templateversion/schema":                              {401, 404, 200, 200},
	"GET /api/v2/templateversions/:templateversion/variables":                           {401, 404, 403, 200},
	"GET /api/v2/users":                                                     {401, 200, 200, 200},
	"GET /api/v2/users/:user":                                               {401, 404, 404, 200},
	"GET /api/v2/users/:user/keys/:keyid":                                   {401, 404, 404, 200},
	"GET /api/v2/users/:user/keys/tokens":                                   {401, 404, 404, 200},
	"GET /api/v2/users/:user/keys/tokens/:keyname":                          {401, 404, 404, 200},
	"GET /api/v2/users/:user/keys/tokens/tokenconfig":                       {401, 404, 404, 200},
	"GET /api/v2/users/:user/organizations":                                 {401, 404, 404, 200},
	"GET /api/v2/users/:user/quiet-hours":                                   {401, 404, 404, 200},
	"GET /api/v2/users/:user/roles":                                         {401, 404, 404, 200},
	"GET /api/v2/users/:user/workspace/:workspacename":                      {401, 404, 404, 200},
	"GET /api/v2/users/:user/workspace/:workspacename/builds/:buildnumber":  {401, 404, 404, 200},
	"GET /api/v2/users/authmethods":                                         {200, 200, 200, 200},
	"GET /api/v2/users/first":                                               {200, 200, 200, 200},
	"GET /api/v2/users/roles":                                               {401, 200, 200, 200},
	"GET /api/v2/workspacebuilds/:workspacebuild":                           {401, 404, 404, 200},
	"GET /api/v2/workspacebuilds/:workspacebuild/logs":                      {401, 404, 404, 200},
	"GET /api/v2/workspacebuilds/:workspacebuild/parameters":                {401, 404, 404, 200},
	"GET /api/v2/workspacebuilds/:workspacebuild/resources":                 {401, 404, 404, 200},
	"GET /api/v2/workspacebuilds/:workspacebuild/state":                     {401, 404, 404, 200},
	"GET /api/v2/workspaces":                                                {401, 200, 200, 200},
	"GET /api/v2/workspaces/:workspace":                                     {401, 404, 404, 200},
	"GET /api/v2/workspaces/:workspace/builds":                              {401, 404, 404, 200},
	"GET /api/v2/workspaces/:workspace/resolve-autostart":                   {401, 404, 404, 200},
	"GET /api/v2/workspaces/:workspace/timings":                             {401, 404, 404, 200},
	"GET /api/v2/workspaces/:workspace/watch":                               {401, 404, 404, 200},
	"POST /api/v2/files":                                                    {401, 400, 400, 400},
	"POST /api/v2/organizations/:organization/members/:user":                {401, 404, 404, 400},
	"PUT /api/v2/organizations/:organization/members/:user/roles":           {401, 404, 403, 400},
	"POST /api/v2/organizations/:organization/members/:user/workspaces":     {401, 404, 404, 400},
	"POST /api/v2/organizations/:organization/templates":                    {401, 404, 403, 400},
	"POST /api/v2/organizations/:organization/templateversions":             {401, 404, 403, 400},
	"PATCH /api/v2/templates/:template":                                     {401, 404, 403, 200},
	"PATCH /api/v2/templates/:template/versions":                            {401, 404, 403, 404},
	"POST /api/v2/templates/:template/versions/archive":                     {401, 404, 403, 200},
	"PATCH /api/v2/templateversions/:templateversion":                       {401, 404, 403, 200},
	"POST /api/v2/templateversions/:templateversion/archive":                {401, 404, 403, 400},
	"PATCH /api/v2/templateversions/:templateversion/cancel":                {401, 404, 403, 400},
	"POST /api/v2/templateversions/:templateversion/dry-run":                {401, 404, 201, 201},
	"PATCH /api/v2/templateversions/:templateversion/dry-run/:jobID/cancel": {401, 404, 404, 400},
	"POST /api/v2/templateversions/:templateversion/unarchive":              {401, 404, 403, 400},
	"POST /api/v2/users":                                                    {401, 403, 403, 400},
	"POST /api/v2/users/:user/keys":                                         {401, 404, 404, 201},
	"POST /api/v2/users/:user/keys/tokens":                                  {401, 404, 404, 201},
	"PUT /api/v2/users/:user/password":                                      {401, 404, 404, 400},
	"PUT /api/v2/users/:user/quiet-hours":                                   {401, 404, 404, 200},
	"PUT /api/v2/users/:user/roles":                                         {401, 404, 404, 400},
	"PUT /api/v2/users/:user/status/activate":                               {401, 404, 404, 200},
	"PUT /api/v2/users/:user/status/suspend":                                {401, 404, 404, 400},
	"POST /api/v2/users/:user/workspaces":                                   {401, 404, 404, 400},
	"POST /api/v2/users/first":                                              {400, 400, 400, 400},
	"POST /api/v2/users/login":                                              {401, 401, 401, 401},
	"POST /api/v2/users/logout":                                             {401, 200, 200, 200},
	"PATCH /api/v2/workspacebuilds/:workspacebuild/cancel":                  {401, 404, 404, 400},
	"PUT /api/v2/workspacebuilds/:workspacebuild/state":                     {401, 404, 404, 204},
	"PATCH /api/v2/workspaces/:workspace":                                   {401, 404, 404, 204},
	"PUT /api/v2/workspaces/:workspace/autostart":                           {401, 404, 404, 400},
	"PUT /api/v2/workspaces/:workspace/autoupdates":                         {401, 404, 404, 400},
	"POST /api/v2/workspaces/:workspace/builds":                             {401, 404, 404, 400},
	"PUT /api/v2/workspaces/:workspace/dormant":                             {401, 404, 404, 304},
	"PUT /api/v2/workspaces/:workspace/extend":                              {401, 404, 404, 409},
	"PUT /api/v2/workspaces/:workspace/favorite":                            {401, 404, 404, 204},
	"PUT /api/v2/workspaces/:workspace/ttl":                                 {401, 404, 404, 400},
	"POST /api/v2/workspaces/:workspace/usage":                              {401, 404, 404, 204},
	"DELETE /api/v2/organizations/:organization/members/:user":              {401, 404, 404, 400},
	"DELETE /api/v2/templates/:template":                                    {401, 404, 403, 400},
	"DELETE /api/v2/users/:user":                                            {401, 404, 404, 403},
	"DELETE /api/v2/users/:user/keys/:keyid":                                {401, 404, 404, 204},
	"DELETE /api/v2/workspaces/:workspace/favorite":                         {401, 404, 404, 204},
}

// TestRouteAuthorization walks every route of the router (a new route
// without an entry here fails the test) as each kind of caller and checks
// the status it answers.
func TestRouteAuthorization(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	tpl := lifecycleTemplate(ctx, t, owner, demoSpec, sdk.CreateTemplateRequest{Name: "walk"})
	v, err := owner.Client.TemplateVersion(ctx, tpl.ActiveVersionID)
	require.NoError(t, err)
	ws, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "walk"})
	require.NoError(t, err)
	build := berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	dry, err := owner.Client.CreateTemplateVersionDryRun(ctx, v.ID, sdk.CreateTemplateVersionDryRunRequest{})
	require.NoError(t, err)
	file := berthtest.UploadEcho(ctx, t, owner.Client, demoSpec)
	key, err := owner.Client.CreateToken(ctx, "me", sdk.CreateTokenRequest{TokenName: "walk"})
	require.NoError(t, err)
	keyID, _, _ := strings.Cut(key.Key, "-")
	member, _ := newUser(ctx, t, d, owner, "walker")
	other, _ := newOrgMember(ctx, t, d, owner, "stranger")

	params := map[string]string{
		"organization": owner.OrganizationID.String(), "user": "owner", "job": v.Job.ID.String(),
		"templatename": tpl.Name, "templateversionname": v.Name, "workspacename": ws.Name, "buildnumber": "1",
		"workspace": ws.ID.String(), "workspacebuild": build.ID.String(), "fileID": file.String(),
		"template": tpl.ID.String(), "templateversion": v.ID.String(), "jobID": dry.ID.String(),
		"keyid": keyID, "keyname": "walk",
	}
	engine, ok := d.API.Handler().(*gin.Engine)
	require.True(t, ok)
	routes := engine.Routes()
	sort.Slice(routes, func(i, j int) bool {
		// Reads first, then writes, deletes last: the owner's writes
		// change fixtures later routes use.
		oi, oj := methodOrder(routes[i].Method), methodOrder(routes[j].Method)
		if oi != oj {
			return oi < oj
		}
		return routes[i].Path < routes[j].Path
	})
	callers := []*sdk.Client{d.Client(), other, member, owner.Client}
	var missing []string
	for _, r := range routes {
		segs := strings.Split(r.Path, "/")
		for i, seg := range segs {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				val, ok := params[name]
				require.True(t, ok, "route %s has a parameter the walk does not fill", r.Path)
				segs[i] = val
			}
		}
		path := strings.Join(segs, "/")
		cs := callers
		if r.Path == "/api/v2/users/logout" {
			// Fresh sessions: the walk goes on with the others.
			cs = []*sdk.Client{d.Client(), login(ctx, t, d, "stranger", berthtest.OwnerPassword),
				login(ctx, t, d, "walker", berthtest.OwnerPassword), login(ctx, t, d, "owner", berthtest.OwnerPassword)}
		}
		var got [4]int
		for i, c := range cs {
			got[i] = status(ctx, t, c, r.Method, path)
		}
		key := r.Method + " " + r.Path
		want, ok := routeStatuses[key]
		if !ok {
			missing = append(missing, fmt.Sprintf("%q: {%d, %d, %d, %d},", key, got[0], got[1], got[2], got[3]))
			continue
		}
		require.Equal(t, want, got, "%s (anonymous, other organization, member, owner)", key)
	}
	require.Empty(t, missing, "routes without expected statuses:\n%s", strings.Join(missing, "\n"))
}

func methodOrder(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodDelete:
		return 2
	}
	return 1
}

// status sends one request and returns its status; a stream (watch) is
// closed once its headers arrive.
func status(ctx context.Context, t *testing.T, c *sdk.Client, method, path string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var body any
	if method != http.MethodGet && method != http.MethodDelete {
		body = map[string]any{}
	}
	res, err := c.Request(ctx, method, path, body)
	require.NoError(t, err, "%s %s", method, path)
	_ = res.Body.Close()
	return res.StatusCode
}
