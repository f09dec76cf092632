package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/berth-dev/berth"

// layer says which project packages the packages matching pkg may import
// directly. Patterns are relative to the module: "x" is that package, "x/..."
// is x and everything under it, "..." is everything. The most specific pattern
// matching an importing package decides; a package no pattern matches fails,
// so a new top-level directory has to be placed in the layout deliberately.
type layer struct {
	pkg string
	may []string // nil: a leaf, no project imports
	why string
}

var layers = []layer{
	{"workflows/...", []string{"workflows/..."}, "rule 1: workflows reach activities through workflows.Activities, never by import"},
	{"activities/...", []string{"workflows/...", "db/...", "provisioner", "metrics", "logctx", "tracing"}, "rule 2: activities → workflows, db, provisioner (and the metrics leaf)"},
	{"worker/...", []string{"workflows/...", "activities/...", "db", "provisioner", "metrics", "tracing"},
		"rule 2: worker → workflows, activities (db and provisioner only for the types worker.Options takes)"},
	{"api/...", []string{"api/...", "db/...", "workflows/...", "provisioner", "jobs", "lifecycle", "schedule", "metrics", "health", "logctx", "tracing"},
		"rule 2: api/... → api/*, db, workflows, the domain (jobs, lifecycle, schedule), the provisioner leaf for archive checks and the metrics and health leaves; never worker or activities"},
	{"metrics", nil, "observability: metrics is a leaf (Prometheus metric definitions; callers pass plain values)"},
	{"tracing", nil, "observability: tracing is a leaf (OpenTelemetry setup and trace-parent helpers)"},
	{"logctx", nil, "observability: logctx is a leaf (log attributes carried in a context)"},
	{"health", nil, "observability: health is a leaf (readiness checks are functions the caller wires)"},
	{"schedule", nil, "domain: schedule is a leaf (pure time rules: cron, deadlines, bumps)"},
	{"jobs", []string{"db", "workflows", "schedule", "tracing"}, "domain: jobs creates jobs on db, names their workflows (workflows) and dates builds (schedule)"},
	{"lifecycle", []string{"db", "jobs", "schedule"}, "domain: the lifecycle executor decides with schedule and builds through jobs"},
	{"api/sdk/...", nil, "rule 2: api/sdk is a leaf (wire types and client only)"},
	{"api/search/...", nil, "rule 2: api/search is a leaf (pure query grammars)"},
	{"db", nil, "rule 2: db is a leaf"},
	{"db/...", []string{"db"}, "rule 2: db subpackages (pubsub, migrations) build on db only"},
	{"provisioner", nil, "rule 2: provisioner is a leaf"},
	{"provisioner/...", []string{"provisioner"}, "rule 2: provisioners (echo, terraform) implement the provisioner interface only"},
	{"cmd/...", []string{"api/...", "activities/...", "db/...", "provisioner/...", "worker/...", "workflows/...", "jobs", "lifecycle", "schedule", "metrics", "health", "logctx", "tracing"},
		"rule 3: cmd wires everything, but never links the test helpers in internal/"},
	{"internal/...", []string{"..."}, "rule 3: the test helpers (testinfra, berthtest, e2e) wire everything"},
}

// neverReach lists packages (full import path patterns) that packages
// matching pkg must not depend on, not even transitively.
var neverReach = []struct {
	pkg  string
	deps []string
	why  string
}{
	{"workflows/...", []string{
		module + "/db/...", module + "/activities/...", module + "/api/...", module + "/worker/...", module + "/provisioner/...",
		"github.com/uptrace/bun/...", "github.com/jackc/pgx/...", "github.com/lib/pq/...",
	}, "rule 1: workflow code cannot reach the DB, activities or provisioners"},
	{"api/...", []string{module + "/worker/...", module + "/activities/..."}, "rule 2: api and worker never import each other"},
	{"schedule", []string{module + "/...", "github.com/uptrace/bun/...", "github.com/gin-gonic/...", "net/http"},
		"domain: schedule is pure: no project package, database or HTTP"},
	{"jobs", []string{module + "/api/...", module + "/worker/...", module + "/activities/...", module + "/provisioner/...", "github.com/gin-gonic/..."},
		"domain: jobs sits below the API and beside the worker; HTTP concerns stay in api"},
	{"lifecycle", []string{module + "/api/...", module + "/worker/...", module + "/activities/...", module + "/provisioner/...", "github.com/gin-gonic/..."},
		"domain: lifecycle sits below the API and beside the worker; HTTP concerns stay in api"},
	{"worker/...", []string{module + "/api/..."}, "rule 2: api and worker never import each other"},
}

