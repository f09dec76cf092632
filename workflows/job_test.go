package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/berth-dev/berth/workflows"
)

// localCalls checks that every RunJob and FinishJob ran as a local
// activity, and returns how many of each there were.
func localCalls(t *testing.T, s *stubs) (runs, finishes int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runs {
		require.True(t, r.local, "RunJob runs as a local activity")
	}
	for _, f := range s.finishes {
		require.True(t, f.local, "FinishJob runs as a local activity")
	}
	return len(s.runs), len(s.finishes)
}

func TestProvisionerJobSuccessDoesNotFinish(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{workflows.JobTypeImport, workflows.JobTypeDryRun, workflows.JobTypeBuild} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			s := &stubs{}
			env := newEnv(t, s)
			env.ExecuteWorkflow(workflows.ProvisionerJob, jobInput(typ))
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			runs, finishes := localCalls(t, s)
			require.Equal(t, 1, runs)
			require.Zero(t, finishes, "RunJob completed the job")
		})
	}
}

func TestProvisionerJobAttempts(t *testing.T) {
	t.Parallel()
	for typ, want := range map[string]int{workflows.JobTypeImport: 3, workflows.JobTypeDryRun: 3, workflows.JobTypeBuild: 1} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			s := &stubs{run: func(context.Context, int32) (workflows.RunJobResult, error) {
				return workflows.RunJobResult{}, errors.New("database unreachable")
			}}
			env := newEnv(t, s)
			env.ExecuteWorkflow(workflows.ProvisionerJob, jobInput(typ))
			require.True(t, env.IsWorkflowCompleted())
			require.Error(t, env.GetWorkflowError())
			runs, finishes := localCalls(t, s)
			require.Equal(t, want, runs, "infrastructure errors are retried, but builds run once")
			require.Equal(t, 1, finishes)
			fin := s.finishCalls()[0].in
			require.False(t, fin.Canceled)
			require.Equal(t, "database unreachable", fin.Cause)
		})
	}
}

func TestProvisionerJobNonRetryableFailure(t *testing.T) {
	t.Parallel()
	s := &stubs{run: func(context.Context, int32) (workflows.RunJobResult, error) {
		return workflows.RunJobResult{}, temporal.NewNonRetryableApplicationError("template is broken", workflows.ErrTypeInvalidTemplate, nil)
	}}
	env := newEnv(t, s)
	env.ExecuteWorkflow(workflows.ProvisionerJob, jobInput(workflows.JobTypeImport))
	require.True(t, env.IsWorkflowCompleted())
	require.Error(t, env.GetWorkflowError())
	runs, finishes := localCalls(t, s)
	require.Equal(t, 1, runs)
	require.Equal(t, 1, finishes)
	require.Equal(t, "template is broken", s.finishCalls()[0].in.Cause)
}

// TestProvisionerJobCanceledWhileRunning: a workflow canceled through
// Temporal alone marks the job canceled (CancelJob); the running job learns
// of it from its row and ends itself (as the real RunJob does, keeping a
// build's partial state), and the workflow waits for it rather than
// abandoning it.
func TestProvisionerJobCanceledWhileRunning(t *testing.T) {
	t.Parallel()
	s := &stubs{canceled: make(chan struct{})}
	env := newEnv(t, s)
	s.run = func(ctx context.Context, _ int32) (workflows.RunJobResult, error) {
		env.CancelWorkflow() // while the job runs
		<-s.canceled
		require.NoError(t, ctx.Err(), "RunJob is not cut short by the workflow's cancel")
		return workflows.RunJobResult{Completed: true}, nil
	}
	in := jobInput(workflows.JobTypeBuild)
	env.ExecuteWorkflow(workflows.ProvisionerJob, in)
	require.True(t, env.IsWorkflowCompleted())
	var canceledErr *temporal.CanceledError
	require.ErrorAs(t, env.GetWorkflowError(), &canceledErr, "the workflow ends canceled, as the job did")
	runs, finishes := localCalls(t, s)
	require.Equal(t, 1, runs)
	require.Zero(t, finishes, "RunJob completed the canceled job")
	require.Equal(t, []workflows.CancelJobInput{{JobID: in.JobID}}, s.cancels)
}

