package db_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

func TestGetVersionView(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	j := f.insertJob()
	v := &db.TemplateVersion{
		ID: uuid.New(), OrganizationID: f.org.ID, Name: "v1", JobID: j.ID, CreatedBy: f.user.ID,
		CreatedAt: j.CreatedAt, UpdatedAt: j.CreatedAt,
	}
	require.NoError(t, f.store.InsertTemplateVersion(f.ctx, v))

	got, err := f.store.GetVersionView(f.ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, v.ID, got.Version.ID)
	require.Equal(t, "v1", got.Version.Name)
	require.Equal(t, j.ID, got.Job.ID)
	require.Equal(t, db.JobPending, got.Job.Status)
	require.Equal(t, j.Tags, got.Job.Tags)
	requireUTC(t, &got.Version.CreatedAt, &got.Job.CreatedAt)
	require.Equal(t, "alice", got.Creator.Username)
	require.Equal(t, f.user.ID, got.Creator.ID)
	require.Empty(t, got.Creator.Email, "only what the version's JSON shows of its creator")
	require.Equal(t, uuid.Nil, got.Template.ID, "no template yet")
	require.Empty(t, got.WorkerName)

	worker := f.insertDaemon(f.org.ID, "w1", tags(nil), db.Now())
	got, err = f.store.GetVersionView(f.ctx, v.ID)
	require.NoError(t, err)
	want, err := f.store.GetJobQueue(f.ctx, &got.Job)
	require.NoError(t, err)
	require.Equal(t, want, got.JobQueue(), "while pending, the queue figures of GetJobQueue")
	require.Equal(t, []uuid.UUID{worker.ID}, got.JobQueue().AvailableWorkers)

	_, err = f.store.ClaimJob(f.ctx, j.ID, db.Claim{WorkerID: worker.ID})
	require.NoError(t, err)
	got, err = f.store.GetVersionView(f.ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, db.JobRunning, got.Job.Status)
	require.Equal(t, "w1", got.WorkerName)
	require.Equal(t, &db.JobQueue{AvailableWorkers: []uuid.UUID{}}, got.JobQueue(), "no daemons once started")

	_, err = f.store.GetVersionView(f.ctx, uuid.New())
	require.ErrorIs(t, err, db.ErrNotFound)
}
