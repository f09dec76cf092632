package activities_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner"
)

const demoSpec = `{"version": 1, "readme": "# Demo",
 "variables": [{"name": "region", "type": "string", "default_value": "eu", "required": false, "description": "Where"}],
 "parameters": [{"name": "size", "type": "string", "default_value": "small", "mutable": true, "display_name": "Size",
                 "options": [{"name": "Small", "value": "small"}, {"name": "Large", "value": "large"}]}],
 "external_auth": [{"id": "github", "optional": true}],
 "workspace_tags": {},
 "resources": [
   {"name": "dev", "type": "echo_instance", "transitions": ["start", "stop"],
    "metadata": [{"key": "region", "value": "${var:region}"}],
    "agents": [{"name": "main", "operating_system": "linux", "architecture": "amd64", "directory": "/home/coder"}]},
   {"name": "disk", "type": "echo_volume"}],
 "steps": {"parse": {"logs": [{"output": "parsed"}]},
           "plan": {"logs": [{"output": "planning ${transition}"}]}}}`

func TestRunJobImport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, version := h.createImport(demoSpec)

	res, err := h.runJob(job.ID)
	require.NoError(t, err)
	require.True(t, res.Completed, "RunJob wrote the terminal state")
	h.requireWorkDirEmpty()

	got := h.job(job.ID)
	require.Equal(t, db.JobSucceeded, got.Status)
	require.Empty(t, got.Error)
	require.Equal(t, uuid.NullUUID{UUID: h.workerID, Valid: true}, got.WorkerID)
	require.NotNil(t, got.StartedAt)
	require.NotNil(t, got.CompletedAt)
	require.False(t, got.CompletedAt.Before(*got.StartedAt))

	logs := h.logs(job.ID)
	requireLogShape(t, logs)
	require.Equal(t, []string{stageSetup, stageParse, stagePersistent, stageEphemeral, stageCleanup}, headers(logs),
		"the import's stage headers, in order")
	parsed := findLog(t, logs, "parsed")
	require.Equal(t, db.LogSourceProvisioner, parsed.Source)
	require.Equal(t, stageParse, parsed.Stage, "parse output stays in the header's stage")
	require.Equal(t, stagePersistent, findLog(t, logs, "planning start").Stage)
	require.Equal(t, stageEphemeral, findLog(t, logs, "planning stop").Stage)
	require.Equal(t, stageCleanup, logs[len(logs)-1].Stage, "the last line is the Cleaning Up header")
	total := 0
	for _, l := range logs {
		total += len(l.Output)
	}
	require.Equal(t, total, got.LogsLength)

	// Resources: the start plan's and the stop plan's.
	rs, err := h.store.GetJobResources(h.ctx, job.ID)
	require.NoError(t, err)
	var start, stop []string
	for _, r := range rs {
		require.Equal(t, job.ID, r.JobID)
		switch r.Transition {
		case provisioner.TransitionStart:
			start = append(start, r.Name)
		case provisioner.TransitionStop:
			stop = append(stop, r.Name)
		default:
			t.Fatalf("unexpected transition %q", r.Transition)
		}
	}
	require.Equal(t, []string{"dev", "disk"}, start)
	require.Equal(t, []string{"dev"}, stop)
	dev := rs[0]
	require.Equal(t, "echo_instance", dev.Type)
	var md []db.ResourceMetadata
	require.NoError(t, json.Unmarshal(dev.Metadata, &md))
	require.Equal(t, []db.ResourceMetadata{{Key: "region", Value: "eu"}}, md, "placeholders use the variable values")
	var agents []db.ResourceAgent
	require.NoError(t, json.Unmarshal(dev.Agents, &agents))
	require.Len(t, agents, 1)
	require.Equal(t, "main", agents[0].Name)
	require.Equal(t, "linux", agents[0].OperatingSystem)
	require.NotEqual(t, uuid.Nil, agents[0].ID, "agents get generated IDs")

	// Parameters, variables and the version's own results.
	params, err := h.store.GetTemplateVersionParameters(h.ctx, version.ID)
	require.NoError(t, err)
	require.Len(t, params, 1)
	require.Equal(t, "size", params[0].Name)
	require.Equal(t, "Size", params[0].DisplayName)
	require.Equal(t, "string", params[0].Type)
	require.Equal(t, "small", params[0].DefaultValue)
	require.True(t, params[0].Mutable)
	var opts []provisioner.ParameterOption
	require.NoError(t, json.Unmarshal(params[0].Options, &opts))
	require.Equal(t, []provisioner.ParameterOption{{Name: "Small", Value: "small"}, {Name: "Large", Value: "large"}}, opts)

	vars, err := h.store.GetTemplateVersionVariables(h.ctx, version.ID)
	require.NoError(t, err)
	require.Equal(t, []db.TemplateVersionVariable{{
		TemplateVersionID: version.ID, Position: 0, Name: "region", Description: "Where", Type: "string",
		Value: "eu", DefaultValue: "eu",
	}}, vars)

	v, err := h.store.GetTemplateVersionByID(h.ctx, version.ID)
	require.NoError(t, err)
	require.Equal(t, "# Demo", v.Readme)
	require.JSONEq(t, `[{"id":"github","optional":true}]`, string(v.ExternalAuthProviders))
}

