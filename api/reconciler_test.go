package api_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/jobs"
	"github.com/berth-dev/berth/workflows"
)

// lostStart commits jobs but never starts their workflows, as if the
// server died between the two.
type lostStart struct{}

func (lostStart) Start(context.Context, *db.ProvisionerJob, workflows.JobAttrs, map[string]any) error {
	return nil
}

// TestReconcilerDescribesBuild: a build whose workflow start was lost is
// started by the reconciler with the same search attributes and memo a
// create gives it (template, workspace and transition included).
func TestReconcilerDescribesBuild(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	tpl := settingsTemplate(ctx, t, owner, "recon", workspaceSpec, 0)
	created := settingsWorkspace(ctx, t, owner, "me", tpl, "lost")

	lost, err := jobs.New(jobs.Options{Store: d.Store, Starter: lostStart{}, Queues: d.Queues})
	require.NoError(t, err)
	ws, err := d.Store.GetWorkspaceByID(ctx, created.ID)
	require.NoError(t, err)
	me, err := d.Store.GetUserByID(ctx, owner.UserID)
	require.NoError(t, err)
	b, err := lost.Build(ctx, jobs.BuildRequest{Workspace: ws, Transition: "stop", Initiator: me})
	require.NoError(t, err)

	require.NoError(t, d.Reconciler.RunOnce(ctx))
	stop := berthtest.WaitBuild(t, owner.Client, b.Build.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, stop.Job.Status, stop.Job.Error)

	desc, err := d.Temporal.DescribeWorkflowExecution(ctx, b.Job.ID.String(), "")
	require.NoError(t, err)
	info := desc.GetWorkflowExecutionInfo()
	attrs := info.GetSearchAttributes().GetIndexedFields()
	keyword := func(name string) string {
		t.Helper()
		var s string
		require.Contains(t, attrs, name)
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(attrs[name], &s))
		return s
	}
	require.Equal(t, tpl.ID.String(), keyword(workflows.AttrTemplateID.GetName()))
	require.Equal(t, ws.ID.String(), keyword(workflows.AttrWorkspaceID.GetName()))
	require.Equal(t, "stop", keyword(workflows.AttrTransition.GetName()))
	require.Equal(t, stop.TemplateVersionID.String(), keyword(workflows.AttrTemplateVersionID.GetName()))
	memo := map[string]any{}
	for k, p := range info.GetMemo().GetFields() {
		var v any
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &v))
		memo[k] = v
	}
	require.Equal(t, "lost", memo["workspace"])
	require.Equal(t, "recon", memo["template"])
	require.Equal(t, "initiator", memo["reason"])
	require.Equal(t, true, memo["reconciled"])
	require.Equal(t, "stop workspace lost (build 2, initiator)", memo["summary"])
}
