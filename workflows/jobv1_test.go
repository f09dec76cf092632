package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/workflows"
)

const (
	activityQueue = "acts"
	controlQueue  = "control"
)

// runCall records one RunJob attempt.
type runCall struct {
	in        workflows.RunJobInput
	attempt   int32
	queue     string
	heartbeat time.Duration
	local     bool
}

// finishCall records one FinishJob attempt.
type finishCall struct {
	in    workflows.FinishJobInput
	queue string
	local bool
}

// stubs are the activities registered under the contract names. run and
// finish script their outcomes; every call is recorded.
type stubs struct {
	run    func(ctx context.Context, attempt int32) (workflows.RunJobResult, error)
	finish func(ctx context.Context, attempt int32) error

	// canceled, if set, is closed by the first CancelJob.
	canceled chan struct{}

	mu       sync.Mutex
	runs     []runCall
	finishes []finishCall
	cancels  []workflows.CancelJobInput
}

func (s *stubs) RunJob(ctx context.Context, in workflows.RunJobInput) (workflows.RunJobResult, error) {
	info := activity.GetInfo(ctx)
	s.mu.Lock()
	s.runs = append(s.runs, runCall{in: in, attempt: info.Attempt, queue: info.TaskQueue, heartbeat: info.HeartbeatTimeout, local: info.IsLocalActivity})
	s.mu.Unlock()
	if s.run == nil {
		return workflows.RunJobResult{Completed: true}, nil
	}
	return s.run(ctx, info.Attempt)
}

func (s *stubs) FinishJob(ctx context.Context, in workflows.FinishJobInput) error {
	info := activity.GetInfo(ctx)
	s.mu.Lock()
	s.finishes = append(s.finishes, finishCall{in: in, queue: info.TaskQueue, local: info.IsLocalActivity})
	s.mu.Unlock()
	if s.finish == nil {
		return nil
	}
	return s.finish(ctx, info.Attempt)
}

// CancelJob records the cancel and closes s.canceled (if set).
func (s *stubs) CancelJob(_ context.Context, in workflows.CancelJobInput) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancels = append(s.cancels, in)
	if s.canceled != nil && len(s.cancels) == 1 {
		close(s.canceled)
	}
	return nil
}

func (s *stubs) runCalls() []runCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]runCall(nil), s.runs...)
}

func (s *stubs) finishCalls() []finishCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]finishCall(nil), s.finishes...)
}

var _ workflows.Activities = (*stubs)(nil)

func testLogger(t *testing.T) log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(testinfra.DetachedOutput(t), &slog.HandlerOptions{Level: slog.LevelWarn})))
}

func newEnv(t *testing.T, s *stubs) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(testLogger(t))
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.ProvisionerJobV1)
	env.RegisterWorkflow(workflows.ProvisionerJob)
	// Plain funcs under the contract names, as the worker registers the
	// real methods.
	env.RegisterActivityWithOptions(s.RunJob, activity.RegisterOptions{Name: workflows.ActRunJob})
	env.RegisterActivityWithOptions(s.FinishJob, activity.RegisterOptions{Name: workflows.ActFinishJob})
	env.RegisterActivityWithOptions(s.CancelJob, activity.RegisterOptions{Name: workflows.ActCancelJob})
	return env
}

func jobInput(typ string) workflows.JobInput {
	return workflows.JobInput{JobID: uuid.New(), ActivityQueue: activityQueue, ControlQueue: controlQueue, Type: typ}
}

func TestProvisionerJobV1SuccessDoesNotFinish(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{workflows.JobTypeImport, workflows.JobTypeDryRun, workflows.JobTypeBuild} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			s := &stubs{}
			env := newEnv(t, s)
			in := jobInput(typ)
			env.ExecuteWorkflow(workflows.ProvisionerJobV1, in)
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())

			runs := s.runCalls()
			require.Len(t, runs, 1)
			require.Equal(t, workflows.RunJobInput{JobID: in.JobID}, runs[0].in)
			require.Equal(t, activityQueue, runs[0].queue, "RunJob runs on the job's tag-set queue")
			require.Equal(t, workflows.RunJobHeartbeat, runs[0].heartbeat)
			require.Empty(t, s.finishCalls(), "RunJob completed the row: FinishJob is not needed")
		})
	}
}

func TestProvisionerJobV1RetriedThenSucceeded(t *testing.T) {
	t.Parallel()
	s := &stubs{run: func(_ context.Context, attempt int32) (workflows.RunJobResult, error) {
		if attempt == 1 {
			return workflows.RunJobResult{}, errors.New("database unavailable")
		}
		return workflows.RunJobResult{Completed: true}, nil
	}}
	env := newEnv(t, s)
	env.ExecuteWorkflow(workflows.ProvisionerJobV1, jobInput(workflows.JobTypeImport))
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	runs := s.runCalls()
	require.Len(t, runs, 2)
	require.Equal(t, int32(2), runs[1].attempt)
	require.Empty(t, s.finishCalls())
}