// workflowsForbiddenStd are standard packages workflows must not import
// directly (go.temporal.io/sdk itself reaches os and net/http, so the
// transitive rule covers only project packages and database drivers).
var workflowsForbiddenStd = []string{"os", "os/...", "net", "net/http/...", "database/sql/...", "syscall"}

// badNames are package names that say nothing about their contents (rule 3).
var badNames = []string{"util", "utils", "common", "helpers", "models"}

type listedPackage struct {
	ImportPath string
	Name       string
	Standard   bool
	DepOnly    bool
	Imports    []string
	Deps       []string
	Error      *struct{ Err string }
}

// match reports whether path matches pattern, where "x/..." matches x and
// everything under it and "..." matches everything.
func match(pattern, path string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, path) })
}

// rel returns a project import path relative to the module ("" for the root).
func rel(importPath string) (string, bool) {
	if importPath == module {
		return "", true
	}
	r, ok := strings.CutPrefix(importPath, module+"/")
	return r, ok
}

// layerFor returns the most specific layer whose pattern matches pkg.
func layerFor(pkg string) (layer, bool) {
	best, bestScore := layer{}, -1
	for _, l := range layers {
		if !match(l.pkg, pkg) {
			continue
		}
		base, wildcard := strings.CutSuffix(l.pkg, "/...")
		score := 2 * len(base)
		if !wildcard {
			score++
		}
		if score > bestScore {
			best, bestScore = l, score
		}
	}
	return best, bestScore >= 0
}

func goCmd(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go %s\n%s", strings.Join(args, " "), stderr.String())
	return out
}

// loadPackages lists the module's packages and all their dependencies.
func loadPackages(t *testing.T) (project []*listedPackage, std map[string]bool) {
	t.Helper()
	out := goCmd(t, ".", "list", "-deps", "-json", module+"/...")
	std = map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "decode go list output")
		if p.Error != nil {
			t.Errorf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		if p.Standard {
			std[p.ImportPath] = true
		}
		if _, ok := rel(p.ImportPath); ok && !p.DepOnly {
			project = append(project, &p)
		}
	}
	require.NotEmpty(t, project, "go list found no packages of %s", module)
	return project, std
}

func TestImportRules(t *testing.T) {
	t.Parallel()
	project, std := loadPackages(t)

	t.Run("layers", func(t *testing.T) {
		t.Parallel()
		for _, p := range project {
			r, _ := rel(p.ImportPath)
			l, ok := layerFor(r)
			if !ok {
				t.Errorf("%s: no rule in internal/archtest places this package in the layout of STYLE.md §2; add one", p.ImportPath)
				continue
			}
			for _, imp := range p.Imports {
				if ir, ok := rel(imp); ok && !matchAny(l.may, ir) {
					t.Errorf("%s imports %s: not allowed (%s)", p.ImportPath, imp, l.why)
				}
			}
		}
	})

	t.Run("never reach", func(t *testing.T) {
		t.Parallel()
		for _, p := range project {
			r, _ := rel(p.ImportPath)
			for _, rule := range neverReach {
				if !match(rule.pkg, r) {
					continue
				}
				for _, forbidden := range rule.deps {
					var hits []string
					for _, dep := range p.Deps {
						if match(forbidden, dep) {
							hits = append(hits, dep)
						}
					}
					if len(hits) > 3 {
						hits = append(hits[:3], fmt.Sprintf("and %d more", len(hits)-3))
					}
					if len(hits) > 0 {
						t.Errorf("%s depends on %s, directly or transitively (%s)", p.ImportPath, strings.Join(hits, ", "), rule.why)
					}
				}
			}
		}
	})

	t.Run("workflows imports", func(t *testing.T) {
		t.Parallel()
		for _, p := range project {
			if r, _ := rel(p.ImportPath); !match("workflows/...", r) {
				continue
			}
			for _, imp := range p.Imports {
				switch {
				case std[imp] && matchAny(workflowsForbiddenStd, imp):
					t.Errorf("%s imports %s: workflows never do I/O (STYLE.md §2 rule 1)", p.ImportPath, imp)
				case std[imp], match("go.temporal.io/...", imp), imp == "github.com/google/uuid":
				case strings.HasPrefix(imp, module+"/"): // checked by layers
				default:
					t.Errorf("%s imports %s: workflows import only the stdlib, go.temporal.io/... and google/uuid (STYLE.md §2 rule 1)", p.ImportPath, imp)
				}
			}
		}
	})

	t.Run("bun stays in db", func(t *testing.T) {
		t.Parallel()
		for _, p := range project {
			r, _ := rel(p.ImportPath)
			if matchAny([]string{"db/...", "cmd/...", "internal/..."}, r) {
				continue
			}
			for _, imp := range p.Imports {
				if match("github.com/uptrace/bun/...", imp) {
					t.Errorf("%s imports %s: only db (models, Store), cmd and the test helpers use bun; go through db.Store", p.ImportPath, imp)
				}
			}
		}
	})

	t.Run("package names", func(t *testing.T) {
		t.Parallel()
		for _, p := range project {
			if slices.Contains(badNames, p.Name) || slices.Contains(badNames, path.Base(p.ImportPath)) {
				t.Errorf("%s (package %s): name packages for what they contain; no %s (STYLE.md §2 rule 3)",
					p.ImportPath, p.Name, strings.Join(badNames, "/"))
			}
		}
	})
}

