package db_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

func TestUpsertDaemon(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	seen := db.Now().Add(-time.Hour)
	d := f.insertDaemon(f.org.ID, "w1", db.UntaggedTags(), seen)

	got, err := f.store.GetDaemonByID(f.ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, "w1", got.Name)
	require.Equal(t, []string{"echo"}, got.Provisioners)
	require.Equal(t, db.UntaggedTags(), got.Tags)
	require.True(t, got.LastSeenAt.Equal(seen))
	requireUTC(t, &got.LastSeenAt, &got.CreatedAt)

	// A restarted worker re-registers under its ID with new facts.
	d.Name, d.Provisioners, d.Tags, d.TaskQueue, d.LastSeenAt = "w1b", []string{"echo", "terraform"}, tags(map[string]string{"env": "prod"}), "q2", db.Now()
	require.NoError(t, f.store.UpsertDaemon(f.ctx, d))
	got, err = f.store.GetDaemonByID(f.ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, "w1b", got.Name)
	require.Equal(t, []string{"echo", "terraform"}, got.Provisioners)
	require.Equal(t, "prod", got.Tags["env"])
	require.Equal(t, "q2", got.TaskQueue)
	require.True(t, got.CreatedAt.Equal(seen), "created_at is kept")

	before := got.LastSeenAt
	require.NoError(t, f.store.TouchDaemon(f.ctx, d.ID))
	got, err = f.store.GetDaemonByID(f.ctx, d.ID)
	require.NoError(t, err)
	require.False(t, got.LastSeenAt.Before(before))

	_, err = f.store.GetDaemonByID(f.ctx, uuid.New())
	require.ErrorIs(t, err, db.ErrNotFound)
}

// queueWorld is a set of daemons and jobs exercising the matching rules:
//
//	daemon  tags                      seen     provisioners
//	dA      untagged                  online   echo
//	dB      env=prod                  online   echo
//	dC      env=prod region=eu        online   echo
//	dOff    env=prod zone=x           offline  echo
//	dTF     untagged                  online   terraform
//	dOrg2   env=prod (other org)      online   echo
//
// Jobs, oldest first: j1 untagged, j2 env=prod, j3 env=prod+region=eu,
// j4 env=prod (canceled), j5 env=prod (running), j6 env=prod, j7 untagged,
// j8 untagged terraform, jZ env=prod+zone=x, jNone env=staging.
type queueWorld struct {
	*fixture
	dA, dB, dC, dOff, dTF, dOrg2                  *db.ProvisionerDaemon
	j1, j2, j3, j4, j5, j6, j7, j8, jZ, jNone     *db.ProvisionerJob
	org2                                          *db.Organization
	prod, prodEU, prodZone, staging, untaggedTags map[string]string
}

