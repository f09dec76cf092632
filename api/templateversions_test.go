package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/berthtest"
)

const demoSpec = `{"version": 1, "readme": "# Demo",
 "variables":  [{"name": "region", "type": "string", "default_value": "eu", "required": false}],
 "parameters": [{"name": "size", "type": "string", "default_value": "small", "mutable": true,
                 "options": [{"name": "Small", "value": "small"}, {"name": "Large", "value": "large"}]}],
 "resources": [{"name": "dev", "type": "echo_instance", "transitions": ["start", "stop"],
                "metadata": [{"key": "region", "value": "${var:region}"}],
                "agents": [{"name": "main", "operating_system": "linux", "architecture": "amd64"}]},
               {"name": "home", "type": "echo_volume", "transitions": ["start"]}],
 "steps": {"parse": {"logs": [{"output": "parsed"}]},
           "plan": {"logs": [{"output": "planning ${transition}"}]}}}`

func createVersion(ctx context.Context, t *testing.T, owner berthtest.Owner, spec string, mut ...func(*sdk.CreateTemplateVersionRequest)) sdk.TemplateVersion {
	t.Helper()
	fileID := berthtest.UploadEcho(ctx, t, owner.Client, spec)
	req := sdk.CreateTemplateVersionRequest{FileID: fileID, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file"}
	for _, m := range mut {
		m(&req)
	}
	v, err := owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, req)
	require.NoError(t, err)
	return v
}

func TestTemplateVersionImport(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)

	v := createVersion(ctx, t, owner, demoSpec, func(r *sdk.CreateTemplateVersionRequest) { r.Message = "first" })
	require.Equal(t, sdk.ProvisionerJobTypeTemplateVersionImport, v.Job.Type)
	require.False(t, v.TemplateID.Valid)
	require.Equal(t, "first", v.Message)
	require.NotEmpty(t, v.Name)
	require.Equal(t, owner.UserID, v.CreatedBy.ID)
	require.Equal(t, map[string]string{"scope": "organization", "owner": ""}, v.Job.Tags)
	require.Equal(t, v.ID, *v.Job.Input.TemplateVersionID)

	v = berthtest.WaitJob(ctx, t, owner.Client, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	require.NotNil(t, v.Job.StartedAt)
	require.NotNil(t, v.Job.CompletedAt)
	require.Nil(t, v.Job.CanceledAt)
	require.NotNil(t, v.Job.WorkerID)
	require.Equal(t, "test-worker", v.Job.WorkerName)
	require.Zero(t, v.Job.QueuePosition)
	require.Zero(t, v.Job.QueueSize)
	require.Equal(t, "# Demo", v.Readme)
	require.Nil(t, v.MatchedProvisioners, "only pending versions report matched provisioners")

	logs, err := owner.Client.TemplateVersionLogsAfter(ctx, v.ID, 0)
	require.NoError(t, err)
	var stages []string
	for i, l := range logs {
		if i > 0 {
			require.Greater(t, l.ID, logs[i-1].ID)
		}
		if l.Source == sdk.LogSourceProvisionerDaemon && l.Output == "" {
			stages = append(stages, l.Stage)
		}
	}
	require.Equal(t, []string{"Setting up", "Parsing template parameters", "Detecting persistent resources",
		"Detecting ephemeral resources", "Cleaning Up"}, stages)
	require.Contains(t, outputs(logs), "parsed")
	require.Contains(t, outputs(logs), "planning stop")
	after, err := owner.Client.TemplateVersionLogsAfter(ctx, v.ID, logs[2].ID)
	require.NoError(t, err)
	require.Equal(t, logs[3:], after)

	res, err := owner.Client.TemplateVersionResources(ctx, v.ID)
	require.NoError(t, err)
	require.Len(t, res, 3)
	byKey := map[string]sdk.WorkspaceResource{}
	for _, r := range res {
		byKey[string(r.WorkspaceTransition)+"/"+r.Name] = r
	}
	require.Contains(t, byKey, "start/dev")
	require.Contains(t, byKey, "start/home")
	require.Contains(t, byKey, "stop/dev")
	require.Equal(t, "main", byKey["start/dev"].Agents[0].Name)
	require.Equal(t, []sdk.WorkspaceResourceMetadata{{Key: "region", Value: "eu"}}, byKey["start/dev"].Metadata)

	params, err := owner.Client.TemplateVersionRichParameters(ctx, v.ID)
	require.NoError(t, err)
	require.Len(t, params, 1)
	require.Equal(t, "size", params[0].Name)
	require.Equal(t, "small", params[0].DefaultValue)
	require.True(t, params[0].Mutable)
	require.Len(t, params[0].Options, 2)

	vars, err := owner.Client.TemplateVersionVariables(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, []sdk.TemplateVersionVariable{{Name: "region", Type: "string", Value: "eu", DefaultValue: "eu"}}, vars)

	// Unknown and malformed IDs.
	_, err = owner.Client.TemplateVersion(ctx, uuid.New())
	requireStatus(t, err, http.StatusNotFound, "Resource not found or you do not have access to this resource")
	res2, err := owner.Client.Request(ctx, http.MethodGet, "/api/v2/templateversions/nope", nil)
	require.NoError(t, err)
	requireStatus(t, sdk.ReadBodyAsError(res2), http.StatusBadRequest, `Invalid UUID "nope".`)
	res2, err = owner.Client.Request(ctx, http.MethodGet, "/api/v2/templateversions/"+v.ID.String()+"/logs?after=x", nil)
	require.NoError(t, err)
	requireStatus(t, sdk.ReadBodyAsError(res2), http.StatusBadRequest, `Query param "after" must be an integer.`)
	// follow over plain HTTP is refused with JSON.
	res2, err = owner.Client.Request(ctx, http.MethodGet, "/api/v2/templateversions/"+v.ID.String()+"/logs?follow", nil)
	require.NoError(t, err)
	requireStatus(t, sdk.ReadBodyAsError(res2), http.StatusUpgradeRequired, "Failed to accept websocket.")

	// Follow on a finished job: the backlog, then the socket closes.
	ch, closer, err := owner.Client.TemplateVersionLogsFollow(ctx, v.ID, 0)
	require.NoError(t, err)
	defer closer.Close()
	require.Equal(t, logs, drain(t, ch))
}

