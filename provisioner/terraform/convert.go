package terraform

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/berth-dev/berth/provisioner"
)

// show is the part of `terraform show -json` (of a plan or of the state)
// the provisioner reads.
type show struct {
	PlannedValues *values `json:"planned_values"`
	Values        *values `json:"values"`
	PriorState    *struct {
		Values *values `json:"values"`
	} `json:"prior_state"`
	Configuration struct {
		RootModule *module `json:"root_module"`
	} `json:"configuration"`
}

type values struct {
	RootModule *stateModule `json:"root_module"`
}

type stateModule struct {
	Resources    []stateResource `json:"resources"`
	ChildModules []stateModule   `json:"child_modules"`
}

type stateResource struct {
	Address string         `json:"address"`
	Mode    string         `json:"mode"`
	Type    string         `json:"type"`
	Name    string         `json:"name"`
	Values  map[string]any `json:"values"`
}

// module is a module of the configuration: it tells which resources refer
// to which.
type module struct {
	Resources   []configResource `json:"resources"`
	ModuleCalls map[string]struct {
		Expressions map[string]any `json:"expressions"`
		Module      *module        `json:"module"`
	} `json:"module_calls"`
}

type configResource struct {
	Address           string         `json:"address"`
	Expressions       map[string]any `json:"expressions"`
	CountExpression   any            `json:"count_expression"`
	ForEachExpression any            `json:"for_each_expression"`
}

func decodeShow(raw []byte) (*show, error) {
	var s show
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("decode terraform show output: %w", err)
	}
	return &s, nil
}

// Types of the coder provider's resources that describe other resources
// rather than being infrastructure; every coder_* managed resource is one.
const (
	typeAgent    = "coder_agent"
	typeApp      = "coder_app"
	typeScript   = "coder_script"
	typeMetadata = "coder_metadata"
)

var indexRE = regexp.MustCompile(`\[[^\]]*\]`)

// configAddress is a resource instance's address without instance keys.
func configAddress(addr string) string { return indexRE.ReplaceAllString(addr, "") }

// references maps a resource's configuration address to the resources
// (configuration addresses) its expressions refer to. A reference to a
// module's input variable stands for what the module call passes in, so a
// coder_app in a module given `agent_id = coder_agent.main.id` refers to
// that agent. vars holds the resolved input variables of m.
func references(m *module, prefix string, vars map[string]map[string]bool, out map[string]map[string]bool) {
	if m == nil {
		return
	}
	for _, r := range m.Resources {
		set := map[string]bool{}
		collectRefs(r.Expressions, prefix, vars, set)
		collectRefs(r.CountExpression, prefix, vars, set)
		collectRefs(r.ForEachExpression, prefix, vars, set)
		out[prefix+r.Address] = set
	}
	for name, call := range m.ModuleCalls {
		inputs := map[string]map[string]bool{}
		for v, expr := range call.Expressions {
			set := map[string]bool{}
			collectRefs(expr, prefix, vars, set)
			inputs[v] = set
		}
		references(call.Module, prefix+"module."+name+".", inputs, out)
	}
}

// collectRefs adds every resource named in a "references" list anywhere
// in an expression tree.
func collectRefs(expr any, prefix string, vars map[string]map[string]bool, set map[string]bool) {
	switch e := expr.(type) {
	case map[string]any:
		for k, v := range e {
			if k != "references" {
				collectRefs(v, prefix, vars, set)
				continue
			}
			refs, _ := v.([]any)
			for _, ref := range refs {
				s, ok := ref.(string)
				if !ok {
					continue
				}
				if name, ok := strings.CutPrefix(s, "var."); ok {
					name, _, _ = strings.Cut(name, ".")
					for addr := range vars[name] {
						set[addr] = true
					}
				} else if addr := resourceOf(s); addr != "" {
					set[prefix+addr] = true
				}
			}
		}
	case []any:
		for _, v := range e {
			collectRefs(v, prefix, vars, set)
		}
	}
}

// resourceOf returns the resource a reference names ("coder_agent.main"
// for "coder_agent.main.token"), or "" for variables, locals and the like.
func resourceOf(ref string) string {
	parts := strings.Split(configAddress(ref), ".")
	switch parts[0] {
	case "var", "local", "module", "each", "count", "path", "terraform", "self", "data":
		return ""
	}
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "." + parts[1]
}