func newQueueWorld(t *testing.T) *queueWorld {
	t.Helper()
	f := newFixture(t)
	w := &queueWorld{fixture: f}
	w.org2 = f.insertOrg("other")
	w.untaggedTags = db.UntaggedTags()
	w.prod = tags(map[string]string{"env": "prod"})
	w.prodEU = tags(map[string]string{"env": "prod", "region": "eu"})
	w.prodZone = tags(map[string]string{"env": "prod", "zone": "x"})
	w.staging = tags(map[string]string{"env": "staging"})

	now := db.Now()
	w.dA = f.insertDaemon(f.org.ID, "a", w.untaggedTags, now.Add(-20*time.Second))
	w.dB = f.insertDaemon(f.org.ID, "b", w.prod, now.Add(-10*time.Second))
	w.dC = f.insertDaemon(f.org.ID, "c", w.prodEU, now.Add(-5*time.Second))
	w.dOff = f.insertDaemon(f.org.ID, "off", w.prodZone, now.Add(-2*db.DaemonOnlineWindow))
	w.dTF = f.insertDaemon(f.org.ID, "tf", w.untaggedTags, now.Add(-time.Second), "terraform")
	w.dOrg2 = f.insertDaemon(w.org2.ID, "org2", w.prod, now)

	base := now.Add(-time.Hour)
	at := func(i int) func(*db.ProvisionerJob) { return withCreatedAt(base.Add(time.Duration(i) * time.Second)) }
	w.j1 = f.insertJob(at(1))
	w.j2 = f.insertJob(at(2), withTags(map[string]string{"env": "prod"}))
	w.j3 = f.insertJob(at(3), withTags(map[string]string{"env": "prod", "region": "eu"}))
	w.j4 = f.insertJob(at(4), withTags(map[string]string{"env": "prod"}))
	w.j5 = f.insertJob(at(5), withTags(map[string]string{"env": "prod"}))
	w.j6 = f.insertJob(at(6), withTags(map[string]string{"env": "prod"}))
	w.j7 = f.insertJob(at(7))
	w.j8 = f.insertJob(at(8), withProvisioner("terraform"))
	w.jZ = f.insertJob(at(9), withTags(map[string]string{"env": "prod", "zone": "x"}))
	w.jNone = f.insertJob(at(10), withTags(map[string]string{"env": "staging"}))
	// Jobs of another organization never share a queue with ours.
	f.insertJob(at(0), withOrg(w.org2.ID), withTags(map[string]string{"env": "prod"}))

	_, err := f.store.CancelJob(f.ctx, w.j4.ID)
	require.NoError(t, err)
	_, err = f.store.ClaimJob(f.ctx, w.j5.ID, db.Claim{WorkerID: w.dB.ID})
	require.NoError(t, err)
	w.j4, w.j5 = f.getJob(w.j4.ID), f.getJob(w.j5.ID)
	return w
}

func TestGetJobQueue(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)

	type want struct {
		position, size, count, available int
		workers                          []uuid.UUID
		mostRecent                       *db.ProvisionerDaemon
	}
	cases := []struct {
		name string
		job  *db.ProvisionerJob
		want want
	}{
		// Untagged jobs need equal tags: only dA (dTF lacks echo). dA's
		// queue is j1, j7.
		{"untagged first", w.j1, want{1, 2, 1, 1, []uuid.UUID{w.dA.ID}, w.dA}},
		{"untagged second", w.j7, want{2, 2, 1, 1, []uuid.UUID{w.dA.ID}, w.dA}},
		// env=prod: dB (queue j2, j6), dC (queue j2, j3, j6) and the
		// offline dOff, which counts but is not available.
		{"tagged first", w.j2, want{1, 3, 3, 2, []uuid.UUID{w.dB.ID, w.dC.ID}, w.dC}},
		{"tagged best rank", w.j6, want{2, 3, 3, 2, []uuid.UUID{w.dB.ID, w.dC.ID}, w.dC}},
		// env=prod, region=eu: only dC.
		{"subset", w.j3, want{2, 3, 1, 1, []uuid.UUID{w.dC.ID}, w.dC}},
		// Not pending: no position or size, the daemons still match.
		{"canceled", w.j4, want{0, 0, 3, 2, []uuid.UUID{w.dB.ID, w.dC.ID}, w.dC}},
		{"running", w.j5, want{0, 0, 3, 2, []uuid.UUID{w.dB.ID, w.dC.ID}, w.dC}},
		// Another provisioner.
		{"terraform", w.j8, want{1, 1, 1, 1, []uuid.UUID{w.dTF.ID}, w.dTF}},
		// Only an offline daemon matches.
		{"offline only", w.jZ, want{0, 0, 1, 0, []uuid.UUID{}, w.dOff}},
		// Nothing matches.
		{"no daemon", w.jNone, want{0, 0, 0, 0, []uuid.UUID{}, nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := w.store.GetJobQueue(w.ctx, tc.job)
			require.NoError(t, err)
			require.Equal(t, tc.want.position, q.Position, "position")
			require.Equal(t, tc.want.size, q.Size, "size")
			require.Equal(t, tc.want.count, q.Count, "count")
			require.Equal(t, tc.want.available, q.Available, "available")
			require.ElementsMatch(t, tc.want.workers, q.AvailableWorkers, "available workers")
			require.NotNil(t, q.AvailableWorkers)
			if tc.want.mostRecent == nil {
				require.Nil(t, q.MostRecentlySeen)
				return
			}
			require.NotNil(t, q.MostRecentlySeen)
			require.True(t, q.MostRecentlySeen.Equal(tc.want.mostRecent.LastSeenAt),
				"most recently seen %s, want %s", q.MostRecentlySeen, tc.want.mostRecent.LastSeenAt)
			requireUTC(t, q.MostRecentlySeen)
		})
	}
}

