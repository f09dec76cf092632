package workflows_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/berth-dev/berth/workflows"
)

func TestJobFactsSummary(t *testing.T) {
	t.Parallel()
	build := workflows.JobFacts{
		JobType: workflows.JobTypeBuild, Transition: "start", OwnerName: "admin", WorkspaceName: "dev1",
		BuildNumber: 3, TemplateName: "docker", TemplateVersionName: "v2", Reason: "initiator",
	}
	autostart := build
	autostart.Reason = "autostart"
	for _, tc := range []struct {
		name  string
		facts workflows.JobFacts
		want  string
	}{
		{"build", build, "start admin/dev1 #3 · template docker (v2)"},
		{"build by the lifecycle executor", autostart, "start admin/dev1 #3 · template docker (v2) · autostart"},
		{"import", workflows.JobFacts{JobType: workflows.JobTypeImport, TemplateName: "docker", TemplateVersionName: "v3"}, "import docker v3"},
		{"import of a new version", workflows.JobFacts{JobType: workflows.JobTypeImport, TemplateVersionName: "eager_turing4"}, "import version eager_turing4"},
		{"dry-run", workflows.JobFacts{JobType: workflows.JobTypeDryRun, TemplateName: "docker", TemplateVersionName: "v3", WorkspaceName: "dev2"},
			"dry-run docker v3 for dev2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.facts.Summary())
		})
	}
}

func TestJobFactsStartOptions(t *testing.T) {
	t.Parallel()
	f := workflows.JobFacts{
		JobID: uuid.New(), JobType: workflows.JobTypeBuild, TaskQueue: "berth-prov-x", OrganizationID: uuid.New(),
		InitiatorID: uuid.New(), Tags: map[string]string{"scope": "organization", "owner": ""},
		OrganizationName: "coder", InitiatorName: "admin", TemplateID: uuid.NullUUID{UUID: uuid.New(), Valid: true},
		TemplateName: "docker", TemplateVersionName: "v2", WorkspaceID: uuid.NullUUID{UUID: uuid.New(), Valid: true},
		WorkspaceName: "dev1", OwnerName: "admin", BuildNumber: 3, Transition: "start", Reason: "initiator",
	}
	opts := f.StartOptions(true)
	require.Equal(t, f.JobID.String(), opts.ID, "the workflow ID is the job ID")
	require.Equal(t, f.TaskQueue, opts.TaskQueue, "the workflow runs on the job's queue")
	require.Equal(t, enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, opts.WorkflowIDReusePolicy)
	require.Equal(t, workflows.JobTaskTimeout, opts.WorkflowTaskTimeout)
	require.True(t, opts.EnableEagerStart)
	require.False(t, f.StartOptions(false).EnableEagerStart)
	require.Equal(t, f.Summary(), opts.StaticSummary)
	require.Equal(t, f.Details(), opts.StaticDetails)
	require.Equal(t, map[string]any{
		"organization": "coder", "initiator": "admin", "template": "docker", "template_version": "v2",
		"workspace": "dev1", "owner": "admin", "transition": "start", "reason": "initiator", "build_number": 3,
	}, opts.Memo, "the memo holds names, never secrets")
	sa := opts.TypedSearchAttributes
	for key, want := range map[temporal.SearchAttributeKeyKeyword]string{
		workflows.AttrTemplateID: f.TemplateID.UUID.String(), workflows.AttrWorkspaceID: f.WorkspaceID.UUID.String(),
		workflows.AttrTransition: "start", workflows.AttrJobType: workflows.JobTypeBuild,
		workflows.AttrOrganizationID: f.OrganizationID.String(), workflows.AttrInitiatorID: f.InitiatorID.String(),
	} {
		got, ok := sa.GetKeyword(key)
		require.True(t, ok, "search attribute %s", key.GetName())
		require.Equal(t, want, got, "search attribute %s", key.GetName())
	}
	_, ok := sa.GetKeyword(workflows.AttrTemplateVersionID)
	require.False(t, ok, "a fact the job lacks is left out")
	require.Equal(t, workflows.JobInput{JobID: f.JobID, Type: f.JobType}, f.Input())
}

func TestJobFactsDetails(t *testing.T) {
	t.Parallel()
	job, ws, tpl := uuid.New(), uuid.New(), uuid.New()
	build := workflows.JobFacts{
		JobID: job, JobType: workflows.JobTypeBuild, TaskQueue: "berth-prov-x", Tags: map[string]string{"scope": "organization", "owner": ""},
		OrganizationName: "coder", InitiatorName: "admin", TemplateID: uuid.NullUUID{UUID: tpl, Valid: true},
		TemplateName: "docker", TemplateVersionName: "v2", WorkspaceID: uuid.NullUUID{UUID: ws, Valid: true},
		WorkspaceName: "dev1", OwnerName: "alice", BuildNumber: 3, Transition: "start", Reason: "autostart",
	}
	require.Equal(t, "**Job:** `"+job.String()+"` (workspace_build)  \n"+
		"**Organization:** coder  \n"+
		"**Initiator:** admin  \n"+
		"**Workspace:** alice/dev1 `"+ws.String()+"`  \n"+
		"**Build:** #3 start  \n"+
		"**Reason:** autostart  \n"+
		"**Template:** docker `"+tpl.String()+"`  \n"+
		"**Version:** v2  \n"+
		"**Provisioner tags:** `owner= scope=organization`  \n"+
		"**Task queue:** `berth-prov-x`", build.Details())

	imp := workflows.JobFacts{JobID: job, JobType: workflows.JobTypeImport, TaskQueue: "q", TemplateVersionName: "eager_turing4"}
	require.Equal(t, "**Job:** `"+job.String()+"` (template_version_import)  \n"+
		"**Version:** eager_turing4  \n"+
		"**Task queue:** `q`", imp.Details(), "facts a job lacks are left out")
}