// TestProvisionerJobCanceledUnfinished: when RunJob stops without ending
// the canceled job, FinishJob marks it canceled.
func TestProvisionerJobCanceledUnfinished(t *testing.T) {
	t.Parallel()
	s := &stubs{canceled: make(chan struct{})}
	env := newEnv(t, s)
	s.run = func(context.Context, int32) (workflows.RunJobResult, error) {
		env.CancelWorkflow()
		<-s.canceled
		return workflows.RunJobResult{}, nil
	}
	env.ExecuteWorkflow(workflows.ProvisionerJob, jobInput(workflows.JobTypeImport))
	require.True(t, env.IsWorkflowCompleted())
	_, finishes := localCalls(t, s)
	require.Equal(t, 1, finishes)
	fin := s.finishCalls()[0].in
	require.True(t, fin.Canceled)
	require.Empty(t, fin.Cause)
}

func TestProvisionerJobFinishJobFails(t *testing.T) {
	t.Parallel()
	s := &stubs{
		run: func(context.Context, int32) (workflows.RunJobResult, error) {
			return workflows.RunJobResult{}, temporal.NewNonRetryableApplicationError("bad", workflows.ErrTypeInvalidTemplate, nil)
		},
		finish: func(context.Context, int32) error {
			return temporal.NewNonRetryableApplicationError("job does not exist", "JobNotFound", nil)
		},
	}
	env := newEnv(t, s)
	env.ExecuteWorkflow(workflows.ProvisionerJob, jobInput(workflows.JobTypeBuild))
	require.True(t, env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	require.Equal(t, "JobNotFound", appErr.Type(), "a failed FinishJob is the workflow's error")
}

// TestProvisionerJobFailureTextOfActivityError checks the cause a real
// RunJob failure produces: an error returned by a local activity arrives as
// an ApplicationError too.
func TestProvisionerJobFailureTextOfActivityError(t *testing.T) {
	t.Parallel()
	for name, err := range map[string]error{
		"errors.New": errors.New("extract template: archive too large"),
		"wrapped":    fmt.Errorf("extract template: %w", errors.New("archive too large")),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := &stubs{run: func(context.Context, int32) (workflows.RunJobResult, error) {
				return workflows.RunJobResult{}, err
			}}
			env := newEnv(t, s)
			env.ExecuteWorkflow(workflows.ProvisionerJob, jobInput(workflows.JobTypeBuild))
			require.True(t, env.IsWorkflowCompleted())
			fins := s.finishCalls()
			require.Len(t, fins, 1)
			require.Equal(t, "extract template: archive too large", fins[0].in.Cause)
		})
	}
}

func TestFailureText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"heartbeat timeout", temporal.NewHeartbeatTimeoutError(), "provisioner worker lost: no heartbeat for 15s"},
		{"wrapped heartbeat timeout", fmt.Errorf("activity error: %w", temporal.NewHeartbeatTimeoutError()),
			"provisioner worker lost: no heartbeat for 15s"},
		{"schedule to start", temporal.NewTimeoutError(enums.TIMEOUT_TYPE_SCHEDULE_TO_START, nil),
			"no provisioner picked up the job within 30m0s"},
		{"start to close", temporal.NewTimeoutError(enums.TIMEOUT_TYPE_START_TO_CLOSE, nil),
			"job exceeded its time limit of 1h0m0s"},
		{"schedule to close", temporal.NewTimeoutError(enums.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, nil),
			"job exceeded its time limit of 1h0m0s"},
		{"other timeout", temporal.NewTimeoutError(enums.TIMEOUT_TYPE_UNSPECIFIED, nil), "job timed out"},
		{"application error without type", temporal.NewApplicationError("disk full", ""), "disk full"},
		// A user reads this on the job: Temporal's "(type: …, retryable: …)"
		// decoration is not part of the message.
		{"application error", temporal.NewNonRetryableApplicationError("template is broken", workflows.ErrTypeInvalidTemplate, nil),
			"template is broken"},
		{"canceled", temporal.NewCanceledError(), "canceled"},
		{"plain error", errors.New("something broke"), "something broke"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, workflows.FailureText(tc.err))
		})
	}
}