func TestRunJobImportWithVariableValues(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, version := h.createImport(demoSpec, db.VariableValue{Name: "region", Value: "us"})
	res, err := h.runJob(job.ID)
	require.NoError(t, err)
	require.True(t, res.Completed)
	require.Equal(t, db.JobSucceeded, h.job(job.ID).Status)

	vars, err := h.store.GetTemplateVersionVariables(h.ctx, version.ID)
	require.NoError(t, err)
	require.Len(t, vars, 1)
	require.Equal(t, "us", vars[0].Value, "the supplied value wins")
	require.Equal(t, "eu", vars[0].DefaultValue)
	rs, err := h.store.GetJobResources(h.ctx, job.ID)
	require.NoError(t, err)
	require.JSONEq(t, `[{"key":"region","value":"us","sensitive":false,"is_null":false}]`, string(rs[0].Metadata))
}

func TestRunJobRequiredVariables(t *testing.T) {
	t.Parallel()
	const spec = `{"version": 1,
	 "variables": [{"name": "token", "type": "string", "required": true, "sensitive": true},
	               {"name": "region", "type": "string", "default_value": "eu"},
	               {"name": "zone", "type": "string", "required": true}],
	 "resources": [{"name": "dev", "type": "echo_instance"}]}`

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		job, version := h.createImport(spec)
		res, err := h.runJob(job.ID)
		require.NoError(t, err, "a template error is the job's outcome, not an activity error")
		require.True(t, res.Completed)
		h.requireWorkDirEmpty()

		got := h.job(job.ID)
		require.Equal(t, db.JobFailed, got.Status)
		require.Equal(t, "required template variables need values: token, zone", got.Error)
		require.Equal(t, "REQUIRED_TEMPLATE_VARIABLES", got.ErrorCode)

		vars, err := h.store.GetTemplateVersionVariables(h.ctx, version.ID)
		require.NoError(t, err)
		require.Len(t, vars, 3, "variables are stored even though the import failed")
		require.Equal(t, "token", vars[0].Name)
		require.True(t, vars[0].Required)
		require.True(t, vars[0].Sensitive)
		require.Equal(t, "region", vars[1].Name)
		require.Equal(t, "eu", vars[1].Value)

		rs, err := h.store.GetJobResources(h.ctx, job.ID)
		require.NoError(t, err)
		require.Empty(t, rs, "a failed import stores no resources")

		logs := h.logs(job.ID)
		requireLogShape(t, logs)
		last := logs[len(logs)-1]
		require.Equal(t, provisioner.LevelError, last.Level)
		require.Equal(t, got.Error, last.Output)
		require.Equal(t, stageParse, last.Stage)
		require.Equal(t, []string{stageSetup, stageParse}, headers(logs))
	})

	t.Run("Supplied", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		job, version := h.createImport(spec,
			db.VariableValue{Name: "token", Value: "secret"}, db.VariableValue{Name: "zone", Value: "a"})
		res, err := h.runJob(job.ID)
		require.NoError(t, err)
		require.True(t, res.Completed)
		require.Equal(t, db.JobSucceeded, h.job(job.ID).Status)
		vars, err := h.store.GetTemplateVersionVariables(h.ctx, version.ID)
		require.NoError(t, err)
		require.Len(t, vars, 3)
		require.Equal(t, "secret", vars[0].Value)
		require.Equal(t, "a", vars[2].Value)
	})
}

func TestRunJobScriptedFailure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, spec, err, code, stage string
	}{
		{"plan stop fails", `{"version": 1, "resources": [{"name": "dev", "type": "t"}],
		  "steps": {"plan:stop": {"logs": [{"output": "trying"}], "outcome": "fail", "error": "disk busy"}}}`,
			"disk busy", "", stageEphemeral},
		{"parse fails with a code", `{"version": 1,
		  "steps": {"parse": {"outcome": "fail", "error": "missing size", "error_code": "MISSING_TEMPLATE_PARAMETER"}}}`,
			"missing size", "MISSING_TEMPLATE_PARAMETER", stageParse},
		{"default message", `{"version": 1, "steps": {"plan:start": {"outcome": "fail"}}}`,
			"echo: scripted failure", "", stagePersistent},
		{"invalid echo.json", `{"version": 2}`,
			"echo: invalid echo.json: version must be 1, not 2", "", stageSetup},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			job, _ := h.createImport(tc.spec)
			res, err := h.runJob(job.ID)
			require.NoError(t, err)
			require.True(t, res.Completed)
			h.requireWorkDirEmpty()

			got := h.job(job.ID)
			require.Equal(t, db.JobFailed, got.Status)
			require.Equal(t, tc.err, got.Error)
			require.Equal(t, tc.code, got.ErrorCode)

			logs := h.logs(job.ID)
			requireLogShape(t, logs)
			last := logs[len(logs)-1]
			require.Equal(t, provisioner.LevelError, last.Level, "the failure is the last, error-level line")
			require.Equal(t, tc.err, last.Output)
			require.Equal(t, tc.stage, last.Stage)
			require.NotContains(t, headers(logs), stageCleanup)

			rs, err := h.store.GetJobResources(h.ctx, job.ID)
			require.NoError(t, err)
			require.Empty(t, rs)
		})
	}
}

