package echo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/berth-dev/berth/provisioner"
)

// Field numbers of the Response oneof. The completions double as the kinds
// of operation.
const (
	respLog   protowire.Number = 1
	respParse protowire.Number = 2
	respInit  protowire.Number = 3
	respPlan  protowire.Number = 4
	respApply protowire.Number = 5
	respGraph protowire.Number = 6
)

func opName(kind protowire.Number) string {
	switch kind {
	case respParse:
		return "parse"
	case respInit:
		return "init"
	case respPlan:
		return "plan"
	case respApply:
		return "apply"
	case respGraph:
		return "graph"
	}
	return "op" + strconv.Itoa(int(kind))
}

// fileTransition spells transition t as the response files do.
func fileTransition(t string) string {
	if t == provisioner.TransitionDelete {
		return "destroy"
	}
	return t
}

func jobErrorf(format string, args ...any) error {
	return &provisioner.JobError{Message: fmt.Sprintf(format, args...)}
}

// completionError turns a completion's error text into the job's failure.
func completionError(msg string) error {
	if msg == "" {
		return nil
	}
	return &provisioner.JobError{Message: msg}
}

// replay plays the responses of the operation kind, for transition t ("" to
// read generic files only): log responses become lines, and the first
// completion of that kind ends the operation, its body returned. Without
// one, replay blocks until ctx ends.
func replay(ctx context.Context, dir string, kind protowire.Number, t string, sink provisioner.Sink) ([]byte, error) {
	op := opName(kind)
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name, data, err := readResponse(dir, i, op, t)
		if errors.Is(err, fs.ErrNotExist) {
			if i == 0 {
				return nil, jobErrorf("echo: no %s responses", op)
			}
			break
		}
		if err != nil {
			return nil, err
		}
		num, body, err := decodeResponse(data)
		if err != nil {
			return nil, jobErrorf("echo: decode %s: %v", name, err)
		}
		switch num {
		case respLog:
			l, err := decodeLog(body)
			if err != nil {
				return nil, jobErrorf("echo: decode %s: %v", name, err)
			}
			sink.Log(l)
		case kind:
			return body, nil
		}
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// readResponse reads response i of op: the transition's file if there is
// one, else the generic file.
func readResponse(dir string, i int, op, t string) (name string, data []byte, err error) {
	names := []string{fmt.Sprintf("%d.%s.protobuf", i, op)}
	if t != "" {
		names = append([]string{fmt.Sprintf("%d.%s.%s.protobuf", i, fileTransition(t), op)}, names...)
	}
	for _, name = range names {
		data, err = os.ReadFile(filepath.Join(dir, name))
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("read response: %w", err)
	}
	return name, data, err
}

func replayInit(ctx context.Context, dir string, sink provisioner.Sink) error {
	body, err := replay(ctx, dir, respInit, "", sink)
	if err != nil {
		return err
	}
	msg, err := decodeErrorOnly(body)
	if err != nil {
		return jobErrorf("echo: decode init completion: %v", err)
	}
	return completionError(msg)
}

func replayParse(ctx context.Context, dir string, sink provisioner.Sink) (*provisioner.ParseResult, error) {
	body, err := replay(ctx, dir, respParse, "", sink)
	if err != nil {
		return nil, err
	}
	res, msg, err := decodeParse(body)
	if err != nil {
		return nil, jobErrorf("echo: decode parse completion: %v", err)
	}
	if err := completionError(msg); err != nil {
		return nil, err
	}
	return res, nil
}

// replayPlan plays the plan, then the graph that yields its results.
func replayPlan(ctx context.Context, dir, t string, sink provisioner.Sink) (*provisioner.PlanResult, error) {
	body, err := replay(ctx, dir, respPlan, t, sink)
	if err != nil {
		return nil, err
	}
	msg, err := decodeErrorOnly(body)
	if err != nil {
		return nil, jobErrorf("echo: decode plan completion: %v", err)
	}
	if err := completionError(msg); err != nil {
		return nil, err
	}
	return replayGraph(ctx, dir, t, sink)
}

// replayApply plays the apply, which yields the state, then the graph, which
// yields the resources.
func replayApply(ctx context.Context, dir, t string, sink provisioner.Sink) (*provisioner.ApplyResult, error) {
	body, err := replay(ctx, dir, respApply, t, sink)
	if err != nil {
		return nil, err
	}
	state, msg, err := decodeApply(body)
	if err != nil {
		return nil, jobErrorf("echo: decode apply completion: %v", err)
	}
	if err := completionError(msg); err != nil {
		return nil, err
	}
	graph, err := replayGraph(ctx, dir, t, sink)
	if err != nil {
		return nil, err
	}
	return &provisioner.ApplyResult{State: state, Resources: graph.Resources}, nil
}

func replayGraph(ctx context.Context, dir, t string, sink provisioner.Sink) (*provisioner.PlanResult, error) {
	body, err := replay(ctx, dir, respGraph, t, sink)
	if err != nil {
		return nil, err
	}
	res, msg, err := decodeGraph(body)
	if err != nil {
		return nil, jobErrorf("echo: decode graph completion: %v", err)
	}
	if err := completionError(msg); err != nil {
		return nil, err
	}
	return res, nil
}
