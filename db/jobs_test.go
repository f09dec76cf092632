package db_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

func requireUTC(t *testing.T, ts ...*time.Time) {
	t.Helper()
	for _, tm := range ts {
		if tm != nil {
			require.Equal(t, time.UTC, tm.Location(), "times are UTC")
		}
	}
}

func TestInsertJobIsPending(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	require.Equal(t, db.JobPending, j.Status, "InsertJob returns the generated status")

	got := f.getJob(j.ID)
	require.Equal(t, db.JobPending, got.Status)
	require.Nil(t, got.StartedAt)
	require.Nil(t, got.CompletedAt)
	require.Nil(t, got.CanceledAt)
	require.False(t, got.WorkerID.Valid)
	require.True(t, got.CreatedAt.Equal(j.CreatedAt), "created_at round-trips: %s vs %s", got.CreatedAt, j.CreatedAt)
	require.Equal(t, db.UntaggedTags(), got.Tags)
	requireUTC(t, &got.CreatedAt, &got.UpdatedAt)

	_, err := f.store.GetJobByID(f.ctx, uuid.New())
	require.ErrorIs(t, err, db.ErrNotFound)
}

// claim is a claim on the fixture's task queue.
func claim(worker uuid.UUID) db.Claim {
	return db.Claim{WorkerID: worker, TaskQueue: "berth-prov-test"}
}

func TestClaimJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	w1, w2 := uuid.New(), uuid.New()

	claimed, err := f.store.ClaimJob(f.ctx, j.ID, claim(w1))
	require.NoError(t, err)
	require.Equal(t, db.JobRunning, claimed.Status)
	require.NotNil(t, claimed.StartedAt)
	require.NotNil(t, claimed.WorkflowStartedAt, "a claim proves the workflow started")
	require.Equal(t, uuid.NullUUID{UUID: w1, Valid: true}, claimed.WorkerID)
	require.Equal(t, 1, claimed.Attempts)
	requireUTC(t, claimed.StartedAt, &claimed.UpdatedAt)

	again, err := f.store.ClaimJob(f.ctx, j.ID, claim(w1))
	require.NoError(t, err, "the claiming worker may claim again")
	require.Equal(t, 1, again.Attempts, "claiming again is not another attempt")

	_, err = f.store.ClaimJob(f.ctx, j.ID, claim(w2))
	require.ErrorIs(t, err, db.ErrJobBusy, "another worker's live claim stands")
	lapsed := claim(w2)
	lapsed.StaleBefore = db.Now().Add(-time.Minute)
	_, err = f.store.ClaimJob(f.ctx, j.ID, lapsed)
	require.ErrorIs(t, err, db.ErrJobBusy, "a claim touched a minute ago has not lapsed")
	require.Equal(t, w1, f.getJob(j.ID).WorkerID.UUID, "the failed claims changed nothing")

	lapsed.StaleBefore = db.Now().Add(time.Second)
	took, err := f.store.ClaimJob(f.ctx, j.ID, lapsed)
	require.NoError(t, err, "a lapsed claim is taken over")
	require.Equal(t, db.JobRunning, took.Status)
	require.Equal(t, w2, took.WorkerID.UUID)
	require.Equal(t, 2, took.Attempts, "a takeover is another attempt")
	require.True(t, took.StartedAt.Equal(*claimed.StartedAt), "a takeover keeps started_at")

	other := f.insertJob()
	_, err = f.store.ClaimJob(f.ctx, other.ID, db.Claim{WorkerID: w1, TaskQueue: "berth-prov-elsewhere"})
	require.ErrorIs(t, err, db.ErrNotFound, "a job routed to another queue")
	_, err = f.store.ClaimJob(f.ctx, uuid.New(), claim(w1))
	require.ErrorIs(t, err, db.ErrNotFound, "unknown job")
}

func TestTouchJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	w1, w2 := uuid.New(), uuid.New()
	_, err := f.store.ClaimJob(f.ctx, j.ID, claim(w1))
	require.NoError(t, err)

	touch, err := f.store.TouchJob(f.ctx, j.ID, w1)
	require.NoError(t, err)
	require.Equal(t, db.TouchRunning, touch)
	touch, err = f.store.TouchJob(f.ctx, j.ID, w2)
	require.NoError(t, err)
	require.Equal(t, db.TouchLost, touch, "a worker that does not hold the claim has lost the job")

	lapsed := claim(w2)
	lapsed.StaleBefore = db.Now().Add(time.Second)
	_, err = f.store.ClaimJob(f.ctx, j.ID, lapsed)
	require.NoError(t, err)
	touch, err = f.store.TouchJob(f.ctx, j.ID, w1)
	require.NoError(t, err)
	require.Equal(t, db.TouchLost, touch, "the first worker learns the job was taken over")

	done, err := f.store.CompleteJob(f.ctx, j.ID, db.Completion{Error: "late", WorkerID: w1})
	require.NoError(t, err)
	require.False(t, done, "a worker that lost the job cannot complete it")
	done, err = f.store.CompleteJob(f.ctx, j.ID, db.Completion{WorkerID: w2})
	require.NoError(t, err)
	require.True(t, done)
	touch, err = f.store.TouchJob(f.ctx, j.ID, w2)
	require.NoError(t, err)
	require.Equal(t, db.TouchStop, touch, "a completed job stops its worker")
}

func TestCancelUnclaimedJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()

	c, err := f.store.CancelJob(f.ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, db.JobCanceled, c.Status, "a never-claimed job is canceled at once")
	require.NotNil(t, c.CanceledAt)
	require.NotNil(t, c.CompletedAt)
	require.Nil(t, c.StartedAt)
	requireUTC(t, c.CanceledAt, c.CompletedAt)

	for _, stale := range []time.Time{{}, db.Now().Add(time.Hour)} {
		c := claim(uuid.New())
		c.StaleBefore = stale
		_, err = f.store.ClaimJob(f.ctx, j.ID, c)
		require.ErrorIs(t, err, db.ErrNotFound, "a canceled job never starts (stale before %v)", stale)
	}
	_, err = f.store.CancelJob(f.ctx, j.ID)
	require.ErrorIs(t, err, db.ErrNotFound, "canceling twice")

	done, err := f.store.CompleteJob(f.ctx, j.ID, db.Completion{Error: "late"})
	require.NoError(t, err)
	require.False(t, done, "a completed job is not completed again")
	got := f.getJob(j.ID)
	require.Equal(t, db.JobCanceled, got.Status)
	require.Empty(t, got.Error)
	require.False(t, got.WorkerID.Valid)

	_, err = f.store.CancelJob(f.ctx, uuid.New())
	require.ErrorIs(t, err, db.ErrNotFound)
}

func TestCancelRunningJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	worker := uuid.New()
	_, err := f.store.ClaimJob(f.ctx, j.ID, claim(worker))
	require.NoError(t, err)

	touch, err := f.store.TouchJob(f.ctx, j.ID, worker)
	require.NoError(t, err)
	require.Equal(t, db.TouchRunning, touch, "a running job is not canceled")

	c, err := f.store.CancelJob(f.ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, db.JobCanceling, c.Status)
	require.NotNil(t, c.CanceledAt)
	require.Nil(t, c.CompletedAt, "a running job completes only when its worker stops")

	touch, err = f.store.TouchJob(f.ctx, j.ID, worker)
	require.NoError(t, err)
	require.Equal(t, db.TouchStop, touch, "the worker learns of the cancel from its heartbeat")
	takeover := claim(uuid.New())
	takeover.StaleBefore = db.Now().Add(time.Hour)
	_, err = f.store.ClaimJob(f.ctx, j.ID, takeover)
	require.ErrorIs(t, err, db.ErrNotFound, "a canceled job cannot be taken over")

	done, err := f.store.CompleteJob(f.ctx, j.ID, db.Completion{
		Canceled: true,
		Logs:     []db.ProvisionerJobLog{logLine("Setting up", "Job canceled.")},
	})
	require.NoError(t, err)
	require.True(t, done)
	got := f.getJob(j.ID)
	require.Equal(t, db.JobCanceled, got.Status)
	require.Empty(t, got.Error)
	require.True(t, got.CanceledAt.Equal(*c.CanceledAt), "completion keeps the original canceled_at")
	require.NotNil(t, got.CompletedAt)
	logs, err := f.store.GetJobLogsAfter(f.ctx, j.ID, 0)
	require.NoError(t, err)
	require.Len(t, logs, 1)
	require.Equal(t, "Job canceled.", logs[0].Output)

	touch, err = f.store.TouchJob(f.ctx, j.ID, worker)
	require.NoError(t, err)
	require.Equal(t, db.TouchStop, touch, "a completed job stops its worker")
	touch, err = f.store.TouchJob(f.ctx, uuid.New(), worker)
	require.NoError(t, err)
	require.Equal(t, db.TouchLost, touch, "an unknown job is not the worker's")
}

func TestCompleteJob(t *testing.T) {
	t.Parallel()

	t.Run("Failed", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		j := f.insertJob()
		_, err := f.store.ClaimJob(f.ctx, j.ID, claim(uuid.New()))
		require.NoError(t, err)

		done, err := f.store.CompleteJob(f.ctx, j.ID, db.Completion{Error: "boom", ErrorCode: "REQUIRED_TEMPLATE_VARIABLES"})
		require.NoError(t, err)
		require.True(t, done)
		got := f.getJob(j.ID)
		require.Equal(t, db.JobFailed, got.Status)
		require.Equal(t, "boom", got.Error)
		require.Equal(t, "REQUIRED_TEMPLATE_VARIABLES", got.ErrorCode)
		require.NotNil(t, got.CompletedAt)
		requireUTC(t, got.CompletedAt)

		done, err = f.store.CompleteJob(f.ctx, j.ID, db.Completion{
			Canceled: true, Logs: []db.ProvisionerJobLog{logLine("x", "ignored")},
			Results: func(context.Context, *db.Store, *db.ProvisionerJob) error {
				t.Error("results of a completed job must not be written")
				return nil
			},
		})
		require.NoError(t, err)
		require.False(t, done, "the second completion is refused")
		again := f.getJob(j.ID)
		require.Equal(t, db.JobFailed, again.Status)
		require.Equal(t, "boom", again.Error)
		require.Nil(t, again.CanceledAt)
		require.True(t, again.CompletedAt.Equal(*got.CompletedAt))
		logs, err := f.store.GetJobLogsAfter(f.ctx, j.ID, 0)
		require.NoError(t, err)
		require.Empty(t, logs, "the refused completion wrote no logs")
	})

	t.Run("Succeeded", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		j := f.insertJob()
		_, err := f.store.ClaimJob(f.ctx, j.ID, claim(uuid.New()))
		require.NoError(t, err)
		var sawJob uuid.UUID
		done, err := f.store.CompleteJob(f.ctx, j.ID, db.Completion{
			Logs: []db.ProvisionerJobLog{logLine("Cleaning Up", "")},
			Results: func(ctx context.Context, tx *db.Store, locked *db.ProvisionerJob) error {
				sawJob = locked.ID
				require.Nil(t, locked.CompletedAt)
				return tx.InsertJobResources(ctx, []db.WorkspaceResource{{
					ID: uuid.New(), JobID: locked.ID, CreatedAt: db.Now(), Transition: "start", Type: "echo_instance", Name: "dev",
					Metadata: []byte("[]"), Agents: []byte("[]"),
				}})
			},
		})
		require.NoError(t, err)
		require.True(t, done)
		require.Equal(t, j.ID, sawJob)
		got := f.getJob(j.ID)
		require.Equal(t, db.JobSucceeded, got.Status)
		rs, err := f.store.GetJobResources(f.ctx, j.ID)
		require.NoError(t, err)
		require.Len(t, rs, 1)
		require.Equal(t, "dev", rs[0].Name)
	})

	t.Run("ResultsErrorRollsBack", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		j := f.insertJob()
		_, err := f.store.ClaimJob(f.ctx, j.ID, claim(uuid.New()))
		require.NoError(t, err)
		boom := errors.New("results failed")
		done, err := f.store.CompleteJob(f.ctx, j.ID, db.Completion{
			Logs:    []db.ProvisionerJobLog{logLine("Cleaning Up", "bye")},
			Results: func(context.Context, *db.Store, *db.ProvisionerJob) error { return boom },
		})
		require.ErrorIs(t, err, boom)
		require.False(t, done)
		got := f.getJob(j.ID)
		require.Equal(t, db.JobRunning, got.Status, "nothing of the failed completion is kept")
		logs, err := f.store.GetJobLogsAfter(f.ctx, j.ID, 0)
		require.NoError(t, err)
		require.Empty(t, logs)
		require.Zero(t, got.LogsLength)
	})

	t.Run("Pending", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		j := f.insertJob()
		done, err := f.store.CompleteJob(f.ctx, j.ID, db.Completion{Error: "no provisioner picked up the job"})
		require.NoError(t, err)
		require.True(t, done)
		got := f.getJob(j.ID)
		require.Equal(t, db.JobFailed, got.Status)
		require.NotNil(t, got.StartedAt, "a job completed before any claim still gets started_at")
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		_, err := f.store.CompleteJob(f.ctx, uuid.New(), db.Completion{})
		require.ErrorIs(t, err, db.ErrNotFound)
	})
}

