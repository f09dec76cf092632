package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner"
)

// Build stage names, as Coder's CLI shows them.
const stagePlanning = "Planning Infrastructure"

var applyStages = map[string]string{
	provisioner.TransitionStart:  "Starting workspace",
	provisioner.TransitionStop:   "Stopping workspace",
	provisioner.TransitionDelete: "Destroying workspace",
}

// buildFacts is everything a build reads before it runs.
type buildFacts struct {
	build     *db.WorkspaceBuild
	workspace *db.Workspace
	template  *db.Template
	version   *db.TemplateVersion
	owner     *db.User
	params    map[string]string
	previous  map[string]string
	vars      map[string]string
}

func (r *jobRun) loadBuild(ctx context.Context, in db.JobInput) (*buildFacts, error) {
	if !in.WorkspaceBuildID.Valid {
		return nil, &provisioner.JobError{Message: "build job has no workspace build"}
	}
	st := r.a.opts.Store
	view, err := st.GetBuildViewForRun(ctx, in.WorkspaceBuildID.UUID)
	if err != nil {
		return nil, fmt.Errorf("load build: %w", err)
	}
	// Views leave the state out: the build row has it.
	build, err := st.GetWorkspaceBuildByID(ctx, in.WorkspaceBuildID.UUID)
	if err != nil {
		return nil, fmt.Errorf("load build: %w", err)
	}
	view.Build.ProvisionerState = build.ProvisionerState
	f := &buildFacts{
		build: &view.Build, workspace: &view.Workspace, version: &view.Version, template: &view.Template, owner: &view.Owner,
		params: map[string]string{}, previous: map[string]string{}, vars: map[string]string{},
	}
	current, previous, err := st.GetBuildAndPreviousParameters(ctx, f.workspace.ID, int(f.build.BuildNumber))
	if err != nil {
		return nil, err
	}
	for _, p := range current {
		f.params[p.Name] = p.Value
	}
	for _, p := range previous {
		f.previous[p.Name] = p.Value
	}
	vs, err := st.GetTemplateVersionVariables(ctx, f.version.ID)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		f.vars[v.Name] = v.Value
	}
	return f, nil
}

// runBuild plans and applies a workspace transition with the previous
// build's state, and stores the new state, resources and deadline with the
// job's completion.
func (r *jobRun) runBuild(ctx context.Context, prov provisioner.Provisioner, dir string) (resultsFn, error) {
	in, err := r.input()
	if err != nil {
		return nil, err
	}
	// What a build reads before it runs may be read again while the
	// database restarts: nothing was applied yet.
	f, err := retryTransient(ctx, r, "load build", func() (*buildFacts, error) { return r.loadBuild(ctx, in) })
	if err != nil {
		return nil, err
	}
	t := f.build.Transition
	if in.Orphan {
		r.add(db.LogSourceDaemon, provisioner.LevelWarn, "Orphaning the workspace: its resources are left as they are.")
		return r.buildResults(f, nil, nil), nil
	}
	plan := provisioner.PlanInput{
		Transition: t,
		Workspace: provisioner.WorkspaceMeta{
			WorkspaceID: f.workspace.ID.String(), WorkspaceName: f.workspace.Name, WorkspaceBuildID: f.build.ID.String(),
			OwnerID: f.owner.ID.String(), OwnerName: f.owner.Username, OwnerFullName: f.owner.Name, OwnerEmail: f.owner.Email,
			TemplateID: f.template.ID.String(), TemplateName: f.template.Name, TemplateVersionName: f.version.Name,
			AgentURL: r.a.opts.AccessURL,
		},
		Parameters: f.params, PreviousParameters: f.previous, Variables: f.vars, State: f.build.ProvisionerState,
		Resume: r.resume,
	}
	if err := r.init(ctx, prov, dir); err != nil {
		return nil, err
	}
	r.enterStage(stagePlanning)
	if _, err := prov.Plan(ctx, dir, plan, r); err != nil {
		return nil, err
	}
	r.enterStage(applyStages[t])
	applied, err := prov.Apply(ctx, dir, plan, r)
	if err != nil {
		if applied != nil && len(applied.State) > 0 {
			// A failed or canceled apply may have changed infrastructure:
			// its state is the build's, whatever the job's outcome.
			r.always = append(r.always, func(ctx context.Context, tx *db.Store, _ *db.ProvisionerJob) error {
				return tx.SetWorkspaceBuildResult(ctx, f.build.ID, applied.State, nil)
			})
		}
		return nil, err
	}
	return r.buildResults(f, applied.State, applied.Resources), nil
}

// buildResults writes a successful build's outcome.
func (r *jobRun) buildResults(f *buildFacts, state []byte, resources []provisioner.Resource) resultsFn {
	return func(ctx context.Context, tx *db.Store, j *db.ProvisionerJob) error {
		t := f.build.Transition
		if err := tx.InsertJobResources(ctx, toResources(j.ID, t, resources)); err != nil {
			return err
		}
		var deadline *time.Time
		if t == provisioner.TransitionStart {
			// The workspace's TTL alone decides: creation copies the
			// template's default, and null means autostop is off.
			if ttl := f.workspace.TTLMillis; ttl != nil && *ttl > 0 {
				d := db.Now().Add(time.Duration(*ttl) * time.Millisecond)
				deadline = &d
			}
		}
		if err := tx.SetWorkspaceBuildResult(ctx, f.build.ID, state, deadline); err != nil {
			return err
		}
		if t == provisioner.TransitionDelete {
			return tx.MarkWorkspaceDeleted(ctx, f.workspace.ID)
		}
		return nil
	}
}