// TestLayers checks the rule table itself, so that a typo in a pattern
// cannot quietly allow everything.
func TestLayers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pkg, want string
	}{
		{"workflows", "workflows/..."},
		{"db", "db"},
		{"db/pubsub", "db/..."},
		{"api", "api/..."},
		{"api/sdk", "api/sdk/..."},
		{"api/httpmw", "api/..."},
		{"provisioner", "provisioner"},
		{"provisioner/echo", "provisioner/..."},
		{"cmd/berth", "cmd/..."},
		{"schedule", "schedule"},
		{"jobs", "jobs"},
		{"lifecycle", "lifecycle"},
		{"internal/testinfra", "internal/..."},
	} {
		l, ok := layerFor(tc.pkg)
		require.True(t, ok, tc.pkg)
		require.Equal(t, tc.want, l.pkg, tc.pkg)
	}
	_, ok := layerFor("util")
	require.False(t, ok, "an unplaced top-level package must have no layer")
	require.False(t, matchAny([]string{"api/..."}, "apiary"))
	require.True(t, matchAny(workflowsForbiddenStd, "net/http/httptest"))
	require.False(t, matchAny(workflowsForbiddenStd, "net/url"))
}

type goMod struct {
	Module  struct{ Path string }
	Require []struct{ Path, Version string }
	Replace []struct{ Old, New struct{ Path string } }
	Tool    []struct{ Path string }
}

// checkCoderCLIModule: tools/coder builds only the coder CLI, at v2.30.
func checkCoderCLIModule(t *testing.T, f string, m goMod) {
	t.Helper()
	require.Len(t, m.Tool, 1, f)
	require.Equal(t, "github.com/coder/coder/v2/cmd/coder", m.Tool[0].Path, f)
	for _, r := range m.Require {
		if r.Path == "github.com/coder/coder/v2" {
			require.True(t, strings.HasPrefix(r.Version, "v2.30."), "%s pins %s %s, want v2.30.x", f, r.Path, r.Version)
			return
		}
	}
	t.Errorf("%s does not require github.com/coder/coder/v2", f)
}

// TestNoCoder: Coder is AGPL; neither the product nor the tools may depend
// on it (STYLE.md §2 rule 4). coder/websocket and coder/quartz are fine.
// The one exception is tools/coder, which only builds the unmodified coder
// CLI into bin/coder for internal/clitest to execute: it must pin
// github.com/coder/coder/v2 at v2.30 and build nothing but cmd/coder.
func TestNoCoder(t *testing.T) {
	t.Parallel()
	gomod := strings.TrimSpace(string(goCmd(t, ".", "env", "GOMOD")))
	require.NotEmpty(t, gomod)
	root := filepath.Dir(gomod)
	files, err := filepath.Glob(filepath.Join(root, "tools", "*", "go.mod"))
	require.NoError(t, err)
	files = append([]string{gomod}, files...)

	coder := func(p string) bool { return match("github.com/coder/coder/...", p) }
	cliMod := filepath.Join(root, "tools", "coder", "go.mod")
	for _, f := range files {
		var m goMod
		require.NoError(t, json.Unmarshal(goCmd(t, root, "mod", "edit", "-json", f), &m), f)
		if f == cliMod {
			checkCoderCLIModule(t, f, m)
			continue
		}
		for _, r := range m.Require {
			if coder(r.Path) {
				t.Errorf("%s requires %s (AGPL; STYLE.md §2 rule 4)", f, r.Path)
			}
		}
		for _, r := range m.Replace {
			if coder(r.Old.Path) || coder(r.New.Path) {
				t.Errorf("%s replaces %s => %s (AGPL; STYLE.md §2 rule 4)", f, r.Old.Path, r.New.Path)
			}
		}
	}
	for _, p := range strings.Fields(string(goCmd(t, root, "list", "-m", "-f", "{{.Path}}", "all"))) {
		if coder(p) {
			t.Errorf("the module graph of %s contains %s (AGPL; STYLE.md §2 rule 4)", module, p)
		}
	}
}