// TestCancelClaimRace races a worker's claim against a user's cancel on many
// jobs. Whatever the interleaving, a job ends either claimed and canceling
// (the worker must stop it) or canceled and never claimed.
func TestCancelClaimRace(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const n = 20
	jobs := make([]*db.ProvisionerJob, n)
	for i := range jobs {
		jobs[i] = f.insertJob()
	}
	type outcome struct {
		claimErr, cancelErr error
		worker              uuid.UUID
	}
	out := make([]outcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, j := range jobs {
		out[i].worker = uuid.New()
		wg.Go(func() {
			<-start
			_, out[i].claimErr = f.store.ClaimJob(f.ctx, j.ID, db.Claim{WorkerID: out[i].worker})
		})
		wg.Go(func() {
			<-start
			_, out[i].cancelErr = f.store.CancelJob(f.ctx, j.ID)
		})
	}
	close(start)
	wg.Wait()

	claimed := 0
	for i, j := range jobs {
		o := out[i]
		require.NoError(t, o.cancelErr, "job %d: the cancel always applies", i)
		got := f.getJob(j.ID)
		require.NotNil(t, got.CanceledAt, "job %d", i)
		switch {
		case o.claimErr == nil:
			claimed++
			require.Equal(t, db.JobCanceling, got.Status, "job %d: claimed, then canceled", i)
			require.Nil(t, got.CompletedAt, "job %d", i)
			require.NotNil(t, got.StartedAt, "job %d", i)
			require.Equal(t, o.worker, got.WorkerID.UUID, "job %d", i)
		case errors.Is(o.claimErr, db.ErrNotFound):
			require.Equal(t, db.JobCanceled, got.Status, "job %d: canceled before any claim", i)
			require.NotNil(t, got.CompletedAt, "job %d", i)
			require.Nil(t, got.StartedAt, "job %d", i)
			require.False(t, got.WorkerID.Valid, "job %d", i)
		default:
			require.NoError(t, o.claimErr, "job %d", i)
		}
	}
	t.Logf("%d of %d jobs were claimed before their cancel", claimed, n)
}

func TestAppendLogs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	other := f.insertJob()

	require.NoError(t, f.store.AppendLogs(f.ctx, j.ID, nil), "no lines is a no-op")
	require.NoError(t, f.store.AppendLogs(f.ctx, j.ID, []db.ProvisionerJobLog{
		logLine("Setting up", ""), logLine("Setting up", "one"), logLine("Setting up", "two"),
	}))
	require.NoError(t, f.store.AppendLogs(f.ctx, other.ID, []db.ProvisionerJobLog{logLine("Setting up", "other job")}))
	require.NoError(t, f.store.AppendLogs(f.ctx, j.ID, []db.ProvisionerJobLog{
		logLine("Parsing template parameters", ""), logLine("Parsing template parameters", "three"),
	}))

	logs, err := f.store.GetJobLogsAfter(f.ctx, j.ID, 0)
	require.NoError(t, err)
	require.Len(t, logs, 5)
	var outputs []string
	for i, l := range logs {
		outputs = append(outputs, l.Output)
		require.Equal(t, j.ID, l.JobID)
		require.Equal(t, db.LogSourceProvisioner, l.Source)
		requireUTC(t, &l.CreatedAt)
		if i > 0 {
			require.Greater(t, l.ID, logs[i-1].ID, "ids strictly increase")
		}
	}
	require.Equal(t, []string{"", "one", "two", "", "three"}, outputs)

	after, err := f.store.GetJobLogsAfter(f.ctx, j.ID, logs[2].ID)
	require.NoError(t, err)
	require.Len(t, after, 2)
	require.Equal(t, logs[3].ID, after[0].ID)
	none, err := f.store.GetJobLogsAfter(f.ctx, j.ID, logs[4].ID)
	require.NoError(t, err)
	require.NotNil(t, none, "an empty page is an empty slice")
	require.Empty(t, none)

	got := f.getJob(j.ID)
	require.Equal(t, len("onetwothree"), got.LogsLength)
	require.False(t, got.LogsOverflowed)
	stage, err := f.store.GetLastLogStage(f.ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, "Parsing template parameters", stage)
	stage, err = f.store.GetLastLogStage(f.ctx, f.insertJob().ID)
	require.NoError(t, err)
	require.Empty(t, stage, "a job without logs has no stage")

	require.ErrorIs(t, f.store.AppendLogs(f.ctx, uuid.New(), []db.ProvisionerJobLog{logLine("x", "y")}), db.ErrNotFound)
}

