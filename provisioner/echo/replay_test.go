package echo_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/echo"
)

func ptr[T any](v T) *T { return &v }

func TestReplayImport(t *testing.T) {
	t.Parallel()
	startGraph := &provisioner.PlanResult{
		Resources: []provisioner.Resource{{
			Name: "dev", Type: "aws_instance", Hide: true, Icon: "/i.svg", InstanceType: "t3", DailyCost: 7,
			Metadata: []provisioner.Metadata{{Key: "k", Value: "v", Sensitive: true}, {Key: "n", IsNull: true}},
			Agents: []provisioner.Agent{{
				ID: "a1", Name: "main", OperatingSystem: "linux", Architecture: "arm64", Directory: "/w",
				Token: "agent-token", Env: map[string]string{"A": "1", "B": "2"}, ConnectionTimeoutSeconds: 300,
				TroubleshootingURL: "https://help", MOTDFile: "/etc/motd",
				DisplayApps: []string{"vscode", "web_terminal"},
				Apps: []provisioner.App{{
					ID: "8e1b2c5e-6a83-4c61-9a8f-0d6f2f8c1a11", Slug: "code", DisplayName: "Code", URL: "http://localhost:8080",
					Icon: "/c.svg", Subdomain: true, SharingLevel: "authenticated", Order: 2, OpenIn: "tab",
					Healthcheck: &provisioner.Healthcheck{URL: "http://localhost:8080/h", Interval: 5, Threshold: 3},
				}, {Slug: "term", Command: "bash", External: true, Hidden: true}},
				Scripts: []provisioner.Script{{
					DisplayName: "Startup", Icon: "/s.svg", Script: "echo hi", Cron: "* * * * *", StartBlocksLogin: true,
					RunOnStart: true, TimeoutSeconds: 60, LogPath: "startup.log",
				}},
			}},
		}, {Name: "bare"}},
		Parameters: []provisioner.RichParameter{{
			Name: "size", DisplayName: "Size", Description: "how big", Type: "number", FormType: "slider",
			Mutable: true, Ephemeral: true, DefaultValue: "2", Icon: "/s.svg",
			Options:         []provisioner.ParameterOption{{Name: "One", Description: "1", Value: "1", Icon: "/1.svg"}},
			ValidationRegex: "^[0-9]+$", ValidationError: "digits", ValidationMin: ptr[int32](-5), ValidationMax: ptr[int32](0),
			ValidationMonotonic: "increasing", Required: true, Order: -3,
		}, {
			Name: "tags", Type: "list(string)", FormType: "multi-select",
		}},
		ExternalAuth: []provisioner.ExternalAuthProvider{{ID: "github"}, {ID: "gitlab", Optional: true}},
		Presets: []provisioner.Preset{{
			Name: "Big", Description: "large", Icon: "/b.svg", Default: true, PrebuildInstances: ptr[int32](2),
			Parameters: []provisioner.PresetParameter{{Name: "size", Value: "1"}, {Name: "tags", Value: `["a"]`}},
		}, {Name: "Empty"}},
	}
	stopGraph := &provisioner.PlanResult{Resources: []provisioner.Resource{{Name: "stopped"}}}
	vars := []provisioner.Variable{
		{Name: "region", Description: "where", Type: "string", DefaultValue: "eu", Sensitive: true},
		{Name: "count", Type: "number", Required: true},
	}
	dir := protoDir(t, map[string][]byte{
		"0.init.protobuf":        logResp("debug", "init log"),
		"1.init.protobuf":        initResp(""),
		"0.parse.protobuf":       logResp("trace", "parse log"),
		"1.parse.protobuf":       parseResp("", "# Readme", vars...),
		"0.plan.protobuf":        logResp("info", "plan log"),
		"1.plan.protobuf":        planResp(""),
		"0.start.graph.protobuf": logResp("warn", "start graph"),
		"1.start.graph.protobuf": graphResp("", startGraph),
		"0.graph.protobuf":       logResp("error", "generic graph"),
		"1.graph.protobuf":       graphResp("", stopGraph),
		"main.tf":                []byte("# ignored"),
	})
	ctx := context.Background()
	p := echo.New()
	s := newSink()

	require.NoError(t, p.Init(ctx, dir, s))
	parsed, err := p.Parse(ctx, dir, s)
	require.NoError(t, err)
	require.Equal(t, &provisioner.ParseResult{Variables: vars, Readme: "# Readme"}, parsed)

	in := provisioner.PlanInput{Transition: provisioner.TransitionStart}
	start, err := p.Plan(ctx, dir, in, s)
	require.NoError(t, err)
	require.Equal(t, startGraph, start)

	in.Transition = provisioner.TransitionStop
	stop, err := p.Plan(ctx, dir, in, s)
	require.NoError(t, err)
	require.Equal(t, stopGraph, stop)

	require.Equal(t, []provisioner.Log{
		{Level: provisioner.LevelDebug, Output: "init log"},
		{Level: provisioner.LevelTrace, Output: "parse log"},
		info("plan log"),
		{Level: provisioner.LevelWarn, Output: "start graph"},
		info("plan log"),
		{Level: provisioner.LevelError, Output: "generic graph"},
	}, s.Logs())
}

