package activities_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/berth-dev/berth/activities"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/echo"
	"github.com/berth-dev/berth/workflows"
)

func TestMain(m *testing.M) { os.Exit(testinfra.Main(m)) }

// Import stage headers, in order.
const (
	stageSetup      = "Setting up"
	stageParse      = "Parsing template parameters"
	stagePersistent = "Detecting persistent resources"
	stageEphemeral  = "Detecting ephemeral resources"
	stageCleanup    = "Cleaning Up"
)

// testQueue is the task queue of the SDK's test environments, where the
// activities run: the harness's jobs are routed to it, so RunJob may claim
// them.
const testQueue = "default-test-taskqueue"

// harness is a fresh database with a user, and Activities using the echo
// provisioner on it.
type harness struct {
	t        *testing.T
	ctx      context.Context
	db       *bun.DB
	store    *db.Store
	org      *db.Organization
	user     *db.User
	workerID uuid.UUID
	workDir  string
	acts     *activities.Activities
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, func(*activities.Options) {})
}

func newHarnessWith(t *testing.T, mod func(*activities.Options)) *harness {
	t.Helper()
	return newHarnessOn(t, testinfra.DB(t), mod)
}

// newHarnessOnOwnPostgres is a harness on a Postgres server of its own,
// which the test may stop and start.
func newHarnessOnOwnPostgres(t *testing.T) (*harness, *testinfra.PostgresCluster) {
	t.Helper()
	pg := testinfra.StartPostgresCluster(t)
	bdb, err := db.Open(db.Options{URL: pg.BerthDB(t, "berth"), MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() { bdb.Close() })
	return newHarnessOn(t, bdb, func(*activities.Options) {}), pg
}

// newHarnessOn is newHarnessWith on a migrated database of the caller's.
func newHarnessOn(t *testing.T, bdb *bun.DB, mod func(*activities.Options)) *harness {
	t.Helper()
	s := db.NewStore(bdb)
	h := &harness{t: t, ctx: t.Context(), db: bdb, store: s, workerID: uuid.New(), workDir: t.TempDir()}
	var err error
	h.org, err = s.GetDefaultOrganization(h.ctx)
	require.NoError(t, err)
	now := db.Now()
	h.user = &db.User{
		ID: uuid.New(), Email: "admin@example.com", Username: "admin", HashedPassword: []byte("x"), Status: "active",
		LoginType: "password", RBACRoles: []string{db.RoleOwner}, CreatedAt: now, UpdatedAt: now, LastSeenAt: now,
	}
	require.NoError(t, s.InsertUser(h.ctx, h.user))
	opts := activities.Options{
		Store:             s,
		Provisioners:      map[string]provisioner.Provisioner{"echo": echo.New()},
		WorkerID:          h.workerID,
		WorkDir:           h.workDir,
		Log:               slog.New(slog.NewTextHandler(testinfra.DetachedOutput(t), nil)),
		HeartbeatInterval: 20 * time.Millisecond,
		FlushInterval:     10 * time.Millisecond,
		ClaimLapse:        200 * time.Millisecond,
	}
	mod(&opts)
	h.acts, err = activities.New(opts)
	require.NoError(t, err)
	return h
}

func (h *harness) suite() *testsuite.WorkflowTestSuite {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(testinfra.DetachedOutput(h.t), &slog.HandlerOptions{Level: slog.LevelWarn}))))
	return s
}

// uploadEcho stores an echo.json template as the user's file.
func (h *harness) uploadEcho(spec string) *db.File {
	h.t.Helper()
	data, err := echo.TarJSON(spec)
	require.NoError(h.t, err)
	sum := sha256.Sum256(data)
	f, _, err := h.store.InsertFile(h.ctx, &db.File{
		ID: uuid.New(), Hash: hex.EncodeToString(sum[:]), CreatedBy: h.user.ID, CreatedAt: db.Now(),
		Mimetype: "application/x-tar", Data: data,
	})
	require.NoError(h.t, err)
	return f
}

