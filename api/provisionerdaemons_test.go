package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

func TestProvisionerDaemonsAndTagRouting(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)

	// A tagged job matches no worker: it stays pending and says so.
	v := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan":{"outcome":"hang"}}}`, func(r *sdk.CreateTemplateVersionRequest) {
		r.ProvisionerTags = map[string]string{"gpu": "true"}
	})
	require.Equal(t, map[string]string{"gpu": "true", "scope": "organization", "owner": ""}, v.Job.Tags)
	got, err := owner.Client.TemplateVersion(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobPending, got.Job.Status)
	require.Equal(t, &sdk.MatchedProvisioners{}, got.MatchedProvisioners)
	require.Zero(t, got.Job.QueuePosition)

	daemons, err := owner.Client.ProvisionerDaemons(ctx, owner.OrganizationID)
	require.NoError(t, err)
	require.Len(t, daemons, 1)
	require.Equal(t, sdk.ProvisionerDaemonStatus("idle"), daemons[0].Status)
	require.Equal(t, map[string]string{"scope": "organization", "owner": ""}, daemons[0].Tags)
	require.Equal(t, []sdk.ProvisionerType{"echo"}, daemons[0].Provisioners)

	// A worker with a superset of the tags picks it up.
	gpuID, _ := d.StartWorker(map[string]string{"gpu": "true", "zone": "a"})
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := owner.Client.TemplateVersion(ctx, v.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobRunning, got.Job.Status)
		if assert.NotNil(ct, got.Job.WorkerID) {
			assert.Equal(ct, gpuID, *got.Job.WorkerID)
		}
	}, 60*time.Second, 50*time.Millisecond)

	daemons, err = owner.Client.ProvisionerDaemons(ctx, owner.OrganizationID, sdk.WithQueryParam("status", "busy"))
	require.NoError(t, err)
	require.Len(t, daemons, 1)
	require.Equal(t, gpuID, daemons[0].ID)
	require.Equal(t, v.Job.ID, daemons[0].CurrentJob.ID)

	require.NoError(t, owner.Client.CancelTemplateVersion(ctx, v.ID))
	berthtest.WaitJob(ctx, t, owner.Client, v.ID)
	daemons, err = owner.Client.ProvisionerDaemons(ctx, owner.OrganizationID, sdk.WithQueryParam("tags", `{"gpu":"true"}`))
	require.NoError(t, err)
	require.Len(t, daemons, 1)
	require.Nil(t, daemons[0].CurrentJob)
	require.Equal(t, v.Job.ID, daemons[0].PreviousJob.ID)
	require.Equal(t, sdk.ProvisionerJobCanceled, daemons[0].PreviousJob.Status)

	_, err = owner.Client.ProvisionerDaemons(ctx, owner.OrganizationID, sdk.WithQueryParam("bogus", "1"))
	requireStatus(t, err, http.StatusBadRequest, "Invalid query parameters.")
}
