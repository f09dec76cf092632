package activities

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner"
)

// resultsFn writes a job's results inside the completing transaction.
type resultsFn = func(ctx context.Context, tx *db.Store, j *db.ProvisionerJob) error

// Import and dry-run stage names, as Coder's CLI shows them.
const (
	stageParse      = "Parsing template parameters"
	stagePersistent = "Detecting persistent resources"
	stageEphemeral  = "Detecting ephemeral resources"
)

// Error codes.
const codeRequiredVariables = "REQUIRED_TEMPLATE_VARIABLES"

func (r *jobRun) input() (db.JobInput, error) {
	var in db.JobInput
	if err := json.Unmarshal(r.job.Input, &in); err != nil {
		return in, &provisioner.JobError{Message: fmt.Sprintf("invalid job input: %v", err)}
	}
	return in, nil
}

// runImport parses the template, checks its variables and plans start and
// stop. Results are stored in the transaction that completes the job;
// variables even when the import fails.
func (r *jobRun) runImport(ctx context.Context, prov provisioner.Provisioner, dir string) (resultsFn, error) {
	in, err := r.input()
	if err != nil {
		return nil, err
	}
	if !in.TemplateVersionID.Valid {
		return nil, &provisioner.JobError{Message: "import job has no template version"}
	}
	versionID := in.TemplateVersionID.UUID
	// The version's facts are read while the template is parsed.
	versionMeta := r.versionMetaAsync(ctx, versionID)
	if err := r.init(ctx, prov, dir); err != nil {
		return nil, err
	}

	r.enterStage(stageParse)
	parsed, err := prov.Parse(ctx, dir, r)
	if err != nil {
		return nil, err
	}
	values := map[string]string{}
	for _, v := range in.UserVariableValues {
		values[v.Name] = v.Value
	}
	vars := make([]db.TemplateVersionVariable, 0, len(parsed.Variables))
	varValues := map[string]string{}
	var missing []string
	for i, v := range parsed.Variables {
		val, ok := values[v.Name]
		if !ok {
			val = v.DefaultValue
			if v.Required {
				missing = append(missing, v.Name)
			}
		}
		varValues[v.Name] = val
		vars = append(vars, db.TemplateVersionVariable{
			TemplateVersionID: versionID, Position: i, Name: v.Name, Description: v.Description,
			Type: v.Type, Value: val, DefaultValue: v.DefaultValue, Required: v.Required, Sensitive: v.Sensitive,
		})
	}
	// Variables are kept even when the import fails: the CLI reads them
	// after REQUIRED_TEMPLATE_VARIABLES to prompt for values.
	r.always = append(r.always, func(ctx context.Context, tx *db.Store, _ *db.ProvisionerJob) error {
		return tx.InsertTemplateVersionVariables(ctx, vars)
	})
	if len(missing) > 0 {
		return nil, &provisioner.JobError{
			Message: "required template variables need values: " + strings.Join(missing, ", "),
			Code:    codeRequiredVariables,
		}
	}

	meta, err := versionMeta()
	if err != nil {
		return nil, err
	}
	r.enterStage(stagePersistent)
	start, err := prov.Plan(ctx, dir, provisioner.PlanInput{
		Transition: provisioner.TransitionStart, Workspace: meta, Variables: varValues, Parameters: map[string]string{},
	}, r)
	if err != nil {
		return nil, err
	}
	if err := uniqueParameters(start.Parameters); err != nil {
		return nil, err
	}
	if err := checkPresets(start.Presets); err != nil {
		return nil, err
	}
	r.enterStage(stageEphemeral)
	stop, err := prov.Plan(ctx, dir, provisioner.PlanInput{
		Transition: provisioner.TransitionStop, Workspace: meta, Variables: varValues, Parameters: map[string]string{},
	}, r)
	if err != nil {
		return nil, err
	}

	return func(ctx context.Context, tx *db.Store, j *db.ProvisionerJob) error {
		params, err := toParameters(versionID, start.Parameters)
		if err != nil {
			return err
		}
		auth, err := json.Marshal(nonNil(start.ExternalAuth))
		if err != nil {
			return fmt.Errorf("encode external auth: %w", err)
		}
		return tx.InsertImportResults(ctx, db.ImportResults{
			VersionID: versionID,
			Resources: append(toResources(j.ID, provisioner.TransitionStart, start.Resources),
				toResources(j.ID, provisioner.TransitionStop, stop.Resources)...),
			Parameters: params, Presets: toPresets(versionID, start.Presets), Readme: parsed.Readme, ExternalAuth: auth,
		})
	}, nil
}