// managed lists the managed resources of a module tree, in order.
func managed(m *stateModule, out []stateResource) []stateResource {
	if m == nil {
		return out
	}
	for _, r := range m.Resources {
		if r.Mode == "managed" {
			out = append(out, r)
		}
	}
	for i := range m.ChildModules {
		out = managed(&m.ChildModules[i], out)
	}
	return out
}

// resources converts the managed resources in v to what Coder reports:
// infrastructure resources with their agents (and the agents' apps) and
// metadata attached. An agent belongs to the resource whose configuration
// refers to it (a coder_app to its agent and a coder_metadata to its
// resource likewise); config is the module tree holding those references
// (nil: the plan's own configuration), with IDs in values as a fallback.
func (s *show) resources(v *values, config *module) []provisioner.Resource {
	if v == nil {
		return []provisioner.Resource{}
	}
	if config == nil {
		config = s.Configuration.RootModule
	}
	refs := map[string]map[string]bool{}
	references(config, "", nil, refs)
	all := managed(v.RootModule, nil)

	type agentRef struct {
		addr  string
		agent provisioner.Agent
		used  bool
	}
	var agents []*agentRef
	for _, r := range all {
		if r.Type == typeAgent {
			agents = append(agents, &agentRef{addr: configAddress(r.Address), agent: convertAgent(r)})
		}
	}
	// Apps and scripts belong to the agent their agent_id refers to.
	for _, r := range all {
		if r.Type != typeApp && r.Type != typeScript {
			continue
		}
		rRefs := refs[configAddress(r.Address)]
		agentID := str(r.Values, "agent_id")
		for _, a := range agents {
			if rRefs[a.addr] || (agentID != "" && agentID == a.agent.ID) {
				if r.Type == typeApp {
					a.agent.Apps = append(a.agent.Apps, convertApp(r))
				} else {
					a.agent.Scripts = append(a.agent.Scripts, convertScript(r))
				}
				break
			}
		}
	}

	out := []provisioner.Resource{}
	index := map[string]int{} // configuration address → first instance in out
	ids := map[string]int{}   // values id → index in out
	for _, r := range all {
		if strings.HasPrefix(r.Type, "coder_") {
			continue
		}
		addr := configAddress(r.Address)
		res := provisioner.Resource{Name: r.Name, Type: r.Type, InstanceType: instanceType(r.Values), Metadata: []provisioner.Metadata{}}
		if _, seen := index[addr]; !seen {
			index[addr] = len(out)
			for _, a := range agents {
				if !a.used && refs[addr][a.addr] {
					a.used = true
					res.Agents = append(res.Agents, a.agent)
				}
			}
		}
		if id := str(r.Values, "id"); id != "" {
			ids[id] = len(out)
		}
		out = append(out, res)
	}
	for _, r := range all {
		if r.Type != typeMetadata {
			continue
		}
		target := -1
		for addr := range refs[configAddress(r.Address)] {
			if i, ok := index[addr]; ok {
				target = i
				break
			}
		}
		if i, ok := ids[str(r.Values, "resource_id")]; ok && target < 0 {
			target = i
		}
		if target < 0 {
			continue
		}
		res := &out[target]
		res.Hide = boolean(r.Values, "hide")
		res.Icon = str(r.Values, "icon")
		res.DailyCost = int32(num(r.Values, "daily_cost"))
		for _, it := range list(r.Values, "item") {
			md := provisioner.Metadata{
				Key: str(it, "key"), Value: str(it, "value"), Sensitive: boolean(it, "sensitive"), IsNull: boolean(it, "is_null"),
			}
			if md.Sensitive {
				md.Value = ""
			}
			res.Metadata = append(res.Metadata, md)
		}
	}
	return out
}

