package terraform_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/provisioner"
)

// checkpointSink records checkpoints as the worker's sink does.
type checkpointSink struct {
	sink
	cmu sync.Mutex
	cps []provisioner.Checkpoint
}

func (s *checkpointSink) Checkpoint(cp provisioner.Checkpoint) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.cps = append(s.cps, cp)
}

func (s *checkpointSink) last() (provisioner.Checkpoint, int) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if len(s.cps) == 0 {
		return provisioner.Checkpoint{}, 0
	}
	return s.cps[len(s.cps)-1], len(s.cps)
}

// TestApplyCheckpointsAndResumes: while an apply runs, each state
// Terraform persists is reported (complete, never half-written); an apply
// interrupted at the gate resumes in a fresh directory from the last
// checkpoint, creating only what is missing, and ends with every resource
// exactly once.
func TestApplyCheckpointsAndResumes(t *testing.T) {
	t.Parallel()
	p := newProvisioner(t, 10*time.Second)
	gate := filepath.Join(t.TempDir(), "gate")
	in := provisioner.PlanInput{Transition: "start", Workspace: meta(), Variables: map[string]string{"gate": gate}}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := jobDir(t, "resumable")
	s := &checkpointSink{}
	require.NoError(t, p.Init(ctx, dir, s))
	_, err := p.Plan(ctx, dir, in, s)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := p.Apply(ctx, dir, in, s)
		done <- err
	}()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		assert.True(ct, s.has(provisioner.LevelInfo, "(local-exec): gated step started"))
		cp, _ := s.last()
		if assert.NotNil(ct, cp.State) {
			assert.ElementsMatch(ct, []string{"terraform_data.one", "terraform_data.two"}, stateAddresses(t, cp.State))
		}
	}, time.Minute, 20*time.Millisecond)
	cp, _ := s.last()
	s.cmu.Lock()
	for _, c := range s.cps {
		stateAddresses(t, c.State) // every checkpoint is a complete state
	}
	s.cmu.Unlock()
	// The worker is lost here: its apply stops, and only the checkpoint
	// survives it.
	cancel()
	<-done

	require.NoError(t, os.WriteFile(gate, nil, 0o600))
	resumed := in
	resumed.Resume = &cp
	dir2 := jobDir(t, "resumable")
	s2 := &checkpointSink{}
	bg := context.Background()
	require.NoError(t, p.Init(bg, dir2, s2))
	_, err = p.Plan(bg, dir2, resumed, s2)
	require.NoError(t, err)
	assert.True(t, s2.has(provisioner.LevelInfo, "Plan: 3 to add, 0 to change, 0 to destroy."), "only what is missing is planned")
	res, err := p.Apply(bg, dir2, resumed, s2)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"terraform_data.one", "terraform_data.two", "terraform_data.gated",
		"terraform_data.three", "terraform_data.four"}, stateAddresses(t, res.State), "each resource once")
}