// runDryRun plans a start of the version with the given parameters.
func (r *jobRun) runDryRun(ctx context.Context, prov provisioner.Provisioner, dir string) (resultsFn, error) {
	in, err := r.input()
	if err != nil {
		return nil, err
	}
	if !in.TemplateVersionID.Valid {
		return nil, &provisioner.JobError{Message: "dry-run job has no template version"}
	}
	meta, err := r.versionMeta(ctx, in.TemplateVersionID.UUID)
	if err != nil {
		return nil, err
	}
	meta.WorkspaceName = in.WorkspaceName
	if meta.WorkspaceName == "" {
		meta.WorkspaceName = "dryrun"
	}
	params := map[string]string{}
	for _, p := range in.RichParameters {
		params[p.Name] = p.Value
	}
	// The version's variable values, overridden by the request's.
	vars := map[string]string{}
	stored, err := r.a.opts.Store.GetTemplateVersionVariables(ctx, in.TemplateVersionID.UUID)
	if err != nil {
		return nil, err
	}
	for _, v := range stored {
		vars[v.Name] = v.Value
	}
	for _, v := range in.UserVariableValues {
		vars[v.Name] = v.Value
	}
	if err := r.init(ctx, prov, dir); err != nil {
		return nil, err
	}
	r.enterStage(stagePersistent)
	plan, err := prov.Plan(ctx, dir, provisioner.PlanInput{
		Transition: provisioner.TransitionStart, Workspace: meta, Parameters: params, Variables: vars,
	}, r)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, tx *db.Store, j *db.ProvisionerJob) error {
		return tx.InsertJobResources(ctx, toResources(j.ID, provisioner.TransitionStart, plan.Resources))
	}, nil
}

// versionMetaAsync starts reading versionMeta; the function it returns
// waits for it.
func (r *jobRun) versionMetaAsync(ctx context.Context, versionID uuid.UUID) func() (provisioner.WorkspaceMeta, error) {
	var (
		meta provisioner.WorkspaceMeta
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		meta, err = r.versionMeta(ctx, versionID)
	}()
	return func() (provisioner.WorkspaceMeta, error) {
		<-done
		return meta, err
	}
}

// versionMeta describes an import's or dry-run's workspace: the version's
// template facts and the initiator as owner.
func (r *jobRun) versionMeta(ctx context.Context, versionID uuid.UUID) (provisioner.WorkspaceMeta, error) {
	f, err := r.a.opts.Store.GetVersionFacts(ctx, versionID, r.job.InitiatorID)
	if err != nil {
		return provisioner.WorkspaceMeta{}, err
	}
	meta := provisioner.WorkspaceMeta{
		OwnerID: r.job.InitiatorID.String(), OwnerName: f.Username, OwnerFullName: f.Name, OwnerEmail: f.Email,
		TemplateName: f.TemplateName, TemplateVersionName: f.VersionName, AgentURL: r.a.opts.AccessURL,
	}
	if f.TemplateID.Valid {
		meta.TemplateID = f.TemplateID.UUID.String()
	}
	return meta, nil
}

func uniqueParameters(ps []provisioner.RichParameter) error {
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.Name] {
			return &provisioner.JobError{Message: fmt.Sprintf("duplicate parameter name %q", p.Name)}
		}
		seen[p.Name] = true
	}
	return nil
}