func outputs(logs []sdk.ProvisionerJobLog) []string {
	out := make([]string, 0, len(logs))
	for _, l := range logs {
		out = append(out, l.Output)
	}
	return out
}

// drain collects a follow stream until the server closes it.
func drain(t *testing.T, ch <-chan sdk.ProvisionerJobLog) []sdk.ProvisionerJobLog {
	t.Helper()
	var got []sdk.ProvisionerJobLog
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-ch:
			if !ok {
				return got
			}
			got = append(got, l)
		case <-timeout:
			t.Fatalf("follow did not close; got %d lines", len(got))
		}
	}
}

func TestTemplateVersionLogsFollowLive(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)

	spec := `{"version":1,"steps":{"plan":{"logs":[{"output":"line ${transition}","delay_ms":150,"repeat":4}]}}}`
	v := createVersion(ctx, t, owner, spec)
	ch, closer, err := owner.Client.TemplateVersionLogsFollow(ctx, v.ID, 0)
	require.NoError(t, err)
	defer closer.Close()
	got := drain(t, ch)

	// The socket closes only once the terminal state is visible.
	final, err := owner.Client.TemplateVersion(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, sdk.ProvisionerJobSucceeded, final.Job.Status)
	all, err := owner.Client.TemplateVersionLogsAfter(ctx, v.ID, 0)
	require.NoError(t, err)
	require.Equal(t, all, got, "every line exactly once, in order")
	require.Equal(t, 8, count(outputs(got), func(s string) bool { return s == "line start" || s == "line stop" }))
}

func count(ss []string, f func(string) bool) int {
	n := 0
	for _, s := range ss {
		if f(s) {
			n++
		}
	}
	return n
}