func TestGetJobQueueDaemonGoesOffline(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	// dC goes quiet: j2 now queues only on dB, behind nothing, and j3 has
	// no online daemon left.
	w.dC.LastSeenAt = db.Now().Add(-db.DaemonOnlineWindow - time.Second)
	require.NoError(t, w.store.UpsertDaemon(w.ctx, w.dC))

	q, err := w.store.GetJobQueue(w.ctx, w.j6)
	require.NoError(t, err)
	require.Equal(t, 2, q.Position)
	require.Equal(t, 2, q.Size)
	require.Equal(t, 3, q.Count)
	require.Equal(t, 1, q.Available)
	require.Equal(t, []uuid.UUID{w.dB.ID}, q.AvailableWorkers)

	q, err = w.store.GetJobQueue(w.ctx, w.j3)
	require.NoError(t, err)
	require.Equal(t, 0, q.Position)
	require.Equal(t, 0, q.Size)
	require.Equal(t, 1, q.Count)
	require.Equal(t, 0, q.Available)

	// It comes back.
	require.NoError(t, w.store.TouchDaemon(w.ctx, w.dC.ID))
	q, err = w.store.GetJobQueue(w.ctx, w.j3)
	require.NoError(t, err)
	require.Equal(t, 2, q.Position)
	require.Equal(t, 1, q.Available)
}

func TestGetJobQueueShrinksAsJobsStart(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	q, err := w.store.GetJobQueue(w.ctx, w.j7)
	require.NoError(t, err)
	require.Equal(t, 2, q.Position)

	_, err = w.store.ClaimJob(w.ctx, w.j1.ID, db.Claim{WorkerID: w.dA.ID})
	require.NoError(t, err)
	q, err = w.store.GetJobQueue(w.ctx, w.j7)
	require.NoError(t, err)
	require.Equal(t, 1, q.Position, "the job ahead started")
	require.Equal(t, 1, q.Size)

	_, err = w.store.CancelJob(w.ctx, w.j7.ID)
	require.NoError(t, err)
	q, err = w.store.GetJobQueue(w.ctx, w.getJob(w.j7.ID))
	require.NoError(t, err)
	require.Equal(t, 0, q.Position)
	require.Equal(t, 0, q.Size)
}

func TestPickTaskQueue(t *testing.T) {
	t.Parallel()
	w := newQueueWorld(t)
	cases := []struct {
		name        string
		org         uuid.UUID
		provisioner string
		tags        map[string]string
		want        string
	}{
		{"untagged needs equal tags", w.org.ID, "echo", w.untaggedTags, w.dA.TaskQueue},
		{"most recently seen superset", w.org.ID, "echo", w.prod, w.dC.TaskQueue},
		{"subset", w.org.ID, "echo", w.prodEU, w.dC.TaskQueue},
		{"offline daemon still registered", w.org.ID, "echo", w.prodZone, w.dOff.TaskQueue},
		{"provisioner", w.org.ID, "terraform", w.untaggedTags, w.dTF.TaskQueue},
		{"no match", w.org.ID, "echo", w.staging, ""},
		{"other org", w.org2.ID, "echo", w.prod, w.dOrg2.TaskQueue},
		{"other org untagged", w.org2.ID, "echo", w.untaggedTags, ""},
		{"unknown org", uuid.New(), "echo", w.untaggedTags, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := w.store.PickTaskQueue(w.ctx, tc.org, tc.provisioner, tc.tags)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