// checkPresets applies Coder's preset rules whatever the provisioner:
// unique names, at most one default.
func checkPresets(ps []provisioner.Preset) error {
	seen := map[string]bool{}
	defaults := 0
	for _, p := range ps {
		if p.Name == "" {
			return &provisioner.JobError{Message: "coder_workspace_preset has no name"}
		}
		if seen[p.Name] {
			return &provisioner.JobError{Message: fmt.Sprintf("coder_workspace_preset names must be unique but %q appears multiple times", p.Name)}
		}
		seen[p.Name] = true
		if p.Default {
			defaults++
		}
	}
	if defaults > 1 {
		return &provisioner.JobError{Message: fmt.Sprintf("a maximum of 1 coder_workspace_preset can be marked as default, but %d are set", defaults)}
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func toResources(jobID uuid.UUID, transition string, rs []provisioner.Resource) []db.WorkspaceResource {
	out := make([]db.WorkspaceResource, 0, len(rs))
	now := db.Now()
	for i, r := range rs {
		md := make([]db.ResourceMetadata, 0, len(r.Metadata))
		for _, m := range r.Metadata {
			md = append(md, db.ResourceMetadata{Key: m.Key, Value: m.Value, Sensitive: m.Sensitive, IsNull: m.IsNull})
		}
		agents := make([]db.ResourceAgent, 0, len(r.Agents))
		for _, a := range r.Agents {
			agents = append(agents, toAgent(a, now))
		}
		mdJSON, _ := json.Marshal(md)
		agentsJSON, _ := json.Marshal(agents)
		out = append(out, db.WorkspaceResource{
			ID: uuid.New(), JobID: jobID, CreatedAt: now, Transition: transition, Position: i,
			Type: r.Type, Name: r.Name, Hide: r.Hide, Icon: r.Icon, InstanceType: r.InstanceType,
			DailyCost: r.DailyCost, Metadata: mdJSON, Agents: agentsJSON,
		})
	}
	return out
}

// toAgent converts a reported agent; its token is kept only as a SHA-256
// hash.
func toAgent(a provisioner.Agent, now time.Time) db.ResourceAgent {
	out := db.ResourceAgent{
		ID: parseOrNewID(a.ID), Name: a.Name, OperatingSystem: a.OperatingSystem, Architecture: a.Architecture,
		Directory: a.Directory, CreatedAt: now, Env: a.Env, ConnectionTimeoutSeconds: a.ConnectionTimeoutSeconds,
		TroubleshootingURL: a.TroubleshootingURL, MOTDFile: a.MOTDFile, StartupScriptBehavior: a.StartupScriptBehavior,
		DisplayApps: a.DisplayApps,
	}
	if a.Token != "" {
		sum := sha256.Sum256([]byte(a.Token))
		out.AuthTokenHash = sum[:]
	}
	for _, app := range a.Apps {
		ra := db.ResourceApp{
			ID: parseOrNewID(app.ID), Slug: app.Slug, DisplayName: app.DisplayName, Command: app.Command, URL: app.URL,
			Icon: app.Icon, External: app.External, Subdomain: app.Subdomain, SharingLevel: app.SharingLevel,
			Hidden: app.Hidden, OpenIn: app.OpenIn, Order: app.Order,
		}
		if hc := app.Healthcheck; hc != nil {
			ra.HealthcheckURL, ra.HealthcheckInterval, ra.HealthcheckThreshold = hc.URL, hc.Interval, hc.Threshold
		}
		out.Apps = append(out.Apps, ra)
	}
	for _, sc := range a.Scripts {
		out.Scripts = append(out.Scripts, db.ResourceScript{
			ID: uuid.New(), LogSourceID: uuid.New(), DisplayName: sc.DisplayName, Icon: sc.Icon, Script: sc.Script,
			Cron: sc.Cron, LogPath: sc.LogPath, RunOnStart: sc.RunOnStart, RunOnStop: sc.RunOnStop,
			StartBlocksLogin: sc.StartBlocksLogin, TimeoutSeconds: sc.TimeoutSeconds,
		})
	}
	return out
}

func parseOrNewID(s string) uuid.UUID {
	if id, err := uuid.Parse(s); err == nil && id != uuid.Nil {
		return id
	}
	return uuid.New()
}

// toPresets converts a plan's presets into rows, in the plan's order.
func toPresets(versionID uuid.UUID, ps []provisioner.Preset) []db.TemplateVersionPreset {
	out := make([]db.TemplateVersionPreset, 0, len(ps))
	for i, p := range ps {
		params := make([]db.ParameterValue, 0, len(p.Parameters))
		for _, pp := range p.Parameters {
			params = append(params, db.ParameterValue{Name: pp.Name, Value: pp.Value})
		}
		out = append(out, db.TemplateVersionPreset{
			ID: uuid.New(), TemplateVersionID: versionID, Position: i, Name: p.Name, IsDefault: p.Default,
			Description: p.Description, Icon: p.Icon, DesiredPrebuildInstances: p.PrebuildInstances, Parameters: params,
		})
	}
	return out
}

func toParameters(versionID uuid.UUID, ps []provisioner.RichParameter) ([]db.TemplateVersionParameter, error) {
	out := make([]db.TemplateVersionParameter, 0, len(ps))
	for _, p := range ps {
		opts, err := json.Marshal(nonNil(p.Options))
		if err != nil {
			return nil, fmt.Errorf("encode parameter options: %w", err)
		}
		typ := p.Type
		if typ == "" {
			typ = "string"
		}
		out = append(out, db.TemplateVersionParameter{
			TemplateVersionID: versionID, Name: p.Name, DisplayName: p.DisplayName, Description: p.Description,
			Type: typ, FormType: p.FormType, Mutable: p.Mutable, Ephemeral: p.Ephemeral,
			DefaultValue: p.DefaultValue, Icon: p.Icon, Options: opts, ValidationRegex: p.ValidationRegex,
			ValidationError: p.ValidationError, ValidationMin: p.ValidationMin, ValidationMax: p.ValidationMax,
			ValidationMonotonic: p.ValidationMonotonic, Required: p.Required,
			DisplayOrder: p.Order,
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].DisplayOrder != out[j].DisplayOrder {
			return out[i].DisplayOrder < out[j].DisplayOrder
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
