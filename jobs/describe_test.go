package jobs_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/jobs"
)

func TestFacts(t *testing.T) {
	t.Parallel()
	org := &db.Organization{ID: uuid.New(), Name: "coder"}
	tpl := &db.Template{ID: uuid.New(), Name: "demo"}
	version := &db.TemplateVersion{ID: uuid.New(), Name: "eager_turing4", TemplateID: uuid.NullUUID{UUID: tpl.ID, Valid: true}}
	alice := &db.User{ID: uuid.New(), Username: "alice"}
	ws := &db.Workspace{ID: uuid.New(), Name: "dev"}
	job := func(typ string) *db.ProvisionerJob {
		return &db.ProvisionerJob{ID: uuid.New(), OrganizationID: org.ID, InitiatorID: alice.ID, Type: typ, Tags: db.UntaggedTags()}
	}

	t.Run("build", func(t *testing.T) {
		t.Parallel()
		j := job(db.JobTypeWorkspaceBuild)
		j.WorkspaceID = uuid.NullUUID{UUID: ws.ID, Valid: true}
		b := &db.WorkspaceBuild{WorkspaceID: ws.ID, BuildNumber: 3, Transition: "stop", Reason: jobs.ReasonAutostop}
		f := jobs.Facts{Job: j, Organization: org, Template: tpl, Version: version, Workspace: ws, Build: b, Initiator: alice}
		a := f.Attrs()
		require.Equal(t, uuid.NullUUID{UUID: tpl.ID, Valid: true}, a.TemplateID)
		require.Equal(t, uuid.NullUUID{UUID: version.ID, Valid: true}, a.TemplateVersionID)
		require.Equal(t, uuid.NullUUID{UUID: ws.ID, Valid: true}, a.WorkspaceID)
		require.Equal(t, "stop", a.Transition)
		require.Equal(t, db.JobTypeWorkspaceBuild, a.JobType)
		require.Equal(t, alice.ID, a.InitiatorID)
		require.Equal(t, "stop workspace dev (build 3, autostop)", f.Summary())
		require.Equal(t, map[string]any{
			"summary": "stop workspace dev (build 3, autostop)", "organization": "coder", "template": "demo",
			"template_version": "eager_turing4", "initiator": "alice", "workspace": "dev", "build_number": int32(3),
			"transition": "stop", "reason": "autostop",
		}, f.Memo())
		f.Reconciled = true
		require.Equal(t, true, f.Memo()["reconciled"])
	})
	t.Run("import", func(t *testing.T) {
		t.Parallel()
		f := jobs.Facts{Job: job(db.JobTypeTemplateVersionImport), Organization: org, Version: version, Initiator: alice}
		require.Equal(t, "import version eager_turing4", f.Summary())
		a := f.Attrs()
		require.Equal(t, version.TemplateID, a.TemplateID, "a version's template, when the template was not loaded")
		require.Empty(t, a.Transition)
		require.False(t, a.WorkspaceID.Valid)
		f.Template = tpl
		require.Equal(t, "import version eager_turing4 of template demo", f.Summary())
		require.NotContains(t, f.Memo(), "workspace")
	})
	t.Run("dry-run", func(t *testing.T) {
		t.Parallel()
		f := jobs.Facts{Job: job(db.JobTypeTemplateVersionDryRun), Template: tpl, Version: version, WorkspaceName: "try", Initiator: alice}
		require.Equal(t, "dry-run of version eager_turing4 of template demo for workspace try", f.Summary())
		require.Equal(t, "try", f.Memo()["workspace"])
	})
}