func TestAppendLogsConcurrently(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	const writers, batches = 5, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				errs <- f.store.AppendLogs(f.ctx, j.ID, []db.ProvisionerJobLog{
					logLine("s", strings.Repeat("a", w+1)), logLine("s", strings.Repeat("b", b+1)),
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	logs, err := f.store.GetJobLogsAfter(f.ctx, j.ID, 0)
	require.NoError(t, err)
	require.Len(t, logs, writers*batches*2)
	total := 0
	for _, l := range logs {
		total += len(l.Output)
	}
	require.Equal(t, total, f.getJob(j.ID).LogsLength, "logs_length counts every stored byte")
}

// TestLogLineCap writes empty lines, which add no bytes: the line cap stops
// them with one notice, as the byte cap does.
func TestLogLineCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	_, err := f.store.ClaimJob(f.ctx, j.ID, claim(uuid.New()))
	require.NoError(t, err)
	batch := make([]db.ProvisionerJobLog, 1000)
	for i := range batch {
		batch[i] = logLine("Setting up", "")
	}
	for range db.MaxLogLines/len(batch) + 2 {
		require.NoError(t, f.store.AppendLogs(f.ctx, j.ID, batch))
	}
	got := f.getJob(j.ID)
	require.True(t, got.LogsOverflowed)
	require.Equal(t, db.MaxLogLines, got.LogsLines)
	logs, err := f.store.GetJobLogsAfter(f.ctx, j.ID, 0)
	require.NoError(t, err)
	require.Len(t, logs, db.MaxLogLines)
	require.Contains(t, logs[len(logs)-1].Output, "exceeded")
}

func TestLogCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	_, err := f.store.ClaimJob(f.ctx, j.ID, claim(uuid.New()))
	require.NoError(t, err)

	big := strings.Repeat("x", db.MaxLogBytes-10)
	require.NoError(t, f.store.AppendLogs(f.ctx, j.ID, []db.ProvisionerJobLog{logLine("Setting up", big)}))
	require.False(t, f.getJob(j.ID).LogsOverflowed)

	// This batch crosses the cap: its first line that does not fit becomes
	// the truncation notice, and the rest are dropped.
	require.NoError(t, f.store.AppendLogs(f.ctx, j.ID, []db.ProvisionerJobLog{
		logLine("Setting up", "fits"), logLine("Setting up", "does not fit"), logLine("Setting up", "dropped"),
	}))
	// Later batches are dropped entirely.
	require.NoError(t, f.store.AppendLogs(f.ctx, j.ID, []db.ProvisionerJobLog{logLine("Setting up", "late")}))
	require.NoError(t, f.store.AppendLogs(f.ctx, j.ID, []db.ProvisionerJobLog{logLine("Setting up", strings.Repeat("y", 100))}))

	got := f.getJob(j.ID)
	require.True(t, got.LogsOverflowed)
	require.LessOrEqual(t, got.LogsLength, db.MaxLogBytes)
	require.Equal(t, len(big)+len("fits"), got.LogsLength)

	logs, err := f.store.GetJobLogsAfter(f.ctx, j.ID, 0)
	require.NoError(t, err)
	require.Len(t, logs, 3, "the big line, the line that fits, one notice")
	require.Equal(t, "fits", logs[1].Output)
	notice := logs[2]
	require.Equal(t, "warn", notice.Level)
	require.Equal(t, db.LogSourceDaemon, notice.Source)
	require.Contains(t, notice.Output, "exceeded")
	require.Equal(t, "Setting up", notice.Stage)

	// A failing completion still writes its lines past the cap, so the
	// error is visible in the log.
	done, err := f.store.CompleteJob(f.ctx, j.ID, db.Completion{
		Error: "boom",
		Logs: []db.ProvisionerJobLog{{
			CreatedAt: db.Now(), Source: db.LogSourceDaemon, Level: "error", Stage: "Setting up", Output: "boom",
		}},
	})
	require.NoError(t, err)
	require.True(t, done)
	logs, err = f.store.GetJobLogsAfter(f.ctx, j.ID, 0)
	require.NoError(t, err)
	require.Len(t, logs, 4)
	require.Equal(t, "boom", logs[3].Output)
	notices := 0
	for _, l := range logs {
		if strings.Contains(l.Output, "exceeded") {
			notices++
		}
	}
	require.Equal(t, 1, notices, "exactly one truncation notice")
}

