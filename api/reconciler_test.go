package api_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/workflows"
)

// TestReconcilerDescribesBuild: a build no worker dispatched (none ran
// when it was created) gets its workflow from the reconciler, on the job's
// queue, with the search attributes, memo and summary every start of a job
// workflow has (template, workspace and transition included); a worker
// that starts later takes it from Temporal.
func TestReconcilerDescribesBuild(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	_, stopWorker := d.StartWorker(nil)
	owner := d.CreateFirstUser(ctx)
	tpl := settingsTemplate(ctx, t, owner, "recon", workspaceSpec, 0)
	created := settingsWorkspace(ctx, t, owner, "me", tpl, "lost")
	stopWorker()

	b, err := owner.Client.CreateWorkspaceBuild(ctx, created.ID, sdk.CreateWorkspaceBuildRequest{Transition: "stop"})
	require.NoError(t, err)
	require.NoError(t, d.Reconciler.RunOnce(ctx))
	desc, err := d.Temporal.DescribeWorkflowExecution(ctx, b.Job.ID.String(), "")
	require.NoError(t, err, "the reconciler started the workflow")
	info := desc.GetWorkflowExecutionInfo()
	require.Equal(t, b.Job.ID.String(), info.GetExecution().GetWorkflowId())
	attrs := info.GetSearchAttributes().GetIndexedFields()
	dc := converter.GetDefaultDataConverter()
	keyword := func(name string) string {
		t.Helper()
		var s string
		require.Contains(t, attrs, name)
		require.NoError(t, dc.FromPayload(attrs[name], &s))
		return s
	}
	require.Equal(t, tpl.ID.String(), keyword(workflows.AttrTemplateID.GetName()))
	require.Equal(t, created.ID.String(), keyword(workflows.AttrWorkspaceID.GetName()))
	require.Equal(t, "stop", keyword(workflows.AttrTransition.GetName()))
	require.Equal(t, b.TemplateVersionID.String(), keyword(workflows.AttrTemplateVersionID.GetName()))
	memo := map[string]any{}
	for k, p := range info.GetMemo().GetFields() {
		var v any
		require.NoError(t, dc.FromPayload(p, &v))
		memo[k] = v
	}
	require.Equal(t, "lost", memo["workspace"])
	require.Equal(t, "recon", memo["template"])
	require.Equal(t, "initiator", memo["reason"])
	require.Equal(t, "owner", memo["owner"])
	var summary string
	require.NoError(t, dc.FromPayload(desc.GetExecutionConfig().GetUserMetadata().GetSummary(), &summary))
	require.Equal(t, fmt.Sprintf("stop owner/lost #2 · template recon (%s)", b.TemplateVersionName), summary)

	d.StartWorker(nil)
	stop := berthtest.WaitBuild(t, owner.Client, b.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, stop.Job.Status, stop.Job.Error)
}