// createImport inserts a template version and its import job in one
// transaction, as the API's createTemplateVersion does.
func (h *harness) createImport(spec string, vars ...db.VariableValue) (*db.ProvisionerJob, *db.TemplateVersion) {
	h.t.Helper()
	file := h.uploadEcho(spec)
	now := db.Now()
	versionID := uuid.New()
	input, err := json.Marshal(db.JobInput{
		TemplateVersionID:  uuid.NullUUID{UUID: versionID, Valid: true},
		UserVariableValues: vars,
	})
	require.NoError(h.t, err)
	job := &db.ProvisionerJob{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OrganizationID: h.org.ID, InitiatorID: h.user.ID,
		Provisioner: "echo", StorageMethod: "file", Type: db.JobTypeTemplateVersionImport,
		Input: input, Tags: db.UntaggedTags(), FileID: file.ID, TaskQueue: testQueue,
	}
	v := &db.TemplateVersion{
		ID: versionID, OrganizationID: h.org.ID, Name: "v-" + versionID.String()[:8], JobID: job.ID,
		CreatedBy: h.user.ID, CreatedAt: now, UpdatedAt: now,
	}
	require.NoError(h.t, h.store.InTx(h.ctx, func(tx *db.Store) error {
		if err := tx.InsertJob(h.ctx, job); err != nil {
			return err
		}
		return tx.InsertTemplateVersion(h.ctx, v)
	}))
	return job, v
}

// runJob runs the RunJob activity in a test activity environment.
func (h *harness) runJob(jobID uuid.UUID) (workflows.RunJobResult, error) {
	env := h.suite().NewTestActivityEnvironment()
	env.RegisterActivity(h.acts)
	var res workflows.RunJobResult
	val, err := env.ExecuteActivity(workflows.ActRunJob, workflows.RunJobInput{JobID: jobID})
	if err != nil {
		return res, err
	}
	require.NoError(h.t, val.Get(&res))
	return res, nil
}

// runResult is what runJob returned.
type runResult struct {
	res workflows.RunJobResult
	err error
}

// startRunJob runs RunJob in the background; its result arrives on the
// channel.
func (h *harness) startRunJob(jobID uuid.UUID) <-chan runResult {
	done := make(chan runResult, 1)
	go func() {
		res, err := h.runJob(jobID)
		done <- runResult{res, err}
	}()
	return done
}

// finishJob runs the FinishJob activity in a test activity environment.
func (h *harness) finishJob(in workflows.FinishJobInput) error {
	env := h.suite().NewTestActivityEnvironment()
	env.RegisterActivity(h.acts)
	_, err := env.ExecuteActivity(workflows.ActFinishJob, in)
	return err
}

func (h *harness) job(id uuid.UUID) *db.ProvisionerJob {
	h.t.Helper()
	j, err := h.store.GetJobByID(h.ctx, id)
	require.NoError(h.t, err)
	return j
}

func (h *harness) logs(jobID uuid.UUID) []db.ProvisionerJobLog {
	h.t.Helper()
	logs, err := h.store.GetJobLogsAfter(h.ctx, jobID, 0)
	require.NoError(h.t, err)
	return logs
}

// requireWorkDirEmpty checks that the job directories were removed.
func (h *harness) requireWorkDirEmpty() {
	h.t.Helper()
	entries, err := os.ReadDir(h.workDir)
	require.NoError(h.t, err)
	require.Empty(h.t, entries, "job directories are removed after the job")
}

// headers returns the stages of the stage header lines, in order.
func headers(logs []db.ProvisionerJobLog) []string {
	var out []string
	for _, l := range logs {
		if l.Source == db.LogSourceDaemon && l.Output == "" {
			out = append(out, l.Stage)
		}
	}
	return out
}

// requireLogShape checks the invariants of any job's log: ids strictly
// increase, and every stage opens with its header (a provisioner_daemon
// info line with empty output), so no real output is ever a stage's first
// line.
func requireLogShape(t *testing.T, logs []db.ProvisionerJobLog) {
	t.Helper()
	for i, l := range logs {
		if i > 0 {
			require.Greater(t, l.ID, logs[i-1].ID, "log ids strictly increase")
		}
		if i == 0 || l.Stage != logs[i-1].Stage {
			require.Equal(t, db.LogSourceDaemon, l.Source, "line %d opens stage %q", i, l.Stage)
			require.Equal(t, provisioner.LevelInfo, l.Level, "line %d opens stage %q", i, l.Stage)
			require.Empty(t, l.Output, "line %d opens stage %q", i, l.Stage)
		}
		require.Contains(t, []string{"trace", "debug", "info", "warn", "error"}, l.Level)
		require.Contains(t, []string{db.LogSourceDaemon, db.LogSourceProvisioner}, l.Source)
		require.Equal(t, time.UTC, l.CreatedAt.Location())
	}
}

// findLog returns the first line with this output.
func findLog(t *testing.T, logs []db.ProvisionerJobLog, output string) db.ProvisionerJobLog {
	t.Helper()
	for _, l := range logs {
		if l.Output == output {
			return l
		}
	}
	t.Fatalf("no log line %q", output)
	return db.ProvisionerJobLog{}
}
