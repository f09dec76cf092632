package echo_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/echo"
)

type checkpointSink struct {
	*sink
	mu  sync.Mutex
	cps []string
}

func (s *checkpointSink) Checkpoint(cp provisioner.Checkpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cps = append(s.cps, string(cp.Position))
}

// TestApplyCheckpointsAndResumes: an echo apply reports its position after
// each line, and one resumed from a position plays only the rest.
func TestApplyCheckpointsAndResumes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const spec = `{"version":1,"steps":{"apply:start":{"logs":[{"output":"a"},{"output":"b","repeat":2},{"output":"c"}],"state":"up"}}}`
	dir := jsonDir(t, spec)
	p := echo.New()
	var _ provisioner.Resumer = p
	in := provisioner.PlanInput{Transition: "start"}

	s := &checkpointSink{sink: newSink()}
	res, err := p.Apply(ctx, dir, in, s)
	require.NoError(t, err)
	require.Equal(t, "up", string(res.State))
	require.Equal(t, []string{`{"lines":1}`, `{"lines":2}`, `{"lines":3}`, `{"lines":4}`}, s.cps)

	in.Resume = &provisioner.Checkpoint{Position: []byte(`{"lines":2}`)}
	s = &checkpointSink{sink: newSink()}
	res, err = p.Apply(ctx, dir, in, s)
	require.NoError(t, err)
	require.Equal(t, "up", string(res.State))
	var out []string
	for _, l := range s.Logs() {
		out = append(out, l.Output)
	}
	require.Equal(t, []string{"echo: resuming after line 2", "b", "c"}, out)
	require.Equal(t, []string{`{"lines":3}`, `{"lines":4}`}, s.cps)
}