func TestLogCapSingleHugeLine(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	require.NoError(t, f.store.AppendLogs(f.ctx, j.ID, []db.ProvisionerJobLog{
		logLine("Setting up", "small"), logLine("Setting up", strings.Repeat("z", db.MaxLogBytes)),
	}))
	require.NoError(t, f.store.AppendLogs(f.ctx, j.ID, []db.ProvisionerJobLog{logLine("Setting up", "after")}))
	logs, err := f.store.GetJobLogsAfter(f.ctx, j.ID, 0)
	require.NoError(t, err)
	require.Len(t, logs, 2)
	require.Equal(t, "small", logs[0].Output)
	require.Contains(t, logs[1].Output, "exceeded")
	got := f.getJob(j.ID)
	require.True(t, got.LogsOverflowed)
	require.Equal(t, len("small"), got.LogsLength)
}

func TestJobsWithoutWorkflowAndCanceling(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	old := db.Now().Add(-time.Hour)
	orphan := f.insertJob(withCreatedAt(old))
	started := f.insertJob(withCreatedAt(old))
	require.NoError(t, f.store.MarkWorkflowStarted(f.ctx, started.ID))
	f.insertJob() // too recent for the reconciler
	canceled := f.insertJob(withCreatedAt(old))
	_, err := f.store.CancelJob(f.ctx, canceled.ID)
	require.NoError(t, err)

	cutoff := db.Now().Add(-time.Minute)
	js, err := f.store.JobsWithoutWorkflow(f.ctx, cutoff, 10)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{orphan.ID}, jobIDs(js), "only old pending jobs whose workflow never started")

	running := f.insertJob(withCreatedAt(old))
	_, err = f.store.ClaimJob(f.ctx, running.ID, db.Claim{WorkerID: uuid.New()})
	require.NoError(t, err)
	_, err = f.store.CancelJob(f.ctx, running.ID)
	require.NoError(t, err)
	js, err = f.store.CancelingJobs(f.ctx, db.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{running.ID}, jobIDs(js), "only canceled, uncompleted jobs")
	js, err = f.store.CancelingJobs(f.ctx, db.Now().Add(-time.Minute), 10)
	require.NoError(t, err)
	require.Empty(t, js, "recently updated jobs are left alone")
}