func TestProvisionerJobV1NonRetryableFailure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
	}{
		{"non-retryable", temporal.NewNonRetryableApplicationError("template is broken", workflows.ErrTypeInvalidTemplate, nil)},
		// The retry policy lists the type, so even a "retryable" error of
		// that type is attempted once.
		{"invalid template type", temporal.NewApplicationError("template is broken", workflows.ErrTypeInvalidTemplate)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &stubs{run: func(context.Context, int32) (workflows.RunJobResult, error) {
				return workflows.RunJobResult{}, tc.err
			}}
			env := newEnv(t, s)
			in := jobInput(workflows.JobTypeImport)
			env.ExecuteWorkflow(workflows.ProvisionerJobV1, in)
			require.True(t, env.IsWorkflowCompleted())

			wfErr := env.GetWorkflowError()
			require.Error(t, wfErr, "the workflow reports RunJob's failure")
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, wfErr, &appErr)
			require.Equal(t, workflows.ErrTypeInvalidTemplate, appErr.Type())

			require.Len(t, s.runCalls(), 1, "not retried")
			fins := s.finishCalls()
			require.Len(t, fins, 1)
			require.Equal(t, in.JobID, fins[0].in.JobID)
			require.False(t, fins[0].in.Canceled)
			require.Contains(t, fins[0].in.Cause, "template is broken")
			require.Equal(t, controlQueue, fins[0].queue, "FinishJob runs on the control queue")
		})
	}
}

func TestProvisionerJobV1HeartbeatTimeout(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ      string
		attempts int
	}{
		{workflows.JobTypeBuild, 1},
		{workflows.JobTypeImport, 3},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			t.Parallel()
			// What Temporal reports when a worker stops heartbeating.
			s := &stubs{run: func(context.Context, int32) (workflows.RunJobResult, error) {
				return workflows.RunJobResult{}, temporal.NewHeartbeatTimeoutError()
			}}
			env := newEnv(t, s)
			env.ExecuteWorkflow(workflows.ProvisionerJobV1, jobInput(tc.typ))
			require.True(t, env.IsWorkflowCompleted())
			wfErr := env.GetWorkflowError()
			require.Error(t, wfErr)
			var timeoutErr *temporal.TimeoutError
			require.ErrorAs(t, wfErr, &timeoutErr)
			require.Equal(t, enums.TIMEOUT_TYPE_HEARTBEAT, timeoutErr.TimeoutType())

			require.Len(t, s.runCalls(), tc.attempts)
			fins := s.finishCalls()
			require.Len(t, fins, 1)
			require.False(t, fins[0].in.Canceled)
			require.True(t, strings.HasPrefix(fins[0].in.Cause, "provisioner worker lost"), "cause %q", fins[0].in.Cause)
		})
	}
}

func TestProvisionerJobV1Attempts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ      string
		attempts int
	}{
		{workflows.JobTypeImport, 3},
		{workflows.JobTypeDryRun, 3},
		{workflows.JobTypeBuild, 1}, // an apply is not idempotent
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			t.Parallel()
			s := &stubs{run: func(context.Context, int32) (workflows.RunJobResult, error) {
				return workflows.RunJobResult{}, errors.New("worker disk full")
			}}
			env := newEnv(t, s)
			env.ExecuteWorkflow(workflows.ProvisionerJobV1, jobInput(tc.typ))
			require.True(t, env.IsWorkflowCompleted())
			require.Error(t, env.GetWorkflowError())

			runs := s.runCalls()
			require.Len(t, runs, tc.attempts)
			for i, r := range runs {
				require.Equal(t, int32(i+1), r.attempt)
			}
			fins := s.finishCalls()
			require.Len(t, fins, 1, "FinishJob once, after the last attempt")
			require.Contains(t, fins[0].in.Cause, "worker disk full")
			require.False(t, fins[0].in.Canceled)
		})
	}
}

func TestProvisionerJobV1Timeouts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		err     error
		attempt int
		cause   string
	}{
		{"schedule to start", temporal.NewTimeoutError(enums.TIMEOUT_TYPE_SCHEDULE_TO_START, nil), 1,
			"no provisioner picked up the job within 30m0s"},
		{"start to close", temporal.NewTimeoutError(enums.TIMEOUT_TYPE_START_TO_CLOSE, nil), 3,
			"job exceeded its time limit of 1h0m0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &stubs{run: func(context.Context, int32) (workflows.RunJobResult, error) {
				return workflows.RunJobResult{}, tc.err
			}}
			env := newEnv(t, s)
			env.ExecuteWorkflow(workflows.ProvisionerJobV1, jobInput(workflows.JobTypeImport))
			require.True(t, env.IsWorkflowCompleted())
			require.Error(t, env.GetWorkflowError())
			require.Len(t, s.runCalls(), tc.attempt)
			fins := s.finishCalls()
			require.Len(t, fins, 1)
			require.Equal(t, tc.cause, fins[0].in.Cause)
		})
	}
}

