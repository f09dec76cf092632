package composetest

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/berth-dev/berth/workflows"
)

// root is the repository root, seen from this package's directory.
var root = filepath.Join("..", "..")

// Standard Temporal client variables, read by contrib/envconfig in every
// berth command that dials Temporal (the ones embedding temporalFlags).
var temporalEnv = []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"}

// The Dockerfile stage compose builds berth from.
const berthStage = "berth"

type composeFile struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string      `yaml:"image"`
	Build       build       `yaml:"build"`
	Command     stringList  `yaml:"command"`
	Environment environment `yaml:"environment"`
	Ports       []string    `yaml:"ports"`
	Volumes     []string    `yaml:"volumes"`
}

type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
	Target     string `yaml:"target"`
}

// stringList is a compose command: a list, or a string split on spaces.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = strings.Fields(n.Value)
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// environment is a compose environment: a map, or a list of NAME=value.
type environment map[string]string

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	m := map[string]string{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
	} else if err := n.Decode(&m); err != nil {
		return err
	}
	*e = m
	return nil
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	require.NoError(t, err)
	var f composeFile
	require.NoError(t, yaml.Unmarshal(b, &f), "parse docker-compose.yml")
	require.NotEmpty(t, f.Services, "docker-compose.yml has no services")
	return f
}

// berthServices are the services that run the berth binary.
func berthServices(f composeFile) map[string]service {
	out := map[string]service{}
	for name, s := range f.Services {
		if s.Build.Target == berthStage {
			out[name] = s
		}
	}
	return out
}

func TestServices(t *testing.T) {
	t.Parallel()
	f := loadCompose(t)
	for _, name := range []string{"postgres", "temporal", "temporal-ui", "migrate", "api", "api-2", "worker", "worker-gpu"} {
		require.Contains(t, f.Services, name, "docker-compose.yml runs the durable topology: Temporal on Postgres, two API replicas, a worker fleet")
	}
	berth := berthServices(f)
	hostPorts := map[string]string{}
	for _, name := range []string{"api", "api-2"} {
		require.Equal(t, []string{"server"}, []string(berth[name].Command), "%s runs `berth server`", name)
		// The API listens on all interfaces inside its container and publishes that port.
		addr := berth[name].Environment["BERTH_ADDRESS"]
		host, port, err := net.SplitHostPort(addr)
		require.NoError(t, err, "%s BERTH_ADDRESS %q", name, addr)
		require.Equal(t, "0.0.0.0", host, "%s BERTH_ADDRESS must listen beyond the container's loopback", name)
		p, err := strconv.Atoi(port)
		require.NoError(t, err)
		require.True(t, publishesContainerPort(berth[name], p), "%s publishes its BERTH_ADDRESS port %d", name, p)
		for _, hp := range berth[name].Ports {
			require.NotContains(t, hostPorts, hp, "%s and %s publish the same port", name, hostPorts[hp])
			hostPorts[hp] = name
		}
	}
	for _, name := range []string{"worker", "worker-gpu"} {
		require.Equal(t, "worker", berth[name].Command[0], "%s runs `berth worker`", name)
	}
	require.True(t, hasSeq(berth["worker-gpu"].Command, []string{"--tag", "pool=gpu"}), "worker-gpu has a tag set of its own")

	server, ui := pinnedTemporal(t)
	require.Equal(t, "temporalio/auto-setup:"+server, f.Services["temporal"].Image,
		"the temporal service runs the server version pinned in tools/temporal-server")
	require.Equal(t, "temporalio/ui:"+ui, f.Services["temporal-ui"].Image,
		"the Web UI is the version pinned in tools/temporal-server")
	require.True(t, publishes(f.Services["temporal-ui"], 8233), "the Temporal UI is on port 8233, as in `make dev`")
}

// pinnedTemporal returns the Temporal server and UI server versions of
// tools/temporal-server/go.mod, without the leading v.
func pinnedTemporal(t *testing.T) (server, ui string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "tools", "temporal-server", "go.mod"))
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "go.temporal.io/server":
			server = strings.TrimPrefix(fields[1], "v")
		case "github.com/temporalio/ui-server/v2":
			ui = strings.TrimPrefix(fields[1], "v")
		}
	}
	require.NotEmpty(t, server, "tools/temporal-server/go.mod requires go.temporal.io/server")
	require.NotEmpty(t, ui, "tools/temporal-server/go.mod requires github.com/temporalio/ui-server/v2")
	return server, ui
}