func TestRunJobAlreadyCanceled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	canceled, err := h.store.CancelJob(h.ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, db.JobCanceled, canceled.Status)

	res, err := h.runJob(job.ID)
	require.NoError(t, err)
	require.False(t, res.Completed, "RunJob leaves a finished job alone")

	got := h.job(job.ID)
	require.Equal(t, db.JobCanceled, got.Status)
	require.False(t, got.WorkerID.Valid, "never claimed")
	require.Nil(t, got.StartedAt)
	require.True(t, got.CompletedAt.Equal(*canceled.CompletedAt))
	require.Empty(t, h.logs(job.ID), "nothing was logged")
	h.requireWorkDirEmpty()
}

func TestRunJobAlreadyCompleted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	res, err := h.runJob(job.ID)
	require.NoError(t, err)
	require.True(t, res.Completed)
	before := h.job(job.ID)
	n := len(h.logs(job.ID))

	// A redelivered task for the same job does nothing.
	res, err = h.runJob(job.ID)
	require.NoError(t, err)
	require.False(t, res.Completed)
	after := h.job(job.ID)
	require.Equal(t, db.JobSucceeded, after.Status)
	require.True(t, after.CompletedAt.Equal(*before.CompletedAt))
	require.Len(t, h.logs(job.ID), n)
}

func TestRunJobCanceledWhileRunning(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(`{"version": 1,
	  "steps": {"plan:start": {"logs": [{"output": "waiting for capacity"}], "outcome": "hang"}}}`)

	done := h.startRunJob(job.ID)

	// Once the hanging step has logged, the job is running.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		logs, err := h.store.GetJobLogsAfter(h.ctx, job.ID, 0)
		assert.NoError(c, err)
		var outputs []string
		for _, l := range logs {
			outputs = append(outputs, l.Output)
		}
		assert.Contains(c, outputs, "waiting for capacity")
	}, 30*time.Second, 10*time.Millisecond, "the job runs its hanging step")
	require.Equal(t, db.JobRunning, h.job(job.ID).Status)

	c, err := h.store.CancelJob(h.ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, db.JobCanceling, c.Status)

	r := <-done
	require.NoError(t, r.err)
	require.True(t, r.res.Completed, "the worker noticed the cancel and completed the job")
	h.requireWorkDirEmpty()

	got := h.job(job.ID)
	require.Equal(t, db.JobCanceled, got.Status)
	require.Empty(t, got.Error)
	require.True(t, got.CanceledAt.Equal(*c.CanceledAt))
	logs := h.logs(job.ID)
	requireLogShape(t, logs)
	last := logs[len(logs)-1]
	require.Equal(t, "Job canceled.", last.Output)
	require.Equal(t, db.LogSourceDaemon, last.Source)
	require.Equal(t, stagePersistent, last.Stage)
	rs, err := h.store.GetJobResources(h.ctx, job.ID)
	require.NoError(t, err)
	require.Empty(t, rs)
}

func TestRunJobLogOverflow(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	line := strings.Repeat("x", 1000)
	job, _ := h.createImport(`{"version": 1,
	  "steps": {"parse": {"logs": [{"output": "` + line + `", "repeat": 1100}]}}}`)
	res, err := h.runJob(job.ID)
	require.NoError(t, err)
	require.True(t, res.Completed)

	got := h.job(job.ID)
	require.Equal(t, db.JobSucceeded, got.Status, "too much output does not fail the job")
	require.True(t, got.LogsOverflowed)
	require.LessOrEqual(t, got.LogsLength, db.MaxLogBytes)
	notices := 0
	for _, l := range h.logs(job.ID) {
		if l.Level == provisioner.LevelWarn && strings.Contains(l.Output, "exceeded") {
			notices++
		}
	}
	require.Equal(t, 1, notices, "one truncation notice")
}

func TestRunJobUnknownProvisioner(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	job, _ := h.createImport(demoSpec)
	_, err := h.db.NewUpdate().Model((*db.ProvisionerJob)(nil)).Set("provisioner = 'terraform'").
		Where("id = ?", job.ID).Exec(h.ctx)
	require.NoError(t, err)

	res, err := h.runJob(job.ID)
	require.NoError(t, err)
	require.True(t, res.Completed)
	got := h.job(job.ID)
	require.Equal(t, db.JobFailed, got.Status)
	require.Equal(t, `provisioner "terraform" is not available on this worker`, got.Error)
}