func TestProvisionerJobV1Canceled(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{workflows.JobTypeImport, workflows.JobTypeBuild} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			started := make(chan struct{}, 1)
			s := &stubs{run: func(ctx context.Context, _ int32) (workflows.RunJobResult, error) {
				started <- struct{}{}
				select { // blocks until canceled, as RunJob does
				case <-ctx.Done():
					return workflows.RunJobResult{}, ctx.Err()
				case <-release:
					return workflows.RunJobResult{}, errors.New("test over")
				}
			}}
			env := newEnv(t, s)
			// The cancel must come once RunJob runs: the test clock does
			// not skip ahead while an activity is running, so a delayed
			// callback would wait in real time.
			env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				if info.ActivityType.Name == workflows.ActRunJob {
					env.CancelWorkflow()
				}
			})
			in := jobInput(typ)
			env.ExecuteWorkflow(workflows.ProvisionerJobV1, in)
			require.True(t, env.IsWorkflowCompleted())
			<-started

			wfErr := env.GetWorkflowError()
			require.Error(t, wfErr)
			var canceledErr *temporal.CanceledError
			require.ErrorAs(t, wfErr, &canceledErr, "the workflow ends canceled: %v", wfErr)

			require.Len(t, s.runCalls(), 1)
			fins := s.finishCalls()
			require.Len(t, fins, 1)
			require.Equal(t, workflows.FinishJobInput{JobID: in.JobID, Canceled: true}, fins[0].in,
				"a canceled job is finished canceled, with no cause")
			require.Equal(t, controlQueue, fins[0].queue)
		})
	}
}

func TestProvisionerJobV1CanceledByDelayedCallback(t *testing.T) {
	t.Parallel()
	// RunJob fails once and is retried a second later. While the retry
	// waits, no activity runs and the test clock skips ahead, so a cancel a
	// minute in lands before the next attempt.
	s := &stubs{run: func(context.Context, int32) (workflows.RunJobResult, error) {
		return workflows.RunJobResult{}, temporal.NewApplicationErrorWithOptions("busy", "Busy",
			temporal.ApplicationErrorOptions{NextRetryDelay: time.Hour})
	}}
	env := newEnv(t, s)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
	in := jobInput(workflows.JobTypeImport)
	env.ExecuteWorkflow(workflows.ProvisionerJobV1, in)
	require.True(t, env.IsWorkflowCompleted())
	var canceledErr *temporal.CanceledError
	require.ErrorAs(t, env.GetWorkflowError(), &canceledErr)
	require.Len(t, s.runCalls(), 1, "the retry never ran")
	fins := s.finishCalls()
	require.Len(t, fins, 1)
	require.Equal(t, workflows.FinishJobInput{JobID: in.JobID, Canceled: true}, fins[0].in)
}

func TestProvisionerJobV1FinishJobRetries(t *testing.T) {
	t.Parallel()
	s := &stubs{
		run: func(context.Context, int32) (workflows.RunJobResult, error) {
			return workflows.RunJobResult{}, temporal.NewNonRetryableApplicationError("bad", workflows.ErrTypeInvalidTemplate, nil)
		},
		finish: func(_ context.Context, attempt int32) error {
			if attempt < 3 {
				return errors.New("database unavailable")
			}
			return nil
		},
	}
	env := newEnv(t, s)
	env.ExecuteWorkflow(workflows.ProvisionerJobV1, jobInput(workflows.JobTypeBuild))
	require.True(t, env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	require.Equal(t, workflows.ErrTypeInvalidTemplate, appErr.Type(), "the workflow reports RunJob's failure")
	require.Len(t, s.finishCalls(), 3, "FinishJob is retried until it succeeds")
}

func TestProvisionerJobV1FinishJobFails(t *testing.T) {
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
	env.ExecuteWorkflow(workflows.ProvisionerJobV1, jobInput(workflows.JobTypeBuild))
	require.True(t, env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	require.Equal(t, "JobNotFound", appErr.Type(), "a failed FinishJob is the workflow's error")
	require.Len(t, s.finishCalls(), 1)
}

// TestProvisionerJobV1FailureTextOfActivityError checks the cause a real RunJob failure
// produces once it crossed Temporal: an error returned by an activity
// arrives as an ApplicationError whose type is the Go type name (empty for
// errors.New, "wrapError" for fmt.Errorf with %w, as RunJob returns them).
func TestProvisionerJobV1FailureTextOfActivityError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
	}{
		{"errors.New", errors.New("extract template: archive too large")},
		{"wrapped", fmt.Errorf("extract template: %w", errors.New("archive too large"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &stubs{run: func(context.Context, int32) (workflows.RunJobResult, error) {
				return workflows.RunJobResult{}, tc.err
			}}
			env := newEnv(t, s)
			env.ExecuteWorkflow(workflows.ProvisionerJobV1, jobInput(workflows.JobTypeBuild))
			require.True(t, env.IsWorkflowCompleted())
			fins := s.finishCalls()
			require.Len(t, fins, 1)
			require.Equal(t, "extract template: archive too large", fins[0].in.Cause)
		})
	}
}