func jobIDs(js []*db.ProvisionerJob) []uuid.UUID {
	out := []uuid.UUID{}
	for _, j := range js {
		out = append(out, j.ID)
	}
	return out
}

func TestInsertFileDedupPerCreator(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bob := f.insertUser("bob")
	data := []byte("some tar bytes")

	first, created, err := f.store.InsertFile(f.ctx, newFile(f.user.ID, data))
	require.NoError(t, err)
	require.True(t, created)

	again, created, err := f.store.InsertFile(f.ctx, newFile(f.user.ID, data))
	require.NoError(t, err)
	require.False(t, created, "the same creator uploading the same bytes gets the existing file")
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, first.Hash, again.Hash)
	requireUTC(t, &again.CreatedAt)

	bobs, created, err := f.store.InsertFile(f.ctx, newFile(bob.ID, data))
	require.NoError(t, err)
	require.True(t, created, "deduplication is per creator")
	require.NotEqual(t, first.ID, bobs.ID)

	other, created, err := f.store.InsertFile(f.ctx, newFile(f.user.ID, []byte("other bytes")))
	require.NoError(t, err)
	require.True(t, created)
	require.NotEqual(t, first.ID, other.ID)

	full, err := f.store.GetFileByID(f.ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, data, full.Data)
	meta, err := f.store.GetFileMeta(f.ctx, first.ID)
	require.NoError(t, err)
	require.Empty(t, meta.Data)
	require.Equal(t, f.user.ID, meta.CreatedBy)
	_, err = f.store.GetFileByID(f.ctx, uuid.New())
	require.ErrorIs(t, err, db.ErrNotFound)
}

// TestDeleteUnreferencedFiles keeps files a job uses and files newer than
// the cut-off, and deletes the rest.
func TestDeleteUnreferencedFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	old := db.Now().Add(-48 * time.Hour)
	insert := func(data string, at time.Time) *db.File {
		file := newFile(f.user.ID, []byte(data))
		file.CreatedAt = at
		got, created, err := f.store.InsertFile(f.ctx, file)
		require.NoError(t, err)
		require.True(t, created)
		return got
	}
	stale := insert("stale upload", old)
	used := insert("used upload", old)
	f.insertJob(func(j *db.ProvisionerJob) { j.FileID = used.ID })
	fresh := insert("fresh upload", db.Now())

	n, err := f.store.DeleteUnreferencedFiles(f.ctx, db.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(1))
	_, err = f.store.GetFileByID(f.ctx, stale.ID)
	require.ErrorIs(t, err, db.ErrNotFound)
	for _, kept := range []*db.File{used, fresh, f.file} {
		_, err = f.store.GetFileByID(f.ctx, kept.ID)
		require.NoError(t, err)
	}
}