func TestTemplateVersionImportFailures(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)

	t.Run("scripted failure", func(t *testing.T) {
		t.Parallel()
		v := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan:start":{"outcome":"fail","error":"boom: ${transition}"}}}`)
		v = berthtest.WaitJob(ctx, t, owner.Client, v.ID)
		require.Equal(t, sdk.ProvisionerJobFailed, v.Job.Status)
		require.Equal(t, "boom: start", v.Job.Error)
		require.NotNil(t, v.Job.CompletedAt)
		logs, err := owner.Client.TemplateVersionLogsAfter(ctx, v.ID, 0)
		require.NoError(t, err)
		last := logs[len(logs)-1]
		require.Equal(t, sdk.LogLevelError, last.Level)
		require.Equal(t, "boom: start", last.Output)
	})
	t.Run("required variables", func(t *testing.T) {
		t.Parallel()
		spec := `{"version":1,"variables":[{"name":"b","type":"string","required":true},{"name":"a","type":"string","required":true},{"name":"c","type":"string","default_value":"x"}]}`
		v := createVersion(ctx, t, owner, spec, func(r *sdk.CreateTemplateVersionRequest) {
			r.UserVariableValues = []sdk.VariableValue{{Name: "a", Value: "given"}}
		})
		v = berthtest.WaitJob(ctx, t, owner.Client, v.ID)
		require.Equal(t, sdk.ProvisionerJobFailed, v.Job.Status)
		require.Equal(t, sdk.RequiredTemplateVariables, v.Job.ErrorCode)
		require.Equal(t, "required template variables need values: b", v.Job.Error)
		vars, err := owner.Client.TemplateVersionVariables(ctx, v.ID)
		require.NoError(t, err, "variables stay readable after the failure")
		require.Len(t, vars, 3)
		require.Equal(t, "given", vars[1].Value)
	})
	t.Run("invalid echo.json", func(t *testing.T) {
		t.Parallel()
		v := createVersion(ctx, t, owner, `{"version":2}`)
		v = berthtest.WaitJob(ctx, t, owner.Client, v.ID)
		require.Equal(t, sdk.ProvisionerJobFailed, v.Job.Status)
		require.Contains(t, v.Job.Error, "echo: invalid echo.json")
	})
	t.Run("bad requests", func(t *testing.T) {
		t.Parallel()
		fileID := berthtest.UploadEcho(ctx, t, owner.Client, `{"version":1}`)
		_, err := owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
			FileID: fileID, Provisioner: "bogus", StorageMethod: "file",
		})
		apiErr := requireStatus(t, err, http.StatusBadRequest, "Validation failed.")
		require.Equal(t, "provisioner", apiErr.Response.Validations[0].Field)
		_, err = owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
			FileID: uuid.New(), Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
		})
		requireStatus(t, err, http.StatusNotFound, "File not found.")
		_, err = owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
			FileID: fileID, ExampleID: "docker", Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
		})
		requireStatus(t, err, http.StatusBadRequest, "You cannot specify both an example_id and a file_id.")
		_, err = owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
			FileID: fileID, TemplateID: uuid.New(), Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
		})
		requireStatus(t, err, http.StatusNotFound, "Template does not exist.")
		res, err := owner.Client.Request(ctx, http.MethodPost, "/api/v2/organizations/default/templateversions", []byte("{nope"))
		require.NoError(t, err)
		requireStatus(t, sdk.ReadBodyAsError(res), http.StatusBadRequest, "Request body must be valid JSON.")
	})
}

