package db_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

func TestJobQueuedNotification(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ln, err := f.store.ListenJobQueued(f.ctx)
	require.NoError(t, err)
	defer ln.Close()
	j := f.insertJob()
	ev, ok, err := ln.Receive(f.ctx, 10*time.Second)
	require.NoError(t, err)
	require.True(t, ok, "inserting a job announces it")
	require.Equal(t, db.JobQueued{JobID: j.ID, TaskQueue: j.TaskQueue}, ev)

	_, ok, err = ln.Receive(f.ctx, 50*time.Millisecond)
	require.NoError(t, err, "a quiet channel times out without error")
	require.False(t, ok)
}

func TestDispatchJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()

	// Workers notified of the same job at once: one starts it, the others
	// skip it at once, while it still holds the job.
	release := make(chan struct{})
	results := make(chan bool, 4)
	for range 4 {
		go func() {
			ok, err := f.store.DispatchJob(f.ctx, j.ID, j.TaskQueue, false, func(facts *db.JobFacts) error {
				<-release
				if facts.JobID != j.ID || facts.InitiatorName != "alice" || facts.OrganizationName != "coder" {
					return errors.New("wrong facts")
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			results <- ok
		}()
	}
	for range 3 {
		require.False(t, <-results, "the others skip the job")
	}
	close(release)
	require.True(t, <-results, "one worker starts a job's workflow")

	// A start that fails leaves the job pending, to dispatch again.
	ok, err := f.store.DispatchJob(f.ctx, j.ID, j.TaskQueue, false, func(*db.JobFacts) error { return errors.New("temporal down") })
	require.Error(t, err)
	require.False(t, ok)
	ids, err := f.store.UndispatchedJobs(f.ctx, j.TaskQueue, db.Now().Add(time.Second), 10)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{j.ID}, ids)
	ids, err = f.store.UndispatchedJobs(f.ctx, "berth-prov-elsewhere", db.Now().Add(time.Second), 10)
	require.NoError(t, err)
	require.Empty(t, ids, "only the queue's jobs")

	// Once RunJob claimed it (the workflow started), it needs no dispatch.
	_, err = f.store.ClaimJob(f.ctx, j.ID, claim(uuid.New()))
	require.NoError(t, err)
	ok, err = f.store.DispatchJob(f.ctx, j.ID, j.TaskQueue, false, func(*db.JobFacts) error {
		t.Error("a started job is not dispatched")
		return nil
	})
	require.NoError(t, err)
	require.False(t, ok)
	ids, err = f.store.UndispatchedJobs(f.ctx, j.TaskQueue, db.Now().Add(time.Second), 10)
	require.NoError(t, err)
	require.Empty(t, ids)
}
