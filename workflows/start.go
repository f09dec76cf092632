package workflows

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// JobFacts are what a job's workflow start says about the job: the IDs that
// become search attributes and the names that become its memo and summary.
// db.JobFacts reads them in one query; the two types convert into each
// other.
type JobFacts struct {
	JobID          uuid.UUID
	JobType        string
	TaskQueue      string
	OrganizationID uuid.UUID
	InitiatorID    uuid.UUID
	Tags           map[string]string

	OrganizationName    string
	InitiatorName       string
	TemplateID          uuid.NullUUID
	TemplateName        string
	TemplateVersionID   uuid.NullUUID
	TemplateVersionName string
	WorkspaceID         uuid.NullUUID
	WorkspaceName       string
	OwnerName           string
	BuildNumber         int
	Transition          string
	Reason              string
	// TraceParent is the W3C traceparent of the request that created the
	// job: starts continue its trace.
	TraceParent string
}

// StartOptions returns the options every start of a job's workflow uses,
// whoever starts it: the worker that dispatches the job (eager, so the
// workflow's first task comes straight back to it) or the reconciler (on
// the job's queue, for any worker). The search attributes, memo and summary
// come from the facts, in this one place.
func (f JobFacts) StartOptions(eager bool) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    f.JobID.String(),
		TaskQueue:             f.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowTaskTimeout:   JobTaskTimeout,
		TypedSearchAttributes: f.attrs().SearchAttributes(),
		Memo:                  f.Memo(),
		StaticSummary:         f.Summary(),
		StaticDetails:         f.Details(),
		EnableEagerStart:      eager,
	}
}

// Input is the workflow's input.
func (f JobFacts) Input() JobInput {
	return JobInput{JobID: f.JobID, Type: f.JobType}
}

func (f JobFacts) attrs() JobAttrs {
	return JobAttrs{
		OrganizationID: f.OrganizationID, InitiatorID: f.InitiatorID, JobType: f.JobType, Tags: f.Tags,
		TemplateID: f.TemplateID, TemplateVersionID: f.TemplateVersionID, WorkspaceID: f.WorkspaceID,
		Transition: f.Transition,
	}
}

// Memo holds the names behind the job's IDs, for people reading the
// Temporal UI. Empty names are left out; it never holds secrets.
func (f JobFacts) Memo() map[string]any {
	m := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("organization", f.OrganizationName)
	set("initiator", f.InitiatorName)
	set("template", f.TemplateName)
	set("template_version", f.TemplateVersionName)
	set("workspace", f.WorkspaceName)
	set("owner", f.OwnerName)
	set("transition", f.Transition)
	set("reason", f.Reason)
	if f.BuildNumber > 0 {
		m["build_number"] = f.BuildNumber
	}
	return m
}

// Details is the Markdown the Temporal UI shows under the summary: who
// asked for the job, what it works on, and the IDs to search by (the search
// attributes' names), one fact a line. Unknown facts are left out.
func (f JobFacts) Details() string {
	var b strings.Builder
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&b, "**%s:** %s  \n", label, value)
		}
	}
	id := func(u uuid.NullUUID) string {
		if !u.Valid {
			return ""
		}
		return "`" + u.UUID.String() + "`"
	}
	line("Job", "`"+f.JobID.String()+"` ("+f.JobType+")")
	line("Organization", f.OrganizationName)
	line("Initiator", f.InitiatorName)
	if f.WorkspaceName != "" {
		ws := f.WorkspaceName
		if f.OwnerName != "" {
			ws = f.OwnerName + "/" + ws
		}
		if f.WorkspaceID.Valid {
			ws += " " + id(f.WorkspaceID)
		}
		line("Workspace", ws)
	}
	if f.BuildNumber > 0 {
		line("Build", fmt.Sprintf("#%d %s", f.BuildNumber, f.Transition))
	}
	line("Reason", f.Reason)
	if f.TemplateName != "" {
		line("Template", strings.TrimSpace(f.TemplateName+" "+id(f.TemplateID)))
	}
	if f.TemplateVersionName != "" {
		line("Version", strings.TrimSpace(f.TemplateVersionName+" "+id(f.TemplateVersionID)))
	}
	if len(f.Tags) > 0 {
		keys := make([]string, 0, len(f.Tags))
		for k := range f.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		pairs := make([]string, len(keys))
		for i, k := range keys {
			pairs[i] = k + "=" + f.Tags[k]
		}
		line("Provisioner tags", "`"+strings.Join(pairs, " ")+"`")
	}
	line("Task queue", "`"+f.TaskQueue+"`")
	return strings.TrimSuffix(b.String(), "  \n")
}

// Summary is the one line the Temporal UI shows for the job, e.g.
// "start admin/dev1 #3 · template docker (v2)" or "import docker v3".
func (f JobFacts) Summary() string {
	var b strings.Builder
	version := func() {
		switch {
		case f.TemplateName != "" && f.TemplateVersionName != "":
			fmt.Fprintf(&b, "%s %s", f.TemplateName, f.TemplateVersionName)
		case f.TemplateVersionName != "":
			fmt.Fprintf(&b, "version %s", f.TemplateVersionName)
		default:
			b.WriteString(f.TemplateName)
		}
	}
	switch f.JobType {
	case JobTypeBuild:
		fmt.Fprintf(&b, "%s %s/%s #%d", f.Transition, f.OwnerName, f.WorkspaceName, f.BuildNumber)
		if f.TemplateName != "" {
			fmt.Fprintf(&b, " · template %s (%s)", f.TemplateName, f.TemplateVersionName)
		}
		if f.Reason != "" && f.Reason != "initiator" {
			fmt.Fprintf(&b, " · %s", f.Reason)
		}
	case JobTypeImport:
		b.WriteString("import ")
		version()
	case JobTypeDryRun:
		b.WriteString("dry-run ")
		version()
		if f.WorkspaceName != "" {
			fmt.Fprintf(&b, " for %s", f.WorkspaceName)
		}
	default:
		b.WriteString(f.JobType)
	}
	return b.String()
}
