package api_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

var recordHistories = flag.Bool("record-histories", false,
	"record ProvisionerJob histories into workflows/testdata/histories for the replay test")

// TestRecordHistories records real ProvisionerJob histories (real Temporal,
// real activities) for workflows' replay test, which checks that a change
// to the workflow code still replays what running deployments have in
// flight. Run it after adding a workflow.GetVersion branch:
//
//	go test ./api -run TestRecordHistories -args -record-histories
func TestRecordHistories(t *testing.T) {
	if !*recordHistories {
		t.Skip("-record-histories not set")
	}
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := owner.Client
	dir := filepath.Join("..", "workflows", "testdata", "histories")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	save := func(name string, jobID uuid.UUID) {
		t.Helper()
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			desc, err := d.Temporal.DescribeWorkflowExecution(ctx, jobID.String(), "")
			require.NoError(ct, err)
			assert.NotNil(ct, desc.GetWorkflowExecutionInfo().GetCloseTime(), "workflow still open")
		}, time.Minute, 50*time.Millisecond)
		writeHistory(ctx, t, d.Temporal, jobID.String(), filepath.Join(dir, name+".json"))
	}

	// An import that succeeds.
	v := berthtest.WaitJob(ctx, t, c, createVersion(ctx, t, owner, workspaceSpec).ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	save("import_succeeded", v.Job.ID)

	// An import that fails.
	failed := berthtest.WaitJob(ctx, t, c, createVersion(ctx, t, owner, `{"version":1,"steps":{"plan":{"outcome":"fail","error":"boom"}}}`).ID)
	require.Equal(t, sdk.ProvisionerJobFailed, failed.Job.Status)
	save("import_failed", failed.Job.ID)

	// A running import canceled by the user.
	hang := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan":{"logs":[{"output":"waiting"}],"outcome":"hang"}}}`)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := c.TemplateVersion(ctx, hang.ID)
		require.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobRunning, got.Job.Status)
	}, time.Minute, 20*time.Millisecond)
	require.NoError(t, c.CancelTemplateVersion(ctx, hang.ID))
	hang = berthtest.WaitJob(ctx, t, c, hang.ID)
	save("import_canceled", hang.Job.ID)

	// A tagged import no worker could take, adopted by a worker that
	// starts later (the reroute signal).
	tagged := createVersion(ctx, t, owner, `{"version":1}`, func(r *sdk.CreateTemplateVersionRequest) {
		r.ProvisionerTags = map[string]string{"pool": "late"}
	})
	d.StartWorker(map[string]string{"pool": "late", "zone": "a"}) // a superset: another task queue
	tagged = berthtest.WaitJob(ctx, t, c, tagged.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, tagged.Job.Status, tagged.Job.Error)
	save("import_rerouted", tagged.Job.ID)

	// A workspace build.
	tpl, err := c.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "hist", VersionID: v.ID})
	require.NoError(t, err)
	ws, err := c.CreateWorkspace(ctx, owner.OrganizationID, "me", sdk.CreateWorkspaceRequest{TemplateID: tpl.ID, Name: "hist"})
	require.NoError(t, err)
	b := berthtest.WaitBuild(t, c, ws.LatestBuild.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, b.Job.Status, b.Job.Error)
	save("build_succeeded", b.Job.ID)
}

func writeHistory(ctx context.Context, t *testing.T, tc client.Client, workflowID, path string) {
	t.Helper()
	var h historypb.History
	it := tc.GetWorkflowHistory(ctx, workflowID, "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	data, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&h)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(data, '\n'), 0o644))
	t.Logf("recorded %s (%d events)", path, len(h.Events))
}
