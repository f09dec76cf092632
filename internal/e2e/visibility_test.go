package e2e

import (
	"database/sql"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/driver/pgdriver"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/workflows"
)

// TestTemporalServerPrunesVisibilityIndexes: bin/temporal-server drops the
// visibility indexes of custom search attribute slots no namespace uses,
// keeps those of berth's attributes, and recreates a slot's index at the
// next start once an attribute is registered in it.
func TestTemporalServerPrunesVisibilityIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ts := testinfra.StartTemporalServer(t)
	vis := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(ts.VisibilityURL)))
	defer vis.Close()
	indexes := func() map[string]bool {
		rows, err := vis.QueryContext(ctx, `SELECT indexname FROM pg_indexes WHERE tablename = 'executions_visibility'`)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var name string
			require.NoError(t, rows.Scan(&name))
			out[name] = true
		}
		require.NoError(t, rows.Err())
		return out
	}
	// slotIndexes counts the indexes of custom slots by type.
	slotIndexes := func(got map[string]bool) map[string]int {
		out := map[string]int{}
		for name := range got {
			for typ, prefix := range map[string]string{"Keyword": "by_keyword_", "KeywordList": "by_keyword_list_", "Int": "by_int_"} {
				if len(name) == len(prefix)+2 && strings.HasPrefix(name, prefix) {
					out[typ]++
				}
			}
		}
		return out
	}

	tc, err := client.DialContext(ctx, client.Options{HostPort: ts.Addr, Namespace: "default"})
	require.NoError(t, err)
	defer tc.Close()
	got := indexes()
	require.True(t, got["default_idx"] && got["by_workflow_id"] && got["by_status"], "the indexes Temporal's own lists use stay: %v", got)
	require.False(t, got["by_batcher_user"] || got["by_temporal_scheduled_by_id"], "features berth does not use lose theirs: %v", got)
	var keywords, lists int
	for _, typ := range workflows.SearchAttributes() {
		if typ == enums.INDEXED_VALUE_TYPE_KEYWORD_LIST {
			lists++
		} else {
			keywords++
		}
	}
	assert.Equal(t, map[string]int{"Keyword": keywords, "KeywordList": lists}, slotIndexes(got),
		"one index per custom slot in use, none for the free ones")

	// An attribute registered while the server runs gets its index back at
	// the next start.
	_, err = tc.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: "default", SearchAttributes: map[string]enums.IndexedValueType{"Extra": enums.INDEXED_VALUE_TYPE_INT},
	})
	require.NoError(t, err)
	ts.Stop(syscall.SIGTERM)
	require.NoError(t, ts.Start())
	got = indexes()
	assert.Equal(t, 1, slotIndexes(got)["Int"], "the new Int attribute's slot is indexed again: %v", got)
	// The new attribute can be queried (by the caches of a fresh start).
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		_, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: "Extra = 3 AND WorkflowId = 'x'"})
		assert.NoError(ct, err)
	}, 30*time.Second, 200*time.Millisecond)
}