func TestEnvMatchesCLI(t *testing.T) {
	t.Parallel()
	f := loadCompose(t)
	cli := loadCLI(t)
	berth := berthServices(f)
	for name, s := range f.Services {
		for env := range s.Environment {
			if _, ok := berth[name]; !ok && strings.HasPrefix(env, "BERTH_") {
				t.Errorf("service %s sets %s but does not run berth", name, env)
			}
		}
	}
	for name, s := range berth {
		cmd, err := cli.command(s.Command)
		if err != nil {
			t.Errorf("service %s: %v", name, err)
			continue
		}
		for env, val := range s.Environment {
			if !strings.HasPrefix(env, "BERTH_") && !strings.HasPrefix(env, "TEMPORAL_") {
				continue
			}
			if !slices.Contains(cmd.env, env) {
				t.Errorf("service %s sets %s, which `berth %s` does not read; it reads %s",
					name, env, cmd.path, strings.Join(cmd.env, ", "))
				continue
			}
			checkServiceRef(t, f, name, env, val)
		}
		for _, req := range cmd.required {
			set := slices.ContainsFunc(req.env, func(e string) bool { _, ok := s.Environment[e]; return ok }) ||
				slices.ContainsFunc(s.Command, func(a string) bool { return a == req.flag || strings.HasPrefix(a, req.flag+"=") })
			if !set {
				t.Errorf("service %s: `berth %s` requires %s (env %s)", name, cmd.path, req.flag, strings.Join(req.env, " or "))
			}
		}
		if slices.Contains(cmd.env, "TEMPORAL_ADDRESS") && s.Environment["TEMPORAL_ADDRESS"] == "" {
			t.Errorf("service %s: `berth %s` dials Temporal; set TEMPORAL_ADDRESS to the temporal service", name, cmd.path)
		}
	}
}

// checkServiceRef checks that addresses of Postgres and Temporal name a
// service of the compose file.
func checkServiceRef(t *testing.T, f composeFile, service, env, val string) {
	t.Helper()
	var host string
	switch env {
	case "TEMPORAL_ADDRESS":
		h, _, err := net.SplitHostPort(val)
		if err != nil {
			t.Errorf("service %s: %s=%q: %v", service, env, val, err)
			return
		}
		host = h
	case "BERTH_POSTGRES_URL", "DATABASE_URL":
		u, err := url.Parse(val)
		if err != nil {
			t.Errorf("service %s: %s: %v", service, env, err)
			return
		}
		host = u.Hostname()
	default:
		return
	}
	if _, ok := f.Services[host]; !ok {
		t.Errorf("service %s: %s points at %q, which is not a service of docker-compose.yml", service, env, host)
	}
}

// TestTemporalConfig checks the Temporal service: PostgreSQL persistence on
// the compose file's Postgres, and the dynamic config every Temporal berth
// starts gets (workflows.DevServerFlags), from the file it mounts.
func TestTemporalConfig(t *testing.T) {
	t.Parallel()
	f := loadCompose(t)
	tmp := f.Services["temporal"]
	require.Equal(t, "postgres12", tmp.Environment["DB"], "Temporal persists in PostgreSQL")
	require.Contains(t, f.Services, tmp.Environment["POSTGRES_SEEDS"], "POSTGRES_SEEDS names the compose file's Postgres")
	path := tmp.Environment["DYNAMIC_CONFIG_FILE_PATH"]
	require.NotEmpty(t, path, "the temporal service sets DYNAMIC_CONFIG_FILE_PATH")
	mounted := ""
	for _, v := range tmp.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == "/etc/temporal/"+path {
			mounted = parts[0]
		}
	}
	require.NotEmpty(t, mounted, "the temporal service mounts its DYNAMIC_CONFIG_FILE_PATH /etc/temporal/%s", path)
	b, err := os.ReadFile(filepath.Join(root, mounted))
	require.NoError(t, err)
	var file map[string][]struct {
		Value any `yaml:"value"`
	}
	require.NoError(t, yaml.Unmarshal(b, &file), "parse %s", mounted)
	got := map[string]any{}
	for k, vs := range file {
		require.Len(t, vs, 1, "%s: one value, without constraints", k)
		got[k] = vs[0].Value
	}
	want := map[string]any{}
	for _, kv := range flagValues(workflows.DevServerFlags(), "--dynamic-config-value") {
		k, v, _ := strings.Cut(kv, "=")
		var val any
		require.NoError(t, yaml.Unmarshal([]byte(v), &val))
		want[k] = val
	}
	require.Equal(t, want, got, "%s must hold workflows.DevServerFlags()", mounted)
}

func TestDockerfileStages(t *testing.T) {
	t.Parallel()
	stages := dockerfileStages(t)
	f := loadCompose(t)
	for name, s := range f.Services {
		if s.Build.Target == "" && s.Image == "" {
			t.Errorf("service %s has neither an image nor a build target", name)
		}
		if s.Build.Target != "" {
			if _, ok := stages[s.Build.Target]; !ok {
				t.Errorf("service %s builds target %q, which is not a stage of the Dockerfile", name, s.Build.Target)
			}
		}
	}
	require.Contains(t, stages[berthStage], `ENTRYPOINT ["berth"]`, "the berth stage runs the berth binary")
}

