// Package echo implements the echo provisioner: it replays a script found in
// the template archive and never touches infrastructure. It reads two
// formats, tried in this order: this project's echo.json, and the
// <i>.<op>.protobuf responses written by Coder's echo.Tar test helper.
package echo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/provisioner"
)

// Provisioner is the echo provisioner. It holds no state; every call reads
// the archive in its directory.
type Provisioner struct{}

var _ provisioner.Provisioner = (*Provisioner)(nil)

// ResumesApply implements provisioner.Resumer: an echo.json apply reports
// how many lines it played, and a resumed one skips them (a protobuf
// replay plays again from the start: it touches nothing).
func (*Provisioner) ResumesApply() string {
	return "echo skips the lines it had already played"
}

// New returns an echo provisioner.
func New() *Provisioner { return &Provisioner{} }

// scriptFile is the name of the echo.json script at the archive root.
const scriptFile = "echo.json"

// load reads the archive in dir: the parsed script if it holds echo.json,
// or nil if it holds protobuf responses.
func load(dir string) (*script, error) {
	data, err := os.ReadFile(filepath.Join(dir, scriptFile))
	if err == nil {
		return parseScript(data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", scriptFile, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read template directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".protobuf") {
			return nil, nil
		}
	}
	return nil, &provisioner.JobError{Message: "echo: archive has neither echo.json nor *.protobuf responses"}
}

// Init checks the archive. For echo.json it does nothing more; for protobuf
// responses it replays the init responses.
func (*Provisioner) Init(ctx context.Context, dir string, sink provisioner.Sink) error {
	s, err := load(dir)
	if err != nil {
		return err
	}
	if s != nil {
		return ctx.Err()
	}
	return replayInit(ctx, dir, sink)
}

// Parse runs the "parse" step and reports the template's variables, README
// and workspace tags.
func (*Provisioner) Parse(ctx context.Context, dir string, sink provisioner.Sink) (*provisioner.ParseResult, error) {
	s, err := load(dir)
	if err != nil {
		return nil, err
	}
	if s != nil {
		return s.parse(ctx, sink)
	}
	return replayParse(ctx, dir, sink)
}

// Plan runs the plan for in.Transition and reports the resources, rich
// parameters and external auth providers.
func (*Provisioner) Plan(ctx context.Context, dir string, in provisioner.PlanInput, sink provisioner.Sink) (*provisioner.PlanResult, error) {
	if err := checkTransition(in.Transition); err != nil {
		return nil, err
	}
	s, err := load(dir)
	if err != nil {
		return nil, err
	}
	if s != nil {
		return s.plan(ctx, in, sink)
	}
	return replayPlan(ctx, dir, in.Transition, sink)
}

// Apply runs the apply for in.Transition and reports the new state and the
// resources.
func (*Provisioner) Apply(ctx context.Context, dir string, in provisioner.PlanInput, sink provisioner.Sink) (*provisioner.ApplyResult, error) {
	if err := checkTransition(in.Transition); err != nil {
		return nil, err
	}
	s, err := load(dir)
	if err != nil {
		return nil, err
	}
	if s != nil {
		return s.apply(ctx, in, sink)
	}
	return replayApply(ctx, dir, in.Transition, sink)
}

func checkTransition(t string) error {
	switch t {
	case provisioner.TransitionStart, provisioner.TransitionStop, provisioner.TransitionDelete:
		return nil
	}
	return fmt.Errorf("echo: unknown transition %q", t)
}