func TestReplayBuild(t *testing.T) {
	t.Parallel()
	graph := func(name string) []byte {
		return graphResp("", &provisioner.PlanResult{Resources: []provisioner.Resource{{Name: name}}})
	}
	dir := protoDir(t, map[string][]byte{
		"0.init.protobuf":          initResp(""),
		"0.plan.protobuf":          planResp(""),
		"0.apply.protobuf":         logResp("info", "applying"),
		"1.apply.protobuf":         applyResp("generic-state", ""),
		"1.start.apply.protobuf":   applyResp("start-state", ""),
		"0.destroy.apply.protobuf": applyResp("", ""),
		"0.graph.protobuf":         graph("generic"),
		"0.stop.graph.protobuf":    graph("stopped"),
		"0.destroy.graph.protobuf": graphResp("", &provisioner.PlanResult{}),
	})
	tests := []struct {
		transition string
		wantState  []byte
		wantRes    []provisioner.Resource
		wantLogs   []provisioner.Log
	}{
		{"start", []byte("start-state"), []provisioner.Resource{{Name: "generic"}}, []provisioner.Log{info("applying")}},
		{"stop", []byte("generic-state"), []provisioner.Resource{{Name: "stopped"}}, []provisioner.Log{info("applying")}},
		{"delete", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.transition, func(t *testing.T) {
			t.Parallel()
			s := newSink()
			in := startIn(nil)
			in.Transition = tt.transition
			in.State = []byte("old")
			require.NoError(t, echo.New().Init(context.Background(), dir, s))
			_, err := echo.New().Plan(context.Background(), dir, in, s)
			require.NoError(t, err)
			res, err := echo.New().Apply(context.Background(), dir, in, s)
			require.NoError(t, err)
			require.Equal(t, &provisioner.ApplyResult{State: tt.wantState, Resources: tt.wantRes}, res)
			require.Equal(t, tt.wantLogs, s.Logs())
		})
	}
}

func TestReplayOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		files    map[string][]byte
		run      func(p *echo.Provisioner, dir string, s *sink) error
		wantLogs []provisioner.Log
		wantErr  string
	}{
		{
			name:    "no init responses",
			files:   map[string][]byte{"0.parse.protobuf": parseResp("", "")},
			run:     initOp,
			wantErr: "echo: no init responses",
		},
		{
			name:    "no parse responses",
			files:   map[string][]byte{"0.init.protobuf": initResp("")},
			run:     parseOp,
			wantErr: "echo: no parse responses",
		},
		{
			name:    "no graph responses",
			files:   map[string][]byte{"0.plan.protobuf": planResp("")},
			run:     planOp,
			wantErr: "echo: no graph responses",
		},
		{
			name:    "no apply responses",
			files:   map[string][]byte{"0.plan.protobuf": planResp(""), "0.graph.protobuf": graphResp("", &provisioner.PlanResult{})},
			run:     applyOp,
			wantErr: "echo: no apply responses",
		},
		{
			name:     "init error",
			files:    map[string][]byte{"0.init.protobuf": logResp("error", "bad"), "1.init.protobuf": initResp("init failed")},
			run:      initOp,
			wantLogs: []provisioner.Log{{Level: provisioner.LevelError, Output: "bad"}},
			wantErr:  "init failed",
		},
		{
			name:    "parse error",
			files:   map[string][]byte{"0.parse.protobuf": parseResp("parse failed", "")},
			run:     parseOp,
			wantErr: "parse failed",
		},
		{
			name:    "plan error",
			files:   map[string][]byte{"0.plan.protobuf": planResp("plan failed"), "0.graph.protobuf": graphResp("", &provisioner.PlanResult{})},
			run:     planOp,
			wantErr: "plan failed",
		},
		{
			name:    "graph error",
			files:   map[string][]byte{"0.plan.protobuf": planResp(""), "0.graph.protobuf": graphResp("graph failed", &provisioner.PlanResult{})},
			run:     planOp,
			wantErr: "graph failed",
		},
		{
			name:    "apply error",
			files:   map[string][]byte{"0.apply.protobuf": applyResp("partial", "apply failed"), "0.graph.protobuf": graphResp("", &provisioner.PlanResult{})},
			run:     applyOp,
			wantErr: "apply failed",
		},
		{
			name: "first completion of own kind ends",
			files: map[string][]byte{
				"0.init.protobuf": parseResp("ignored", ""),
				"1.init.protobuf": logResp("info", "a"),
				"2.init.protobuf": initResp("first"),
				"3.init.protobuf": logResp("info", "never"),
				"4.init.protobuf": initResp("second"),
			},
			run:      initOp,
			wantLogs: []provisioner.Log{info("a")},
			wantErr:  "first",
		},
		{
			name:    "empty response is skipped",
			files:   map[string][]byte{"0.init.protobuf": {}, "1.init.protobuf": initResp("done")},
			run:     initOp,
			wantErr: "done",
		},
		{
			name:    "malformed response",
			files:   map[string][]byte{"0.init.protobuf": []byte{0x0a, 0x05, 0x01}},
			run:     initOp,
			wantErr: "echo: decode 0.init.protobuf: field 1: unexpected EOF",
		},
		{
			name:    "wrong wire type",
			files:   map[string][]byte{"0.init.protobuf": pbMessage(nil, 3, pbVarint(nil, 1, 7))},
			run:     initOp,
			wantErr: "echo: decode init completion: field 1: unexpected wire type 0",
		},
		{
			name: "unknown log level reads as info",
			files: map[string][]byte{
				"0.init.protobuf": pbMessage(nil, 1, pbString(pbVarint(nil, 1, 9), 2, "odd")),
				"1.init.protobuf": initResp(""),
			},
			run:      initOp,
			wantLogs: []provisioner.Log{info("odd")},
		},
		{
			name: "echo.json wins",
			files: map[string][]byte{
				"echo.json":       []byte(`{"version":1,"steps":{"plan":{"outcome":"fail","error":"from json"}}}`),
				"0.plan.protobuf": planResp("from protobuf"),
			},
			run:     planOp,
			wantErr: "from json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := protoDir(t, tt.files)
			s := newSink()
			err := tt.run(echo.New(), dir, s)
			require.Equal(t, tt.wantLogs, s.Logs())
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			requireJobError(t, err, tt.wantErr, "")
		})
	}
}

func initOp(p *echo.Provisioner, dir string, s *sink) error {
	return p.Init(context.Background(), dir, s)
}

func parseOp(p *echo.Provisioner, dir string, s *sink) error {
	_, err := p.Parse(context.Background(), dir, s)
	return err
}

func planOp(p *echo.Provisioner, dir string, s *sink) error {
	_, err := p.Plan(context.Background(), dir, startIn(nil), s)
	return err
}

func applyOp(p *echo.Provisioner, dir string, s *sink) error {
	_, err := p.Apply(context.Background(), dir, startIn(nil), s)
	return err
}

// Without a completion, an operation blocks until canceled.
func TestReplayBlocks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string][]byte
		op    func(ctx context.Context, p *echo.Provisioner, dir string, s *sink) error
	}{
		{
			name: "plan",
			files: map[string][]byte{
				"0.plan.protobuf": logResp("info", "a"),
				"1.plan.protobuf": applyResp("", ""), // not the plan's kind
			},
			op: func(ctx context.Context, p *echo.Provisioner, dir string, s *sink) error {
				_, err := p.Plan(ctx, dir, startIn(nil), s)
				return err
			},
		},
		{
			name: "gap ends the sequence",
			files: map[string][]byte{
				"0.init.protobuf": logResp("info", "a"),
				"2.init.protobuf": initResp(""),
			},
			op: func(ctx context.Context, p *echo.Provisioner, dir string, s *sink) error {
				return p.Init(ctx, dir, s)
			},
		},
		{
			name: "graph after apply",
			files: map[string][]byte{
				"0.apply.protobuf": applyResp("st", ""),
				"0.graph.protobuf": logResp("info", "a"),
			},
			op: func(ctx context.Context, p *echo.Provisioner, dir string, s *sink) error {
				_, err := p.Apply(ctx, dir, startIn(nil), s)
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := protoDir(t, tt.files)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := newSink()
			done := async(func() error { return tt.op(ctx, echo.New(), dir, s) })
			s.waitLogs(t, 1)
			requireBlocked(t, done)
			cancel()
			requireCanceled(t, done)
			require.Equal(t, []provisioner.Log{info("a")}, s.Logs())
		})
	}
}