// dockerfileStages maps each named stage of the Dockerfile to its lines.
func dockerfileStages(t *testing.T) map[string][]string {
	t.Helper()
	fh, err := os.Open(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err)
	defer fh.Close()
	stages := map[string][]string{}
	cur := ""
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		fields := strings.Fields(line)
		if len(fields) >= 4 && strings.EqualFold(fields[0], "FROM") && strings.EqualFold(fields[len(fields)-2], "AS") {
			cur = fields[len(fields)-1]
			stages[cur] = nil
			continue
		}
		if cur != "" && line != "" && !strings.HasPrefix(line, "#") {
			stages[cur] = append(stages[cur], line)
		}
	}
	require.NoError(t, sc.Err())
	return stages
}

func hasSeq(args, seq []string) bool {
	for i := range args {
		if i+len(seq) <= len(args) && slices.Equal(args[i:i+len(seq)], seq) {
			return true
		}
	}
	return false
}

// flagValues returns the sorted values of a repeated flag ("--f v" or "--f=v").
func flagValues(args []string, flag string) []string {
	var out []string
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			out = append(out, args[i+1])
		} else if v, ok := strings.CutPrefix(a, flag+"="); ok {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

func publishes(s service, hostPort int) bool {
	for _, p := range s.Ports {
		parts := strings.Split(p, ":")
		if len(parts) >= 2 && parts[len(parts)-2] == strconv.Itoa(hostPort) {
			return true
		}
	}
	return false
}

func publishesContainerPort(s service, port int) bool {
	for _, p := range s.Ports {
		parts := strings.Split(p, ":")
		if strings.TrimSuffix(parts[len(parts)-1], "/tcp") == strconv.Itoa(port) {
			return true
		}
	}
	return false
}

// The berth CLI, read from the kong structs in cmd/berth.

type flagEnv struct {
	flag string   // --name
	env  []string // env tag names
}

type command struct {
	path     string    // "migrate up"
	env      []string  // every variable the command reads, its parents' included
	required []flagEnv // required flags
	subs     map[string]string
}

type cliModel struct {
	structs map[string]*ast.StructType
	root    command
}

func loadCLI(t *testing.T) cliModel {
	t.Helper()
	dir := filepath.Join(root, "cmd", "berth")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	fset := token.NewFileSet()
	m := cliModel{structs: map[string]*ast.StructType{}}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					m.structs[ts.Name.Name] = st
				}
			}
			return true
		})
	}
	require.Contains(t, m.structs, "cli", "cmd/berth declares its kong grammar as type cli")
	m.root, err = m.describe(command{}, "cli")
	require.NoError(t, err)
	require.Contains(t, m.root.env, "BERTH_LOG_FORMAT", "sanity: parsed the global flags")
	return m
}

// describe adds the flags of struct typ (and the structs it embeds) to c.
func (m cliModel) describe(c command, typ string) (command, error) {
	st, ok := m.structs[typ]
	if !ok {
		return c, fmt.Errorf("type %s is not a struct of cmd/berth", typ)
	}
	if typ == "temporalFlags" {
		c.env = append(c.env, temporalEnv...)
	}
	for _, field := range st.Fields.List {
		var tag reflect.StructTag
		if field.Tag != nil {
			s, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				return c, err
			}
			tag = reflect.StructTag(s)
		}
		if _, ok := tag.Lookup("cmd"); ok {
			if c.subs == nil {
				c.subs = map[string]string{}
			}
			for _, n := range field.Names {
				name := tag.Get("name")
				if name == "" {
					name = dashed(n.Name)
				}
				c.subs[name] = typeName(field.Type)
			}
			continue
		}
		if len(field.Names) == 0 { // embedded: kong flattens its flags
			var err error
			if c, err = m.describe(c, typeName(field.Type)); err != nil {
				return c, err
			}
			continue
		}
		env := tag.Get("env")
		if env == "" || !field.Names[0].IsExported() {
			continue
		}
		names := strings.Split(env, ",")
		c.env = append(c.env, names...)
		if _, ok := tag.Lookup("required"); ok {
			c.required = append(c.required, flagEnv{flag: "--" + dashed(field.Names[0].Name), env: names})
		}
	}
	return c, nil
}

// command resolves the subcommand that compose arguments run.
func (m cliModel) command(args []string) (command, error) {
	cur := m.root
	var path []string
	for _, a := range args {
		typ, ok := cur.subs[a]
		if !ok {
			break
		}
		path = append(path, a)
		next := command{path: strings.Join(path, " "), env: slices.Clone(cur.env), required: slices.Clone(cur.required)}
		var err error
		if cur, err = m.describe(next, typ); err != nil {
			return cur, err
		}
	}
	if len(path) == 0 {
		return cur, fmt.Errorf("command %q does not start with a berth subcommand", args)
	}
	return cur, nil
}

func typeName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return typeName(e.X)
	}
	return fmt.Sprintf("%T", e)
}

// dashed is kong's default name for a field: MaxConns → max-conns.
func dashed(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
