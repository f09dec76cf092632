package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"github.com/berth-dev/berth/provisioner"
)

// run runs one terraform command in dir and sends what it prints to sink.
// With jsonOut, stdout is Terraform's machine-readable UI (-json): each
// line's @message is logged at its @level, with a diagnostic's detail
// under it. Other stdout lines are info, stderr lines are error.
//
// When ctx ends, Terraform gets SIGINT and, if it has not exited after the
// grace period, SIGKILL (with its whole process group); run then returns
// ctx's error. A non-zero exit is a *provisioner.JobError whose message is
// the last error diagnostic, or "terraform <cmd>: exit status N".
func (p *Provisioner) run(ctx context.Context, dir string, env []string, sink provisioner.Sink, jsonOut bool, args ...string) error {
	if err := p.own(dir); err != nil {
		return err
	}
	cmd := p.command(ctx, dir, env, args)
	var (
		mu      sync.Mutex // stdout and stderr are copied by two goroutines
		lastErr string
	)
	log := func(level, output string) {
		mu.Lock()
		defer mu.Unlock()
		sink.Log(provisioner.Log{Level: level, Output: output})
	}
	stdout := &lineWriter{fn: func(line string) {
		if !jsonOut {
			log(provisioner.LevelInfo, line)
			return
		}
		var msg uiMessage
		if err := json.Unmarshal([]byte(line), &msg); err != nil || msg.Message == "" && msg.Type == "" {
			log(provisioner.LevelInfo, line)
			return
		}
		level := convertLevel(msg.Level)
		log(level, strings.TrimSpace(msg.Message))
		if d := msg.Diagnostic; d != nil {
			if d.Detail != "" {
				log(level, d.Detail)
			}
			if d.Severity == "error" {
				mu.Lock()
				lastErr = d.Summary
				if d.Detail != "" {
					lastErr += ": " + d.Detail
				}
				mu.Unlock()
			}
		}
	}}
	// Without -json, Terraform prints diagnostics to stderr as
	// "Error: <summary>", a blank line, then the detail paragraph.
	var diag *humanDiag
	stderr := &lineWriter{fn: func(line string) {
		log(provisioner.LevelError, line)
		mu.Lock()
		defer mu.Unlock()
		if summary, ok := strings.CutPrefix(line, "Error: "); ok {
			diag = &humanDiag{summary: summary}
		} else if diag != nil {
			diag.add(line)
		}
	}}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	err := cmd.Run()
	if cmd.Process != nil {
		// Whatever Terraform left running in its group goes too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	stdout.Flush()
	stderr.Flush()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		return nil
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return fmt.Errorf("run terraform %s: %w", args[0], err)
	}
	mu.Lock()
	defer mu.Unlock()
	if lastErr == "" && diag != nil {
		lastErr = diag.String()
	}
	if lastErr != "" {
		return &provisioner.JobError{Message: lastErr}
	}
	return &provisioner.JobError{Message: fmt.Sprintf("terraform %s: %v", args[0], err)}
}

// command prepares a terraform command: when ctx ends it gets SIGINT, and
// SIGKILL if it is still running after the grace period.
func (p *Provisioner) command(ctx context.Context, dir string, env, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, p.binary, args...)
	cmd.Dir = dir
	cmd.Env = env
	// Its own process group: a Ctrl-C meant for the worker does not reach
	// Terraform directly (the worker decides), and a hard kill takes the
	// plugins and local-exec children with it.
	cmd.SysProcAttr = sysProcAttr()
	if p.user != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: p.user.UID, Gid: p.user.GID, NoSetGroups: true}
		// Its home is the job directory, not the worker's.
		cmd.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)], "HOME="+dir)
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = p.grace
	return cmd
}

// output runs a command whose stdout is data (show -json), logging only
// its stderr.
func (p *Provisioner) output(ctx context.Context, dir string, env []string, sink provisioner.Sink, args ...string) ([]byte, error) {
	if err := p.own(dir); err != nil {
		return nil, err
	}
	cmd := p.command(ctx, dir, env, args)
	var out bytes.Buffer
	stderr := &lineWriter{fn: func(line string) { sink.Log(provisioner.Log{Level: provisioner.LevelError, Output: line}) }}
	cmd.Stdout, cmd.Stderr = &out, stderr
	err := cmd.Run()
	stderr.Flush()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return nil, &provisioner.JobError{Message: fmt.Sprintf("terraform %s: %v", args[0], err)}
	}
	if err != nil {
		return nil, fmt.Errorf("run terraform %s: %w", args[0], err)
	}
	return out.Bytes(), nil
}

// humanDiag is an error diagnostic read from Terraform's human-readable
// stderr: the summary and the first paragraph of its detail.
type humanDiag struct {
	summary string
	detail  []string
	done    bool
}

func (d *humanDiag) add(line string) {
	line = strings.TrimSpace(line)
	switch {
	case d.done:
	case line == "" && len(d.detail) > 0:
		d.done = true
	case line != "":
		d.detail = append(d.detail, line)
	}
}

func (d *humanDiag) String() string {
	if len(d.detail) == 0 {
		return d.summary
	}
	return d.summary + ": " + strings.Join(d.detail, " ")
}

// uiMessage is one line of Terraform's -json output.
type uiMessage struct {
	Level      string `json:"@level"`
	Message    string `json:"@message"`
	Type       string `json:"type"`
	Diagnostic *struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
	} `json:"diagnostic"`
}

func convertLevel(l string) string {
	switch l {
	case "trace":
		return provisioner.LevelTrace
	case "debug":
		return provisioner.LevelDebug
	case "warn":
		return provisioner.LevelWarn
	case "error":
		return provisioner.LevelError
	}
	return provisioner.LevelInfo
}

// lineWriter calls fn for every complete line written to it; Flush sends
// a last unterminated line. Very long lines are cut at maxLine.
type lineWriter struct {
	fn  func(string)
	buf []byte
}

const maxLine = 64 << 10

func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.buf = append(w.buf, b...)
			if len(w.buf) >= maxLine {
				w.emit()
			}
			break
		}
		w.buf = append(w.buf, b[:i]...)
		w.emit()
		b = b[i+1:]
	}
	return n, nil
}

func (w *lineWriter) emit() {
	line := strings.TrimRight(string(w.buf), "\r")
	w.buf = w.buf[:0]
	w.fn(line)
}

// Flush sends what remains of an unterminated last line.
func (w *lineWriter) Flush() {
	if len(w.buf) > 0 {
		w.emit()
	}
}