func convertAgent(r stateResource) provisioner.Agent {
	v := r.Values
	a := provisioner.Agent{
		ID: str(v, "id"), Name: r.Name, OperatingSystem: str(v, "os"), Architecture: str(v, "arch"),
		Directory: str(v, "dir"), Token: str(v, "token"), ConnectionTimeoutSeconds: int32(num(v, "connection_timeout")),
		TroubleshootingURL: str(v, "troubleshooting_url"), MOTDFile: str(v, "motd_file"),
		StartupScriptBehavior: str(v, "startup_script_behavior"),
	}
	if env, ok := v["env"].(map[string]any); ok {
		a.Env = map[string]string{}
		for k, val := range env {
			a.Env[k] = fmt.Sprint(val)
		}
	}
	// The agent's own scripts, as Coder shows them.
	if script := str(v, "startup_script"); script != "" {
		a.Scripts = append(a.Scripts, provisioner.Script{
			DisplayName: "Startup Script", Icon: "/emojis/25b6.png", Script: script, LogPath: "coder-startup-script.log",
			RunOnStart: true, StartBlocksLogin: a.StartupScriptBehavior == "blocking",
		})
	}
	if script := str(v, "shutdown_script"); script != "" {
		a.Scripts = append(a.Scripts, provisioner.Script{
			DisplayName: "Shutdown Script", Icon: "/emojis/25c0.png", Script: script, LogPath: "coder-shutdown-script.log",
			RunOnStop: true,
		})
	}
	// The display_apps block, or the provider's defaults while it is
	// unknown (at plan time).
	a.DisplayApps = []string{"vscode", "web_terminal", "ssh_helper", "port_forwarding_helper"}
	if apps := list(v, "display_apps"); len(apps) > 0 {
		a.DisplayApps = []string{}
		for _, name := range []string{"vscode", "vscode_insiders", "web_terminal", "ssh_helper", "port_forwarding_helper"} {
			if boolean(apps[0], name) {
				a.DisplayApps = append(a.DisplayApps, name)
			}
		}
	}
	return a
}

func convertApp(r stateResource) provisioner.App {
	v := r.Values
	app := provisioner.App{
		ID: str(v, "id"), Slug: str(v, "slug"), DisplayName: str(v, "display_name"), Command: str(v, "command"),
		URL: str(v, "url"), Icon: str(v, "icon"), External: boolean(v, "external"), Subdomain: boolean(v, "subdomain"),
		SharingLevel: str(v, "share"), Hidden: boolean(v, "hidden"), OpenIn: str(v, "open_in"),
		Order: int32(num(v, "order")),
	}
	if hc := list(v, "healthcheck"); len(hc) > 0 {
		app.Healthcheck = &provisioner.Healthcheck{
			URL: str(hc[0], "url"), Interval: int32(num(hc[0], "interval")), Threshold: int32(num(hc[0], "threshold")),
		}
	}
	return app
}

func convertScript(r stateResource) provisioner.Script {
	v := r.Values
	return provisioner.Script{
		DisplayName: str(v, "display_name"), Icon: str(v, "icon"), Script: str(v, "script"), Cron: str(v, "cron"),
		LogPath: str(v, "log_path"), RunOnStart: boolean(v, "run_on_start"), RunOnStop: boolean(v, "run_on_stop"),
		StartBlocksLogin: boolean(v, "start_blocks_login"), TimeoutSeconds: int32(num(v, "timeout")),
	}
}

// instanceType reads the attribute cloud providers use for machine sizes.
func instanceType(v map[string]any) string {
	for _, k := range []string{"instance_type", "machine_type", "vm_size", "size"} {
		if s := str(v, k); s != "" {
			return s
		}
	}
	return ""
}

// dataResources lists the data resources of type typ read by the plan,
// first from the prior state, then those only in the planned values.
func (s *show) dataResources(typ string) []stateResource {
	var out []stateResource
	seen := map[string]bool{}
	var walk func(m *stateModule)
	walk = func(m *stateModule) {
		if m == nil {
			return
		}
		for _, r := range m.Resources {
			if r.Mode == "data" && r.Type == typ && !seen[r.Address] {
				seen[r.Address] = true
				out = append(out, r)
			}
		}
		for i := range m.ChildModules {
			walk(&m.ChildModules[i])
		}
	}
	if s.PriorState != nil && s.PriorState.Values != nil {
		walk(s.PriorState.Values.RootModule)
	}
	if s.PlannedValues != nil {
		walk(s.PlannedValues.RootModule)
	}
	return out
}

