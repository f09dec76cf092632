package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/workflows"
)

// Facts are what a job's workflow is described by: its search attributes,
// its memo and a one-line summary all come from here, whoever starts the
// workflow (a create, the lifecycle executor or the reconciler). Anything
// but Job may be nil when it does not apply or no longer exists.
type Facts struct {
	Job          *db.ProvisionerJob
	Organization *db.Organization
	Template     *db.Template
	Version      *db.TemplateVersion
	Workspace    *db.Workspace      // builds
	Build        *db.WorkspaceBuild // builds
	// WorkspaceName is a dry-run's workspace name.
	WorkspaceName string
	Initiator     *db.User
	// Reconciled marks a workflow started by the reconciler after a crash
	// between the job's commit and its start.
	Reconciled bool
}

// Attrs returns the job's search attributes: IDs and enums only.
func (f Facts) Attrs() workflows.JobAttrs {
	j := f.Job
	a := workflows.JobAttrs{
		OrganizationID: j.OrganizationID, InitiatorID: j.InitiatorID, JobType: j.Type, Tags: j.Tags,
		WorkspaceID: j.WorkspaceID,
	}
	if f.Template != nil {
		a.TemplateID = uuid.NullUUID{UUID: f.Template.ID, Valid: true}
	} else if f.Version != nil {
		a.TemplateID = f.Version.TemplateID
	}
	if f.Version != nil {
		a.TemplateVersionID = uuid.NullUUID{UUID: f.Version.ID, Valid: true}
	}
	if f.Build != nil {
		a.Transition = f.Build.Transition
		a.WorkspaceID = uuid.NullUUID{UUID: f.Build.WorkspaceID, Valid: true}
	}
	return a
}

// Memo returns the job's memo: names for people reading the Temporal UI,
// never secrets. "summary" holds Summary().
func (f Facts) Memo() map[string]any {
	m := map[string]any{"summary": f.Summary()}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	if f.Organization != nil {
		set("organization", f.Organization.Name)
	}
	if f.Template != nil {
		set("template", f.Template.Name)
	}
	if f.Version != nil {
		set("template_version", f.Version.Name)
	}
	if f.Initiator != nil {
		set("initiator", f.Initiator.Username)
	}
	set("workspace", f.workspaceName())
	if f.Build != nil {
		m["build_number"] = f.Build.BuildNumber
		set("transition", f.Build.Transition)
		set("reason", f.Build.Reason)
	}
	if f.Reconciled {
		m["reconciled"] = true
	}
	return m
}

// Summary says in one line what the job does, e.g. "start workspace dev
// (build 3, autostart)" or "import version eager_turing4 of template demo".
func (f Facts) Summary() string {
	version := "?"
	if f.Version != nil {
		version = f.Version.Name
	}
	of := ""
	if f.Template != nil {
		of = " of template " + f.Template.Name
	}
	switch f.Job.Type {
	case db.JobTypeTemplateVersionImport:
		return "import version " + version + of
	case db.JobTypeTemplateVersionDryRun:
		return fmt.Sprintf("dry-run of version %s%s for workspace %s", version, of, f.workspaceName())
	case db.JobTypeWorkspaceBuild:
		if f.Build == nil {
			return "workspace build"
		}
		return fmt.Sprintf("%s workspace %s (build %d, %s)", f.Build.Transition, f.workspaceName(), f.Build.BuildNumber, f.Build.Reason)
	default:
		return f.Job.Type
	}
}

func (f Facts) workspaceName() string {
	if f.Workspace != nil {
		return f.Workspace.Name
	}
	return f.WorkspaceName
}

// LoadFacts reads what describes a committed job, for a caller that has
// only its row (the reconciler). Rows that no longer exist stay nil.
func LoadFacts(ctx context.Context, st *db.Store, job *db.ProvisionerJob) (Facts, error) {
	f := Facts{Job: job}
	var in db.JobInput
	if err := json.Unmarshal(job.Input, &in); err != nil {
		return f, fmt.Errorf("decode job input: %w", err)
	}
	f.WorkspaceName = in.WorkspaceName
	var err error
	versionID := in.TemplateVersionID
	if in.WorkspaceBuildID.Valid {
		if f.Build, err = optional(st.GetWorkspaceBuildByID(ctx, in.WorkspaceBuildID.UUID)); err != nil {
			return f, err
		}
	}
	if f.Build != nil {
		versionID = uuid.NullUUID{UUID: f.Build.TemplateVersionID, Valid: true}
		if f.Workspace, err = optional(st.GetWorkspaceByID(ctx, f.Build.WorkspaceID)); err != nil {
			return f, err
		}
	}
	if versionID.Valid {
		if f.Version, err = optional(st.GetTemplateVersionByID(ctx, versionID.UUID)); err != nil {
			return f, err
		}
	}
	switch {
	case f.Workspace != nil:
		f.Template, err = optional(st.GetTemplateByIDAny(ctx, f.Workspace.TemplateID))
	case f.Version != nil && f.Version.TemplateID.Valid:
		f.Template, err = optional(st.GetTemplateByIDAny(ctx, f.Version.TemplateID.UUID))
	}
	if err != nil {
		return f, err
	}
	if f.Organization, err = optional(st.GetOrganizationByID(ctx, job.OrganizationID)); err != nil {
		return f, err
	}
	users, err := st.GetUsersByIDs(ctx, []uuid.UUID{job.InitiatorID})
	if err != nil {
		return f, err
	}
	f.Initiator = users[job.InitiatorID]
	return f, nil
}

// optional turns a row that does not exist into nil.
func optional[T any](v *T, err error) (*T, error) {
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}
