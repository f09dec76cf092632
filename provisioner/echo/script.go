package echo

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/provisioner"
)

// script is the content of echo.json.
type script struct {
	Version       int                                `json:"version"`
	Readme        string                             `json:"readme"`
	Variables     []provisioner.Variable             `json:"variables"`
	Parameters    []provisioner.RichParameter        `json:"parameters"`
	ExternalAuth  []provisioner.ExternalAuthProvider `json:"external_auth"`
	Presets       []provisioner.Preset               `json:"presets"`
	WorkspaceTags map[string]string                  `json:"workspace_tags"`
	Resources     []scriptResource                   `json:"resources"`
	Steps         map[string]*step                   `json:"steps"`
}

// scriptResource is a resource and the transitions that report it
// (["start"] when absent).
type scriptResource struct {
	provisioner.Resource
	Transitions []string `json:"transitions"`
}

// step scripts one plan, apply or parse.
type step struct {
	Logs    []logLine `json:"logs"`
	DelayMS int64     `json:"delay_ms"` // sleep before the outcome
	// Outcome is succeed (the default), fail, hang or stall.
	Outcome   string `json:"outcome"`
	Error     string `json:"error"`
	ErrorCode string `json:"error_code"`
	// Resources, when present, replaces the step's resource selection.
	Resources *[]provisioner.Resource `json:"resources"`
	// State, when present, is an apply's new state.
	State *string `json:"state"`
}

// logLine is one scripted line, written Repeat times (at least once), each
// after a sleep of DelayMS.
type logLine struct {
	Level   string `json:"level"`
	Output  string `json:"output"`
	DelayMS int64  `json:"delay_ms"`
	Repeat  int    `json:"repeat"`
}

const (
	outcomeSucceed = "succeed"
	outcomeFail    = "fail"
	outcomeHang    = "hang"
	outcomeStall   = "stall"
)

func parseScript(data []byte) (*script, error) {
	var s script
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&s)
	if err == nil {
		err = s.validate()
	}
	if err == nil && !errors.Is(dec.Decode(new(json.RawMessage)), io.EOF) {
		err = errors.New("unexpected data after the top-level object")
	}
	if err != nil {
		return nil, &provisioner.JobError{Message: "echo: invalid echo.json: " + err.Error()}
	}
	return &s, nil
}

func (s *script) validate() error {
	if s.Version != 1 {
		return fmt.Errorf("version must be 1, not %d", s.Version)
	}
	for _, r := range s.Resources {
		for _, t := range r.Transitions {
			if checkTransition(t) != nil {
				return fmt.Errorf("resource %q: unknown transition %q", r.Name, t)
			}
		}
	}
	for key, st := range s.Steps {
		if !validStepKey(key) {
			return fmt.Errorf("unknown step %q (want parse, plan, apply, plan:<transition> or apply:<transition>)", key)
		}
		if err := st.validate(); err != nil {
			return fmt.Errorf("step %q: %w", key, err)
		}
	}
	return nil
}

func validStepKey(key string) bool {
	op, t, found := strings.Cut(key, ":")
	switch op {
	case "parse":
		return !found
	case "plan", "apply":
		return !found || checkTransition(t) == nil
	}
	return false
}

func (st *step) validate() error {
	if st == nil {
		return nil
	}
	switch st.Outcome {
	case "", outcomeSucceed, outcomeFail, outcomeHang, outcomeStall:
	default:
		return fmt.Errorf("unknown outcome %q", st.Outcome)
	}
	switch st.ErrorCode {
	case "", "REQUIRED_TEMPLATE_VARIABLES", "MISSING_TEMPLATE_PARAMETER":
	default:
		return fmt.Errorf("unknown error_code %q", st.ErrorCode)
	}
	if st.DelayMS < 0 {
		return errors.New("negative delay_ms")
	}
	for i, l := range st.Logs {
		switch l.Level {
		case "", provisioner.LevelTrace, provisioner.LevelDebug, provisioner.LevelInfo,
			provisioner.LevelWarn, provisioner.LevelError:
		default:
			return fmt.Errorf("logs[%d]: unknown level %q", i, l.Level)
		}
		if l.DelayMS < 0 || l.Repeat < 0 {
			return fmt.Errorf("logs[%d]: negative delay_ms or repeat", i)
		}
	}
	return nil
}

// step finds the step for op and transition t: "<op>:<t>", else "<op>".
// It returns nil when neither exists.
func (s *script) step(op, t string) *step {
	if st, ok := s.Steps[op+":"+t]; ok && t != "" {
		return st
	}
	return s.Steps[op]
}

func (s *script) parse(ctx context.Context, sink provisioner.Sink) (*provisioner.ParseResult, error) {
	if err := s.step("parse", "").run(ctx, env{}, sink); err != nil {
		return nil, err
	}
	return &provisioner.ParseResult{
		Variables:     s.Variables,
		Readme:        s.Readme,
		WorkspaceTags: s.WorkspaceTags,
	}, nil
}

func (s *script) plan(ctx context.Context, in provisioner.PlanInput, sink provisioner.Sink) (*provisioner.PlanResult, error) {
	e := newEnv(in)
	st := s.step("plan", in.Transition)
	if err := st.run(ctx, e, sink); err != nil {
		return nil, err
	}
	resources := s.resources(in.Transition, e)
	if st != nil && st.Resources != nil {
		resources = e.resources(*st.Resources)
	}
	return &provisioner.PlanResult{
		Resources:    resources,
		Parameters:   s.Parameters,
		ExternalAuth: s.ExternalAuth,
		Presets:      s.Presets,
	}, nil
}