func TestTemplateVersionCancel(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	t.Run("pending", func(t *testing.T) {
		t.Parallel()
		d := berthtest.New(t, berthtest.Options{NoWorker: true})
		owner := d.CreateFirstUser(ctx)
		v := createVersion(ctx, t, owner, demoSpec)
		require.Equal(t, sdk.ProvisionerJobPending, v.Job.Status)
		require.Equal(t, &sdk.MatchedProvisioners{}, v.MatchedProvisioners, "no worker: nothing matches")

		require.NoError(t, owner.Client.CancelTemplateVersion(ctx, v.ID))
		v, err := owner.Client.TemplateVersion(ctx, v.ID)
		require.NoError(t, err)
		require.Equal(t, sdk.ProvisionerJobCanceled, v.Job.Status, "a pending job is canceled at once")
		require.NotNil(t, v.Job.CanceledAt)
		require.NotNil(t, v.Job.CompletedAt)

		err = owner.Client.CancelTemplateVersion(ctx, v.ID)
		requireStatus(t, err, http.StatusBadRequest, "Job has already completed!")

		// A worker arriving later never runs it.
		d.StartWorker(nil)
		require.Error(t, d.Temporal.GetWorkflow(ctx, v.Job.ID.String(), "").Get(ctx, nil), "the workflow ends canceled")
		v, err = owner.Client.TemplateVersion(ctx, v.ID)
		require.NoError(t, err)
		require.Equal(t, sdk.ProvisionerJobCanceled, v.Job.Status)
		require.Nil(t, v.Job.StartedAt)
		logs, err := owner.Client.TemplateVersionLogsAfter(ctx, v.ID, 0)
		require.NoError(t, err)
		for _, l := range logs {
			require.NotEqual(t, sdk.LogSourceProvisioner, l.Source, "the provisioner never ran")
		}
	})

	t.Run("running", func(t *testing.T) {
		t.Parallel()
		d := berthtest.New(t, berthtest.Options{})
		owner := d.CreateFirstUser(ctx)
		v := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan":{"logs":[{"output":"hanging"}],"outcome":"hang"}}}`)
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			got, err := owner.Client.TemplateVersion(ctx, v.ID)
			assert.NoError(ct, err)
			assert.Equal(ct, sdk.ProvisionerJobRunning, got.Job.Status)
		}, 30*time.Second, 20*time.Millisecond)

		require.NoError(t, owner.Client.CancelTemplateVersion(ctx, v.ID))
		v = berthtest.WaitJob(ctx, t, owner.Client, v.ID)
		require.Equal(t, sdk.ProvisionerJobCanceled, v.Job.Status)
		require.Empty(t, v.Job.Error)
		require.NotNil(t, v.Job.CanceledAt)
		err := owner.Client.CancelTemplateVersion(ctx, v.ID)
		requireStatus(t, err, http.StatusBadRequest, "Job has already completed!")
	})
}

// TestReconcilerStartsOrphanedJob commits a job the way the API does but
// never starts its workflow, as if the API died between the two.
func TestReconcilerStartsOrphanedJob(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	fileID := berthtest.UploadEcho(ctx, t, owner.Client, demoSpec)

	now := db.Now()
	versionID := uuid.New()
	input, err := json.Marshal(db.JobInput{TemplateVersionID: uuid.NullUUID{UUID: versionID, Valid: true}})
	require.NoError(t, err)
	tags := db.UntaggedTags()
	job := &db.ProvisionerJob{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OrganizationID: owner.OrganizationID,
		InitiatorID: owner.UserID, Provisioner: "echo", StorageMethod: "file", Type: db.JobTypeTemplateVersionImport,
		Input: input, Tags: tags, FileID: fileID, TaskQueue: d.Queues.Provisioner(owner.OrganizationID, []string{"echo"}, tags),
	}
	require.NoError(t, d.Store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.InsertJob(ctx, job); err != nil {
			return err
		}
		return tx.InsertTemplateVersion(ctx, &db.TemplateVersion{
			ID: versionID, OrganizationID: owner.OrganizationID, Name: "orphan", JobID: job.ID,
			CreatedBy: owner.UserID, CreatedAt: now, UpdatedAt: now,
		})
	}))
	require.NoError(t, d.Reconciler.RunOnce(ctx))
	v := berthtest.WaitJob(ctx, t, owner.Client, versionID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	// A second pass finds nothing to do.
	require.NoError(t, d.Reconciler.RunOnce(ctx))
}
