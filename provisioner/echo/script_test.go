package echo_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/echo"
)

const demoSpec = `{"version": 1, "readme": "# Demo",
 "variables":  [{"name": "region", "type": "string", "default_value": "eu", "required": false}],
 "parameters": [{"name": "size", "type": "string", "default_value": "small", "mutable": true,
                 "options": [{"name": "Small", "value": "small"}, {"name": "Large", "value": "large"}]}],
 "external_auth": [{"id": "github", "optional": true}],
 "workspace_tags": {"cluster": "eu-1"},
 "resources": [
   {"name": "dev", "type": "echo_instance", "transitions": ["start", "stop"], "icon": "/icon.svg",
    "daily_cost": 3, "instance_type": "t3.micro",
    "metadata": [{"key": "size", "value": "${param:size}"}, {"key": "where", "value": "${var:region}/${transition}", "sensitive": true}],
    "agents": [{"name": "main", "operating_system": "linux", "architecture": "amd64", "directory": "/home/coder"}]},
   {"name": "disk", "type": "echo_volume", "hide": true},
   {"name": "stopper", "type": "echo_marker", "transitions": ["stop"]}
 ],
 "steps": {
   "parse": {"logs": [{"output": "parsed"}, {"level": "debug", "output": "ws=[${workspace_name}] t=[${transition}]"}]},
   "plan": {"logs": [{"output": "planning ${transition}"}]},
   "plan:stop": {"logs": [{"level": "warn", "output": "planning the stop"}]},
   "apply:start": {"logs": [{"output": "booting ${workspace_name} size ${param:size} in ${var:region}", "delay_ms": 1},
                            {"level": "trace", "output": "tick", "repeat": 3},
                            {"level": "error", "output": "keep ${HOME} and ${nope:x}; drop [${param:missing}]"}],
                   "state": "s1"},
   "apply:stop": {"outcome": "fail", "error": "disk busy on ${workspace_name}", "error_code": "MISSING_TEMPLATE_PARAMETER"}
 }}`

func devResource(size, where string) provisioner.Resource {
	return provisioner.Resource{
		Name: "dev", Type: "echo_instance", Icon: "/icon.svg", DailyCost: 3, InstanceType: "t3.micro",
		Metadata: []provisioner.Metadata{
			{Key: "size", Value: size},
			{Key: "where", Value: where, Sensitive: true},
		},
		Agents: []provisioner.Agent{{Name: "main", OperatingSystem: "linux", Architecture: "amd64", Directory: "/home/coder"}},
	}
}

var disk = provisioner.Resource{Name: "disk", Type: "echo_volume", Hide: true}

func TestScriptImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := jsonDir(t, demoSpec)
	p := echo.New()
	s := newSink()

	require.NoError(t, p.Init(ctx, dir, s))
	require.Empty(t, s.Logs())

	parsed, err := p.Parse(ctx, dir, s)
	require.NoError(t, err)
	require.Equal(t, &provisioner.ParseResult{
		Variables:     []provisioner.Variable{{Name: "region", Type: "string", DefaultValue: "eu"}},
		Readme:        "# Demo",
		WorkspaceTags: map[string]string{"cluster": "eu-1"},
	}, parsed)
	require.Equal(t, []provisioner.Log{
		info("parsed"),
		{Level: provisioner.LevelDebug, Output: "ws=[] t=[]"},
	}, s.Logs())

	params := []provisioner.RichParameter{{
		Name: "size", Type: "string", DefaultValue: "small", Mutable: true,
		Options: []provisioner.ParameterOption{{Name: "Small", Value: "small"}, {Name: "Large", Value: "large"}},
	}}
	auth := []provisioner.ExternalAuthProvider{{ID: "github", Optional: true}}
	in := provisioner.PlanInput{
		Transition: provisioner.TransitionStart,
		Parameters: map[string]string{"size": "small"},
		Variables:  map[string]string{"region": "us"},
	}
	start, err := p.Plan(ctx, dir, in, s)
	require.NoError(t, err)
	require.Equal(t, &provisioner.PlanResult{
		Resources:    []provisioner.Resource{devResource("small", "us/start"), disk},
		Parameters:   params,
		ExternalAuth: auth,
	}, start)

	in.Transition = provisioner.TransitionStop
	stop, err := p.Plan(ctx, dir, in, s)
	require.NoError(t, err)
	require.Equal(t, &provisioner.PlanResult{
		Resources:    []provisioner.Resource{devResource("small", "us/stop"), {Name: "stopper", Type: "echo_marker"}},
		Parameters:   params,
		ExternalAuth: auth,
	}, stop)

	require.Equal(t, []provisioner.Log{
		info("parsed"),
		{Level: provisioner.LevelDebug, Output: "ws=[] t=[]"},
		info("planning start"),
		{Level: provisioner.LevelWarn, Output: "planning the stop"},
	}, s.Logs())
}

func TestScriptBuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := jsonDir(t, demoSpec)
	p := echo.New()

	in := provisioner.PlanInput{
		Transition: provisioner.TransitionStart,
		Workspace:  provisioner.WorkspaceMeta{WorkspaceName: "ws1"},
		Parameters: map[string]string{"size": "large"},
		Variables:  map[string]string{"region": "eu"},
		State:      []byte("s0"),
	}

	t.Run("start", func(t *testing.T) {
		t.Parallel()
		s := newSink()
		res, err := p.Apply(ctx, dir, in, s)
		require.NoError(t, err)
		require.Equal(t, &provisioner.ApplyResult{
			State:     []byte("s1"),
			Resources: []provisioner.Resource{devResource("large", "eu/start"), disk},
		}, res)
		trace := provisioner.Log{Level: provisioner.LevelTrace, Output: "tick"}
		require.Equal(t, []provisioner.Log{
			info("booting ws1 size large in eu"),
			trace, trace, trace,
			{Level: provisioner.LevelError, Output: "keep ${HOME} and ${nope:x}; drop []"},
		}, s.Logs())
	})

	t.Run("stop fails", func(t *testing.T) {
		t.Parallel()
		in := in
		in.Transition = provisioner.TransitionStop
		_, err := p.Apply(ctx, dir, in, newSink())
		requireJobError(t, err, "disk busy on ws1", "MISSING_TEMPLATE_PARAMETER")
	})

	t.Run("delete", func(t *testing.T) {
		t.Parallel()
		in := in
		in.Transition = provisioner.TransitionDelete
		s := newSink()
		plan, err := p.Plan(ctx, dir, in, s)
		require.NoError(t, err)
		require.Empty(t, plan.Resources)
		res, err := p.Apply(ctx, dir, in, s)
		require.NoError(t, err)
		require.Equal(t, &provisioner.ApplyResult{State: []byte("s0")}, res, "state kept, no resources")
		require.Equal(t, []provisioner.Log{info("planning delete")}, s.Logs())
	})
}

