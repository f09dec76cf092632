package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

// TestClaimJobFromReportsPreviousClaim: a takeover learns whom it replaced
// and when that worker last touched the job (for the resume log line).
func TestClaimJobFromReportsPreviousClaim(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	w1, w2 := uuid.New(), uuid.New()

	_, prev, err := f.store.ClaimJobFrom(f.ctx, j.ID, claim(w1))
	require.NoError(t, err)
	require.False(t, prev.WorkerID.Valid, "nobody held a new job")
	touched := f.getJob(j.ID).UpdatedAt

	lapsed := claim(w2)
	lapsed.StaleBefore = db.Now().Add(time.Second)
	took, prev, err := f.store.ClaimJobFrom(f.ctx, j.ID, lapsed)
	require.NoError(t, err)
	require.Equal(t, w2, took.WorkerID.UUID)
	require.Equal(t, uuid.NullUUID{UUID: w1, Valid: true}, prev.WorkerID)
	require.True(t, prev.TouchedAt.Equal(touched), "previous touch %v, want %v", prev.TouchedAt, touched)
}

// TestSaveCheckpoint: only the claim holder writes a job's checkpoint, each
// write replaces the last and counts, and a worker taken over cannot
// overwrite its successor's checkpoint.
func TestSaveCheckpoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	w1, w2 := uuid.New(), uuid.New()

	_, err := f.store.GetCheckpoint(f.ctx, j.ID)
	require.ErrorIs(t, err, db.ErrNotFound)
	_, err = f.store.SaveCheckpoint(f.ctx, &db.JobCheckpoint{JobID: j.ID, WorkerID: w1, State: []byte("s1")})
	require.ErrorIs(t, err, db.ErrNotFound, "an unclaimed job takes no checkpoint")

	_, err = f.store.ClaimJob(f.ctx, j.ID, claim(w1))
	require.NoError(t, err)
	for i, state := range []string{"s1", "s2"} {
		seq, err := f.store.SaveCheckpoint(f.ctx, &db.JobCheckpoint{JobID: j.ID, WorkerID: w1, State: []byte(state)})
		require.NoError(t, err)
		require.EqualValues(t, i+1, seq)
	}
	cp, err := f.store.GetCheckpoint(f.ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, "s2", string(cp.State))
	require.Nil(t, cp.Position)
	require.Equal(t, w1, cp.WorkerID)
	require.Equal(t, 1, cp.Attempt)

	lapsed := claim(w2)
	lapsed.StaleBefore = db.Now().Add(time.Second)
	_, err = f.store.ClaimJob(f.ctx, j.ID, lapsed)
	require.NoError(t, err)
	_, err = f.store.SaveCheckpoint(f.ctx, &db.JobCheckpoint{JobID: j.ID, WorkerID: w1, State: []byte("stale")})
	require.ErrorIs(t, err, db.ErrNotFound, "the lost worker no longer writes")
	seq, err := f.store.SaveCheckpoint(f.ctx, &db.JobCheckpoint{JobID: j.ID, WorkerID: w2, Position: []byte(`{"lines":3}`)})
	require.NoError(t, err)
	require.EqualValues(t, 3, seq)
	cp, err = f.store.GetCheckpoint(f.ctx, j.ID)
	require.NoError(t, err)
	require.Nil(t, cp.State)
	require.Equal(t, `{"lines":3}`, string(cp.Position))
	require.Equal(t, 2, cp.Attempt)

	// Completion ends checkpointing, and settling removes the row.
	_, err = f.store.CompleteJob(f.ctx, j.ID, db.Completion{Results: func(ctx context.Context, tx *db.Store, j *db.ProvisionerJob) error {
		return tx.SettleCheckpoint(ctx, j.ID)
	}})
	require.NoError(t, err)
	_, err = f.store.GetCheckpoint(f.ctx, j.ID)
	require.ErrorIs(t, err, db.ErrNotFound)
	_, err = f.store.SaveCheckpoint(f.ctx, &db.JobCheckpoint{JobID: j.ID, WorkerID: w2, State: []byte("late")})
	require.ErrorIs(t, err, db.ErrNotFound, "a completed job takes no checkpoint")
}

// TestLostJobsLeavesResumableBuilds: a silent build is lost only once it
// has used up its resumptions; canceled jobs are lost whatever they are.
func TestLostJobsLeavesResumableBuilds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	build := f.insertJob(func(j *db.ProvisionerJob) { j.Type = db.JobTypeWorkspaceBuild })
	_, err := f.store.ClaimJob(f.ctx, build.ID, claim(uuid.New()))
	require.NoError(t, err)
	lost := func(resumptions int) []uuid.UUID {
		var ids []uuid.UUID
		require.NoError(t, f.store.InTx(f.ctx, func(tx *db.Store) error {
			js, err := tx.LostJobs(f.ctx, db.Now().Add(time.Minute), 10, resumptions)
			ids = jobIDs(js)
			return err
		}))
		return ids
	}
	require.Empty(t, lost(2), "a first attempt has resumptions left")
	require.Equal(t, []uuid.UUID{build.ID}, lost(0), "with no resumptions, a lost build is ended")

	for range 2 {
		took := claim(uuid.New())
		took.StaleBefore = db.Now().Add(time.Second)
		_, err = f.store.ClaimJob(f.ctx, build.ID, took)
		require.NoError(t, err)
	}
	require.Equal(t, 3, f.getJob(build.ID).Attempts)
	require.Equal(t, []uuid.UUID{build.ID}, lost(2), "the second resumption was the last")
	require.Empty(t, lost(3))

	_, err = f.store.CancelJob(f.ctx, build.ID)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{build.ID}, lost(3), "a canceled job never resumes")
}

// BenchmarkSaveCheckpoint measures one checkpoint write of a 15 KB state
// (the size of the repository's Terraform workspace template's state).
func BenchmarkSaveCheckpoint(b *testing.B) {
	f := newFixture(b)
	j := f.insertJob(func(j *db.ProvisionerJob) { j.Type = db.JobTypeWorkspaceBuild })
	w := uuid.New()
	_, err := f.store.ClaimJob(f.ctx, j.ID, claim(w))
	require.NoError(b, err)
	state := make([]byte, benchStateSize)
	for i := range state {
		state[i] = byte('a' + i%26)
	}
	b.SetBytes(int64(len(state)))
	for b.Loop() {
		if _, err := f.store.SaveCheckpoint(f.ctx, &db.JobCheckpoint{JobID: j.ID, WorkerID: w, State: state}); err != nil {
			b.Fatal(err)
		}
	}
}

const benchStateSize = 15 << 10