// parameters converts the coder_parameter data sources.
func (s *show) parameters() ([]provisioner.RichParameter, error) {
	var out []provisioner.RichParameter
	for _, r := range s.dataResources("coder_parameter") {
		v := r.Values
		p := provisioner.RichParameter{
			Name: str(v, "name"), DisplayName: str(v, "display_name"), Description: str(v, "description"),
			Type: str(v, "type"), FormType: str(v, "form_type"), Mutable: boolean(v, "mutable"),
			Ephemeral: boolean(v, "ephemeral"), DefaultValue: str(v, "default"), Icon: str(v, "icon"),
			Required: !boolean(v, "optional"), Order: int32(num(v, "order")), Options: []provisioner.ParameterOption{},
		}
		if p.Name == "" {
			return nil, &provisioner.JobError{Message: fmt.Sprintf("%s: parameter has no name", r.Address)}
		}
		for _, o := range list(v, "option") {
			p.Options = append(p.Options, provisioner.ParameterOption{
				Name: str(o, "name"), Description: str(o, "description"), Value: str(o, "value"), Icon: str(o, "icon"),
			})
		}
		if vs := list(v, "validation"); len(vs) > 0 {
			val := vs[0]
			p.ValidationRegex, p.ValidationError = str(val, "regex"), str(val, "error")
			p.ValidationMonotonic = str(val, "monotonic")
			p.ValidationMin = bound(val, "min")
			p.ValidationMax = bound(val, "max")
		}
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Order < out[j].Order })
	return out, nil
}

// externalAuth converts the coder_external_auth data sources.
func (s *show) externalAuth() []provisioner.ExternalAuthProvider {
	out := []provisioner.ExternalAuthProvider{}
	for _, r := range s.dataResources("coder_external_auth") {
		out = append(out, provisioner.ExternalAuthProvider{ID: str(r.Values, "id"), Optional: boolean(r.Values, "optional")})
	}
	return out
}

// presets converts the coder_workspace_preset data sources, by name.
// Preset names must be unique; at most one preset may be the default.
func (s *show) presets() ([]provisioner.Preset, error) {
	out := []provisioner.Preset{}
	seen := map[string]bool{}
	defaults := 0
	for _, r := range s.dataResources("coder_workspace_preset") {
		v := r.Values
		p := provisioner.Preset{
			Name: str(v, "name"), Default: boolean(v, "default"), Description: str(v, "description"),
			Icon: str(v, "icon"), Parameters: []provisioner.PresetParameter{},
		}
		if p.Name == "" {
			return nil, &provisioner.JobError{Message: fmt.Sprintf("%s: preset has no name", r.Address)}
		}
		if seen[p.Name] {
			return nil, &provisioner.JobError{Message: fmt.Sprintf("coder_workspace_preset names must be unique but %q appears multiple times", p.Name)}
		}
		seen[p.Name] = true
		if p.Default {
			defaults++
		}
		params, _ := v["parameters"].(map[string]any)
		for name := range params {
			p.Parameters = append(p.Parameters, provisioner.PresetParameter{Name: name, Value: str(params, name)})
		}
		sort.Slice(p.Parameters, func(i, j int) bool { return p.Parameters[i].Name < p.Parameters[j].Name })
		if pb := list(v, "prebuilds"); len(pb) > 0 {
			if n, ok := pb[0]["instances"].(float64); ok {
				i := int32(n)
				p.PrebuildInstances = &i
			}
		}
		out = append(out, p)
	}
	if defaults > 1 {
		return nil, &provisioner.JobError{Message: fmt.Sprintf("a maximum of 1 coder_workspace_preset can be marked as default, but %d are set", defaults)}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// bound reads a validation min or max: nil when unset or disabled.
func bound(v map[string]any, key string) *int32 {
	if boolean(v, key+"_disabled") {
		return nil
	}
	f, ok := v[key].(float64)
	if !ok {
		return nil
	}
	n := int32(f)
	return &n
}

func str(v map[string]any, key string) string {
	switch x := v[key].(type) {
	case string:
		return x
	case nil:
		return ""
	case float64, bool:
		return fmt.Sprint(x)
	}
	return ""
}

func boolean(v map[string]any, key string) bool {
	b, _ := v[key].(bool)
	return b
}

func num(v map[string]any, key string) float64 {
	f, _ := v[key].(float64)
	return f
}

func list(v map[string]any, key string) []map[string]any {
	items, _ := v[key].([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