func (s *script) apply(ctx context.Context, in provisioner.PlanInput, sink provisioner.Sink) (*provisioner.ApplyResult, error) {
	e := newEnv(in)
	st := s.step("apply", in.Transition)
	played := resumedLines(in.Resume)
	if played > 0 {
		sink.Log(provisioner.Log{Level: provisioner.LevelInfo, Output: fmt.Sprintf("echo: resuming after line %d", played)})
	}
	report := func(lines int) {
		provisioner.ReportCheckpoint(sink, provisioner.Checkpoint{Position: encodePosition(lines)})
	}
	if err := st.play(ctx, e, sink, played, report); err != nil {
		return nil, err
	}
	res := &provisioner.ApplyResult{State: in.State}
	switch {
	case st != nil && st.Resources != nil:
		res.Resources = e.resources(*st.Resources)
	case in.Transition != provisioner.TransitionDelete:
		res.Resources = s.resources(in.Transition, e)
	}
	if st != nil && st.State != nil {
		res.State = []byte(*st.State)
	}
	return res, nil
}

// resources returns the script's resources that list transition t.
func (s *script) resources(t string, e env) []provisioner.Resource {
	var out []provisioner.Resource
	for _, r := range s.Resources {
		transitions := r.Transitions
		if transitions == nil {
			transitions = []string{provisioner.TransitionStart}
		}
		if slices.Contains(transitions, t) {
			out = append(out, e.resource(r.Resource))
		}
	}
	return out
}

// run plays the step: its logs, its delay, then its outcome. A nil step
// succeeds at once.
func (st *step) run(ctx context.Context, e env, sink provisioner.Sink) error {
	return st.play(ctx, e, sink, 0, nil)
}

// play is run resumed after the first skip lines (and their delays),
// calling played with the number of lines played so far after each one.
func (st *step) play(ctx context.Context, e env, sink provisioner.Sink, skip int, played func(lines int)) error {
	if st == nil {
		return ctx.Err()
	}
	n := 0
	for _, l := range st.Logs {
		for range max(l.Repeat, 1) {
			if n++; n <= skip {
				continue
			}
			if err := sleep(ctx, l.DelayMS); err != nil {
				return err
			}
			sink.Log(provisioner.Log{
				Level:  cmp.Or(l.Level, provisioner.LevelInfo),
				Output: e.expand(l.Output),
			})
			if played != nil {
				played(n)
			}
		}
	}
	if err := sleep(ctx, st.DelayMS); err != nil {
		return err
	}
	switch st.Outcome {
	case outcomeFail:
		return &provisioner.JobError{
			Message: e.expand(cmp.Or(st.Error, "echo: scripted failure")),
			Code:    st.ErrorCode,
		}
	case outcomeStall:
		sink.Stall()
		<-ctx.Done()
		return ctx.Err()
	case outcomeHang:
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// sleep waits ms milliseconds, or less if ctx ends first. It returns
// ctx.Err() either way.
func sleep(ctx context.Context, ms int64) error {
	if ms <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return ctx.Err()
}

// env holds the values of the placeholders.
type env struct {
	workspaceName string
	transition    string
	params        map[string]string
	vars          map[string]string
}

func newEnv(in provisioner.PlanInput) env {
	return env{
		workspaceName: in.Workspace.WorkspaceName,
		transition:    in.Transition,
		params:        in.Parameters,
		vars:          in.Variables,
	}
}

// expand replaces ${workspace_name}, ${transition}, ${param:NAME} and
// ${var:NAME} in text. A value that is not known expands to "". Other
// ${...} sequences are left alone.
func (e env) expand(text string) string {
	var b strings.Builder
	for {
		start := strings.Index(text, "${")
		if start < 0 {
			break
		}
		end := strings.IndexByte(text[start:], '}')
		if end < 0 {
			break
		}
		end += start
		val, ok := e.lookup(text[start+2 : end])
		if !ok {
			b.WriteString(text[:start+2])
			text = text[start+2:]
			continue
		}
		b.WriteString(text[:start])
		b.WriteString(val)
		text = text[end+1:]
	}
	b.WriteString(text)
	return b.String()
}

func (e env) lookup(key string) (string, bool) {
	switch {
	case key == "workspace_name":
		return e.workspaceName, true
	case key == "transition":
		return e.transition, true
	}
	if name, ok := strings.CutPrefix(key, "param:"); ok {
		return e.params[name], true
	}
	if name, ok := strings.CutPrefix(key, "var:"); ok {
		return e.vars[name], true
	}
	return "", false
}

// resource returns a copy of r with its metadata values expanded.
func (e env) resource(r provisioner.Resource) provisioner.Resource {
	r.Metadata = slices.Clone(r.Metadata)
	for i := range r.Metadata {
		r.Metadata[i].Value = e.expand(r.Metadata[i].Value)
	}
	r.Agents = slices.Clone(r.Agents)
	return r
}

func (e env) resources(rs []provisioner.Resource) []provisioner.Resource {
	out := make([]provisioner.Resource, 0, len(rs))
	for _, r := range rs {
		out = append(out, e.resource(r))
	}
	return out
}

// position is an echo apply's checkpoint: how many of its lines it played.
type position struct {
	Lines int `json:"lines"`
}

func encodePosition(lines int) []byte {
	b, _ := json.Marshal(position{Lines: lines})
	return b
}

// resumedLines is how many lines of the apply a resumed build had played.
func resumedLines(cp *provisioner.Checkpoint) int {
	if cp == nil || len(cp.Position) == 0 {
		return 0
	}
	var p position
	if err := json.Unmarshal(cp.Position, &p); err != nil || p.Lines < 0 {
		return 0
	}
	return p.Lines
}