func TestScriptSteps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		spec       string
		transition string
		apply      bool
		wantLogs   []provisioner.Log
		wantErr    string
		wantCode   string
		wantRes    []provisioner.Resource
		wantState  []byte // for apply
	}{
		{
			name:       "transition key wins",
			spec:       `{"version":1,"steps":{"plan":{"logs":[{"output":"generic"}]},"plan:stop":{"logs":[{"output":"specific"}]}}}`,
			transition: "stop",
			wantLogs:   []provisioner.Log{info("specific")},
		},
		{
			name:       "generic fallback",
			spec:       `{"version":1,"steps":{"plan":{"logs":[{"output":"generic"}]},"plan:stop":{"logs":[{"output":"specific"}]}}}`,
			transition: "start",
			wantLogs:   []provisioner.Log{info("generic")},
		},
		{
			name:       "no step",
			spec:       `{"version":1,"steps":{"apply":{"logs":[{"output":"x"}]}}}`,
			transition: "start",
		},
		{
			name:       "default failure",
			spec:       `{"version":1,"steps":{"plan":{"outcome":"fail","logs":[{"output":"before"}]}}}`,
			transition: "start",
			wantLogs:   []provisioner.Log{info("before")},
			wantErr:    "echo: scripted failure",
		},
		{
			name:       "failure with code",
			spec:       `{"version":1,"steps":{"plan:start":{"outcome":"fail","error":"need ${var:v}","error_code":"REQUIRED_TEMPLATE_VARIABLES"}}}`,
			transition: "start",
			wantErr:    "need ",
			wantCode:   "REQUIRED_TEMPLATE_VARIABLES",
		},
		{
			name:       "explicit succeed",
			spec:       `{"version":1,"steps":{"plan":{"outcome":"succeed","delay_ms":1}}}`,
			transition: "start",
		},
		{
			name: "resources override",
			spec: `{"version":1,"resources":[{"name":"a"}],
			        "steps":{"plan":{"resources":[{"name":"b","metadata":[{"key":"k","value":"${workspace_name}"}]}]}}}`,
			transition: "start",
			wantRes:    []provisioner.Resource{{Name: "b", Metadata: []provisioner.Metadata{{Key: "k", Value: "ws1"}}}},
		},
		{
			name:       "empty override",
			spec:       `{"version":1,"resources":[{"name":"a"}],"steps":{"plan":{"resources":[]}}}`,
			transition: "start",
			wantRes:    []provisioner.Resource{},
		},
		{
			name:       "override on delete",
			spec:       `{"version":1,"resources":[{"name":"a","transitions":["delete"]}],"steps":{"apply:delete":{"resources":[{"name":"left"}]}}}`,
			transition: "delete",
			apply:      true,
			wantRes:    []provisioner.Resource{{Name: "left"}},
			wantState:  []byte("old"),
		},
		{
			name:       "no transitions",
			spec:       `{"version":1,"resources":[{"name":"a","transitions":[]}]}`,
			transition: "start",
			apply:      true,
			wantState:  []byte("old"),
		},
		{
			name:       "empty state",
			spec:       `{"version":1,"steps":{"apply":{"state":""}}}`,
			transition: "start",
			apply:      true,
			wantState:  []byte{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := jsonDir(t, tt.spec)
			s := newSink()
			in := startIn(nil)
			in.Transition = tt.transition
			in.State = []byte("old")
			var (
				res   []provisioner.Resource
				state []byte
				err   error
			)
			if tt.apply {
				var r *provisioner.ApplyResult
				r, err = echo.New().Apply(context.Background(), dir, in, s)
				if err == nil {
					res, state = r.Resources, r.State
				}
			} else {
				var r *provisioner.PlanResult
				r, err = echo.New().Plan(context.Background(), dir, in, s)
				if err == nil {
					res = r.Resources
				}
			}
			require.Equal(t, tt.wantLogs, s.Logs())
			if tt.wantErr != "" {
				requireJobError(t, err, tt.wantErr, tt.wantCode)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantRes, res)
			require.Equal(t, tt.wantState, state)
		})
	}
}

func TestScriptInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, spec, want string
	}{
		{"unknown key", `{"version":1,"bogus":true}`, `json: unknown field "bogus"`},
		{"nested unknown key", `{"version":1,"steps":{"plan":{"outcom":"fail"}}}`, `json: unknown field "outcom"`},
		{"bad version", `{"version":2}`, "version must be 1, not 2"},
		{"no version", `{}`, "version must be 1, not 0"},
		{"not json", `version: 1`, "invalid character 'v' looking for beginning of value"},
		{"trailing data", `{"version":1} {}`, "unexpected data after the top-level object"},
		{"unknown step", `{"version":1,"steps":{"deploy":{}}}`, `unknown step "deploy" (want parse, plan, apply, plan:<transition> or apply:<transition>)`},
		{"unknown step transition", `{"version":1,"steps":{"plan:restart":{}}}`, `unknown step "plan:restart" (want parse, plan, apply, plan:<transition> or apply:<transition>)`},
		{"parse with transition", `{"version":1,"steps":{"parse:start":{}}}`, `unknown step "parse:start" (want parse, plan, apply, plan:<transition> or apply:<transition>)`},
		{"unknown outcome", `{"version":1,"steps":{"plan":{"outcome":"explode"}}}`, `step "plan": unknown outcome "explode"`},
		{"unknown level", `{"version":1,"steps":{"plan":{"logs":[{"level":"fatal"}]}}}`, `step "plan": logs[0]: unknown level "fatal"`},
		{"negative repeat", `{"version":1,"steps":{"plan":{"logs":[{"repeat":-1}]}}}`, `step "plan": logs[0]: negative delay_ms or repeat`},
		{"negative delay", `{"version":1,"steps":{"plan":{"delay_ms":-1}}}`, `step "plan": negative delay_ms`},
		{"unknown error code", `{"version":1,"steps":{"plan":{"error_code":"OOPS"}}}`, `step "plan": unknown error_code "OOPS"`},
		{"unknown transition", `{"version":1,"resources":[{"name":"a","transitions":["restart"]}]}`, `resource "a": unknown transition "restart"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := jsonDir(t, tt.spec)
			err := echo.New().Init(context.Background(), dir, newSink())
			requireJobError(t, err, "echo: invalid echo.json: "+tt.want, "")
		})
	}
}

func TestScriptCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		step      string
		wantLogs  []provisioner.Log
		wantStall bool
	}{
		{"hang", `{"outcome":"hang","logs":[{"output":"a"}]}`, []provisioner.Log{info("a")}, false},
		{"stall", `{"outcome":"stall","logs":[{"output":"a"}]}`, []provisioner.Log{info("a")}, true},
		{"step delay", `{"delay_ms":3600000,"logs":[{"output":"a"}]}`, []provisioner.Log{info("a")}, false},
		{"log delay", `{"logs":[{"output":"a"},{"output":"b","delay_ms":3600000}]}`, []provisioner.Log{info("a")}, false},
		{"repeat delay", `{"logs":[{"output":"a"},{"output":"b","delay_ms":3600000,"repeat":2}]}`, []provisioner.Log{info("a")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := jsonDir(t, `{"version":1,"steps":{"apply":`+tt.step+`}}`)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := newSink()
			done := async(func() error {
				_, err := echo.New().Apply(ctx, dir, startIn(nil), s)
				return err
			})
			s.waitLogs(t, len(tt.wantLogs))
			requireBlocked(t, done)
			require.Equal(t, tt.wantStall, s.isStalled())
			cancel()
			requireCanceled(t, done)
			require.Equal(t, tt.wantLogs, s.Logs())
		})
	}
}

func TestCanceledBeforeStart(t *testing.T) {
	t.Parallel()
	dir := jsonDir(t, `{"version":1}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := echo.New()
	require.ErrorIs(t, p.Init(ctx, dir, newSink()), context.Canceled)
	_, err := p.Parse(ctx, dir, newSink())
	require.ErrorIs(t, err, context.Canceled)
	_, err = p.Plan(ctx, dir, startIn(nil), newSink())
	require.ErrorIs(t, err, context.Canceled)
	_, err = p.Apply(ctx, dir, startIn(nil), newSink())
	require.ErrorIs(t, err, context.Canceled)
}

func TestNeitherFormat(t *testing.T) {
	t.Parallel()
	archive, err := echo.Tar(map[string][]byte{"main.tf": []byte("# nothing")})
	require.NoError(t, err)
	dir := extract(t, archive)
	p := echo.New()
	const msg = "echo: archive has neither echo.json nor *.protobuf responses"
	requireJobError(t, p.Init(context.Background(), dir, newSink()), msg, "")
	_, err = p.Parse(context.Background(), dir, newSink())
	requireJobError(t, err, msg, "")
	_, err = p.Plan(context.Background(), dir, startIn(nil), newSink())
	requireJobError(t, err, msg, "")
	_, err = p.Apply(context.Background(), dir, startIn(nil), newSink())
	requireJobError(t, err, msg, "")
}

func TestUnknownTransition(t *testing.T) {
	t.Parallel()
	dir := jsonDir(t, `{"version":1}`)
	in := startIn(nil)
	in.Transition = "restart"
	_, err := echo.New().Plan(context.Background(), dir, in, newSink())
	require.EqualError(t, err, `echo: unknown transition "restart"`)
	_, ok := provisioner.AsJobError(err)
	require.False(t, ok)
}

func TestTarJSON(t *testing.T) {
	t.Parallel()
	archive, err := echo.TarJSON(`{"version":1}`)
	require.NoError(t, err)
	require.True(t, provisioner.IsTar(archive))
	dir := extract(t, archive)
	res, err := echo.New().Parse(context.Background(), dir, newSink())
	require.NoError(t, err)
	require.Equal(t, &provisioner.ParseResult{}, res)
}
