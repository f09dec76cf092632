package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// TestJobLogsPaged reads a version's logs a page at a time with limit and
// after, and checks a build reason outside what Coder's clients send
// (autostop, a lifecycle reason) is refused.
func TestJobLogsPaged(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	v := berthtest.WaitJob(ctx, t, owner.Client, createVersion(ctx, t, owner,
		`{"version": 1, "steps": {"parse": {"logs": [{"output": "tick", "repeat": 30}]}}}`).ID)
	all, err := owner.Client.TemplateVersionLogsAfter(ctx, v.ID, 0)
	require.NoError(t, err)
	require.Greater(t, len(all), 30)

	page := func(after int64, limit string) ([]sdk.ProvisionerJobLog, error) {
		res, err := owner.Client.Request(ctx, http.MethodGet,
			fmt.Sprintf("/api/v2/templateversions/%s/logs?after=%d&limit=%s", v.ID, after, limit), nil)
		if err != nil {
			return nil, err
		}
		if res.StatusCode != http.StatusOK {
			return nil, sdk.ReadBodyAsError(res)
		}
		var logs []sdk.ProvisionerJobLog
		return logs, sdk.DecodeJSON(res, &logs)
	}
	var paged []sdk.ProvisionerJobLog
	for after := int64(0); ; {
		logs, err := page(after, "10")
		require.NoError(t, err)
		require.LessOrEqual(t, len(logs), 10)
		if len(logs) == 0 {
			break
		}
		paged = append(paged, logs...)
		after = logs[len(logs)-1].ID
	}
	require.Equal(t, all, paged)
	for _, bad := range []string{"0", "-1", "ten"} {
		_, err := page(0, bad)
		requireStatus(t, err, http.StatusBadRequest, `Query param "limit" must be a positive integer.`)
	}

	tpl, err := owner.Client.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "reasons", VersionID: v.ID})
	require.NoError(t, err)
	ws, err := owner.Client.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "reasons"})
	require.NoError(t, err)
	berthtest.WaitBuild(t, owner.Client, ws.LatestBuild.ID)
	_, err = owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "stop", Reason: "autostop"})
	requireStatus(t, err, http.StatusBadRequest, "Validation failed.")
	_, err = owner.Client.CreateWorkspaceBuild(ctx, ws.ID, sdk.CreateWorkspaceBuildRequest{Transition: "stop", Reason: "cli"})
	require.NoError(t, err)
}
