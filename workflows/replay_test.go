package workflows_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/berth-dev/berth/workflows"
)

// TestReplayRecordedHistories replays histories of real job workflow runs
// (recorded by api's TestRecordHistories) against the current workflow
// code: a change that would break workflows already in flight in a running
// deployment fails here, and needs a workflow.GetVersion branch (STYLE T9).
// testdata/histories/v1 holds ProvisionerJobV1's, which replay against it.
func TestReplayRecordedHistories(t *testing.T) {
	t.Parallel()
	for dir, fn := range map[string]any{
		filepath.Join("testdata", "histories"):       workflows.ProvisionerJob,
		filepath.Join("testdata", "histories", "v1"): workflows.ProvisionerJobV1,
	} {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, files, "no recorded histories in %s", dir)
		for _, f := range files {
			t.Run(f, func(t *testing.T) {
				t.Parallel()
				r := worker.NewWorkflowReplayer()
				r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: workflows.WorkflowProvisionerJob})
				require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
			})
		}
	}
}
