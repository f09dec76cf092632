package pubsub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"go.uber.org/goleak"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/db/pubsub"
	"github.com/berth-dev/berth/internal/testinfra"
)

func TestMain(m *testing.M) {
	code := testinfra.Main(m)
	if code == 0 {
		// Run must not leave its listener goroutines behind once its
		// context ends.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

type env struct {
	ctx   context.Context
	db    *bun.DB
	store *db.Store
	ps    *pubsub.PubSub
	org   *db.Organization
	user  *db.User
	file  *db.File
}

// newEnv returns a fresh database and a running PubSub. The PubSub stops
// (and closes its listener connection) before the database is dropped.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	bdb := testinfra.DB(t)
	s := db.NewStore(bdb)
	e := &env{ctx: ctx, db: bdb, store: s}
	var err error
	e.org, err = s.GetDefaultOrganization(ctx)
	require.NoError(t, err)
	now := db.Now()
	e.user = &db.User{
		ID: uuid.New(), Email: "a@example.com", Username: "a", HashedPassword: []byte("x"), Status: "active",
		LoginType: "password", RBACRoles: []string{}, CreatedAt: now, UpdatedAt: now, LastSeenAt: now,
	}
	require.NoError(t, s.InsertUser(ctx, e.user))
	e.file, _, err = s.InsertFile(ctx, &db.File{
		ID: uuid.New(), Hash: "h", CreatedBy: e.user.ID, CreatedAt: now, Mimetype: "application/x-tar", Data: []byte("x"),
	})
	require.NoError(t, err)

	e.ps = pubsub.New(bdb, slog.New(slog.NewTextHandler(t.Output(), nil)))
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- e.ps.Run(runCtx) }()
	// Registered after testinfra.DB's cleanup, so it runs before it.
	t.Cleanup(func() {
		cancel()
		// The listener waits for a notification (or its poll interval);
		// this one wakes it so it sees the cancel at once.
		_, err := bdb.ExecContext(context.Background(), "SELECT pg_notify(?, ?)", db.JobEventsChannel, `{"ping":true}`)
		require.NoError(t, err)
		require.NoError(t, <-done, "Run returns nil once its context ends")
	})
	e.awaitListening(t)
	return e
}

// awaitListening returns once the listener delivers notifications, so that
// no event the test causes later can be missed. (Run's first wake-up does
// not prove it: pgdriver sends LISTEN without waiting for the server to
// process it.)
func (e *env) awaitListening(t *testing.T) {
	t.Helper()
	probe := uuid.New()
	sub, unsubscribe := e.ps.Subscribe(probe)
	defer unsubscribe()
	payload, err := json.Marshal(db.JobEvent{JobID: probe, End: true})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		if sub.Ended() {
			return true
		}
		_, err := e.db.ExecContext(e.ctx, "SELECT pg_notify(?, ?)", db.JobEventsChannel, string(payload))
		return err == nil && sub.Ended()
	}, 30*time.Second, 20*time.Millisecond, "the listener delivers notifications")
}

func (e *env) insertJob(t *testing.T) *db.ProvisionerJob {
	t.Helper()
	now := db.Now()
	j := &db.ProvisionerJob{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OrganizationID: e.org.ID, InitiatorID: e.user.ID,
		Provisioner: "echo", StorageMethod: "file", Type: db.JobTypeTemplateVersionImport, Input: json.RawMessage(`{}`),
		Tags: db.UntaggedTags(), FileID: e.file.ID, TaskQueue: "q",
	}
	require.NoError(t, e.store.InsertJob(e.ctx, j))
	return j
}

func awaitWake(t *testing.T, sub *pubsub.Subscription, what string) {
	t.Helper()
	select {
	case <-sub.C:
	case <-t.Context().Done():
		t.Fatalf("no wake-up: %s", what)
	}
}

func line(output string) db.ProvisionerJobLog {
	return db.ProvisionerJobLog{CreatedAt: db.Now(), Source: db.LogSourceProvisioner, Level: "info", Stage: "Setting up", Output: output}
}

func TestLogsWakeSubscriber(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := e.insertJob(t)
	sub, unsubscribe := e.ps.Subscribe(j.ID)
	defer unsubscribe()

	// The notification is sent inside the writing transaction and arrives
	// once it commits.
	require.NoError(t, e.store.InTx(e.ctx, func(tx *db.Store) error {
		return tx.AppendLogs(e.ctx, j.ID, []db.ProvisionerJobLog{line("hello")})
	}))
	awaitWake(t, sub, "new logs")
	require.False(t, sub.Ended(), "logs do not end the job")

	logs, err := e.store.GetJobLogsAfter(e.ctx, j.ID, 0)
	require.NoError(t, err)
	require.Len(t, logs, 1, "the woken follower sees the committed line")
}

func TestCompleteJobEndsSubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := e.insertJob(t)
	other := e.insertJob(t)
	sub, unsubscribe := e.ps.Subscribe(j.ID)
	defer unsubscribe()
	otherSub, unsubscribeOther := e.ps.Subscribe(other.ID)
	defer unsubscribeOther()

	_, err := e.store.ClaimJob(e.ctx, j.ID, db.Claim{WorkerID: uuid.New()})
	require.NoError(t, err)
	done, err := e.store.CompleteJob(e.ctx, j.ID, db.Completion{Logs: []db.ProvisionerJobLog{line("bye")}})
	require.NoError(t, err)
	require.True(t, done)

	require.Eventually(t, sub.Ended, 30*time.Second, 5*time.Millisecond, "end-of-logs arrives")
	got, err := e.store.GetJobByID(e.ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, db.JobSucceeded, got.Status, "the terminal state is visible once the end arrives")
	require.False(t, otherSub.Ended(), "another job's end does not end this one")
}

func TestCancelUnclaimedJobEndsSubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := e.insertJob(t)
	sub, unsubscribe := e.ps.Subscribe(j.ID)
	defer unsubscribe()

	_, err := e.store.CancelJob(e.ctx, j.ID)
	require.NoError(t, err)
	require.Eventually(t, sub.Ended, 30*time.Second, 5*time.Millisecond, "a never-claimed job ends when canceled")
}

func TestRolledBackLogsDoNotEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := e.insertJob(t)
	sub, unsubscribe := e.ps.Subscribe(j.ID)
	defer unsubscribe()

	// A completion whose results fail rolls back, notification included;
	// the successful completion that follows is the only end.
	_, err := e.store.ClaimJob(e.ctx, j.ID, db.Claim{WorkerID: uuid.New()})
	require.NoError(t, err)
	_, err = e.store.CompleteJob(e.ctx, j.ID, db.Completion{
		Results: func(context.Context, *db.Store, *db.ProvisionerJob) error { return context.Canceled },
	})
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, sub.Ended())

	done, err := e.store.CompleteJob(e.ctx, j.ID, db.Completion{Error: "boom"})
	require.NoError(t, err)
	require.True(t, done)
	require.Eventually(t, sub.Ended, 30*time.Second, 5*time.Millisecond)
}

func TestManySubscribersAndUnsubscribe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := e.insertJob(t)
	s1, unsub1 := e.ps.Subscribe(j.ID)
	s2, unsub2 := e.ps.Subscribe(j.ID)
	defer unsub2()
	unsub1()
	unsub1() // idempotent

	require.NoError(t, e.store.AppendLogs(e.ctx, j.ID, []db.ProvisionerJobLog{line("x")}))
	awaitWake(t, s2, "the remaining subscriber")
	_, err := e.store.CancelJob(e.ctx, j.ID)
	require.NoError(t, err)
	require.Eventually(t, s2.Ended, 30*time.Second, 5*time.Millisecond)
	require.False(t, s1.Ended(), "an unsubscribed follower hears nothing more")
}

// listenerPID returns the backend of the connection that LISTENs on the
// job events and auth channels (0 if there is not exactly one).
func listenerPID(ctx context.Context, bdb *bun.DB) (int, error) {
	var pids []int
	err := bdb.NewRaw(`SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND query IN (?, ?)`,
		`LISTEN "`+db.JobEventsChannel+`"`, `LISTEN "`+db.AuthChangedChannel+`"`).Scan(ctx, &pids)
	if err != nil || len(pids) != 1 {
		return 0, err
	}
	return pids[0], nil
}

func TestListenerReconnects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := e.insertJob(t)
	sub, unsubscribe := e.ps.Subscribe(j.ID)
	defer unsubscribe()

	pid, err := listenerPID(e.ctx, e.db)
	require.NoError(t, err)
	require.NotZero(t, pid, "one listener connection")
	var ok bool
	require.NoError(t, e.db.NewRaw("SELECT pg_terminate_backend(?)", pid).Scan(e.ctx, &ok))
	require.True(t, ok)

	// Losing the connection wakes every follower, since events may have
	// been missed; the listener then listens again on a new connection.
	awaitWake(t, sub, "after the connection was lost")
	require.False(t, sub.Ended())
	e.awaitListening(t)
	now, err := listenerPID(e.ctx, e.db)
	require.NoError(t, err)
	require.NotZero(t, now)
	require.NotEqual(t, pid, now, "a new connection listens")

	_, err = e.store.CancelJob(e.ctx, j.ID)
	require.NoError(t, err)
	require.Eventually(t, sub.Ended, 30*time.Second, 5*time.Millisecond, "events arrive after the reconnect")
}

// TestAuthGeneration: a write to users, api_keys or organization_members
// (the auth trigger), and a lost connection, each move the generation; it
// vouches for nothing while the listener is not listening.
func TestAuthGeneration(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.awaitListening(t)
	gen, ok := e.ps.AuthGeneration()
	require.True(t, ok)
	moved := func(what string) {
		t.Helper()
		require.Eventually(t, func() bool {
			g, ok := e.ps.AuthGeneration()
			return ok && g > gen
		}, 30*time.Second, 5*time.Millisecond, what)
		gen, _ = e.ps.AuthGeneration()
	}
	for _, stmt := range []string{
		"UPDATE users SET status = 'suspended' WHERE id = ?",
		"DELETE FROM organization_members WHERE user_id = ?",
		"DELETE FROM api_keys WHERE user_id = ?",
	} {
		_, err := e.db.ExecContext(e.ctx, stmt, e.user.ID)
		require.NoError(t, err)
		moved(stmt)
	}

	pid, err := listenerPID(e.ctx, e.db)
	require.NoError(t, err)
	var killed bool
	require.NoError(t, e.db.NewRaw("SELECT pg_terminate_backend(?)", pid).Scan(e.ctx, &killed))
	require.True(t, killed)
	moved("after the connection was lost")
}
