// Package e2e drives the built berth binary: a server process and separate
// worker processes on a real Postgres and Temporal, killed and restarted as
// an operator would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/provisioner/echo"
	"github.com/berth-dev/berth/workflows"
)

var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	binary = os.Getenv("BERTH_BIN")
	if binary == "" {
		dir, err := os.MkdirTemp("", "berth-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "berth")
		out, err := exec.Command("go", "build", "-tags", "nomsgpack", "-o", binary, "github.com/berth-dev/berth/cmd/berth").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build berth: %v\n%s", err, out)
			return 1
		}
	}
	return testinfra.Main(m)
}

// env is one deployment made of processes sharing a database and a
// task-queue prefix.
type env struct {
	t        *testing.T
	dbURL    string
	temporal string
	prefix   string
}

func newEnv(t *testing.T) *env {
	_, addr := testinfra.Temporal(t)
	return &env{t: t, dbURL: testinfra.DBURL(t), temporal: addr, prefix: testinfra.TaskQueuePrefix(t)}
}

// proc is a berth child process whose output is shown if the test fails.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (e *env) start(name string, args ...string) *proc {
	t := e.t
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(),
		"BERTH_POSTGRES_URL="+e.dbURL, "TEMPORAL_ADDRESS="+e.temporal, "TEMPORAL_NAMESPACE=default",
		"BERTH_QUEUE_PREFIX="+e.prefix, "BERTH_LOG_FORMAT=text", "BERTH_DANGEROUS_DISABLE_RATE_LIMITS=true")
	p.cmd.Stdout, p.cmd.Stderr = p, p
	require.NoError(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.signal(syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			p.mu.Lock()
			t.Logf("--- %s output ---\n%s", name, p.out.String())
			p.mu.Unlock()
		}
	})
	return p
}

func (p *proc) signal(s syscall.Signal) {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(s)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startServer starts `berth server` (with extra flags) and returns a
// client once it answers.
func (e *env) startServer(flags ...string) *sdk.Client {
	_, c := e.startServerAt(freeAddr(e.t), flags...)
	return c
}

// startServerAt starts `berth server` on addr and returns the process and
// a client once it answers.
func (e *env) startServerAt(addr string, flags ...string) (*proc, *sdk.Client) {
	p := e.start("server "+addr, append([]string{"server", "--address", addr}, flags...)...)
	u, err := url.Parse("http://" + addr)
	require.NoError(e.t, err)
	c := sdk.New(u)
	require.EventuallyWithT(e.t, func(ct *assert.CollectT) {
		_, err := c.BuildInfo(e.t.Context())
		assert.NoError(ct, err)
	}, 60*time.Second, 50*time.Millisecond)
	return p, c
}

// startWorker starts `berth worker` and waits until its daemon row is fresh.
func (e *env) startWorker(store *db.Store, name string, flags ...string) *proc {
	p := e.start("worker "+name, append([]string{"worker", "--name", name}, flags...)...)
	require.EventuallyWithT(e.t, func(ct *assert.CollectT) {
		var n int
		err := store.DB().NewRaw("SELECT count(*) FROM provisioner_daemons WHERE name = ? AND last_seen_at > now() - interval '90 seconds'", name).Scan(e.t.Context(), &n)
		assert.NoError(ct, err)
		assert.Equal(ct, 1, n)
	}, 60*time.Second, 50*time.Millisecond)
	return p
}

func (e *env) store() *db.Store {
	bdb, err := db.Open(db.Options{URL: e.dbURL, MaxConns: 2})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { bdb.Close() })
	return db.NewStore(bdb)
}

// deploy starts a server and one worker on a fresh environment and logs in
// the first user.
func deploy(t *testing.T, worker string) (*env, *db.Store, *sdk.Client, *proc, berthtest.Owner) {
	e := newEnv(t)
	store := e.store()
	c := e.startServer()
	w := e.startWorker(store, worker)
	return e, store, c, w, login(t.Context(), t, c)
}

// runningOn waits until a template version's job runs on the named worker.
func runningOn(t *testing.T, c *sdk.Client, id uuid.UUID, worker string) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		got, err := c.TemplateVersion(t.Context(), id)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobRunning, got.Job.Status)
		assert.Equal(ct, worker, got.Job.WorkerName)
	}, 30*time.Second, 20*time.Millisecond)
}

func login(ctx context.Context, t *testing.T, c *sdk.Client) berthtest.Owner {
	first, err := c.CreateFirstUser(ctx, sdk.CreateFirstUserRequest{Email: "owner@example.com", Username: "owner", Password: berthtest.OwnerPassword})
	require.NoError(t, err)
	res, err := c.LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "owner@example.com", Password: berthtest.OwnerPassword})
	require.NoError(t, err)
	c.SetSessionToken(res.SessionToken)
	return berthtest.Owner{Client: c, UserID: first.UserID, OrganizationID: first.OrganizationID}
}

func createVersion(ctx context.Context, t *testing.T, o berthtest.Owner, spec string) sdk.TemplateVersion {
	fileID := berthtest.UploadEcho(ctx, t, o.Client, spec)
	v, err := o.Client.CreateTemplateVersion(ctx, o.OrganizationID, sdk.CreateTemplateVersionRequest{
		FileID: fileID, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
	})
	require.NoError(t, err)
	return v
}

func TestImportWithSeparateWorkerProcess(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, _, c, _, owner := deploy(t, "w1")

	v := createVersion(ctx, t, owner, `{"version":1,"readme":"hi","steps":{"plan":{"logs":[{"output":"planning ${transition}"}]}}}`)
	v = berthtest.WaitJob(ctx, t, c, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	require.Equal(t, "w1", v.Job.WorkerName)

	tpl, err := c.CreateTemplate(ctx, owner.OrganizationID, sdk.CreateTemplateRequest{Name: "e2e", VersionID: v.ID})
	require.NoError(t, err)
	got, err := c.TemplateByName(ctx, owner.OrganizationID, "e2e")
	require.NoError(t, err)
	require.Equal(t, tpl.ID, got.ID)

	// The job is in Temporal with its search attributes and memo.
	tc, _ := testinfra.Temporal(t)
	desc, err := tc.DescribeWorkflowExecution(ctx, v.Job.ID.String(), "")
	require.NoError(t, err)
	info := desc.GetWorkflowExecutionInfo()
	require.Equal(t, "ProvisionerJob", info.GetType().GetName())
	attrs := info.GetSearchAttributes().GetIndexedFields()
	require.Contains(t, attrs, workflows.AttrJobType.GetName())
	require.Contains(t, attrs, workflows.AttrOrganizationID.GetName())
	require.Contains(t, info.GetMemo().GetFields(), "template_version")
}

// TestWorkerKilledMidImport SIGKILLs the worker running an import; after the
// heartbeat timeout the retried attempt finishes the job on another worker.
func TestWorkerKilledMidImport(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e, store, c, first, owner := deploy(t, "doomed")

	v := createVersion(ctx, t, owner, `{"version":1,"steps":{"plan:start":{"logs":[{"output":"slow","delay_ms":4000}]}}}`)
	runningOn(t, c, v.ID, "doomed")
	first.signal(syscall.SIGKILL)
	<-first.done

	e.startWorker(store, "rescuer")
	v = berthtest.WaitJob(ctx, t, c, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	require.Equal(t, "rescuer", v.Job.WorkerName)
	logs, err := c.TemplateVersionLogsAfter(ctx, v.ID, 0)
	require.NoError(t, err)
	var retried bool
	for _, l := range logs {
		retried = retried || l.Level == sdk.LogLevelWarn && l.Source == sdk.LogSourceProvisionerDaemon
	}
	require.True(t, retried, "the retried attempt says so in the logs")
}

// TestServerReconcilesOrphanedJob commits a job as an API would and "dies"
// before starting its workflow; a server started afterwards starts it.
func TestServerReconcilesOrphanedJob(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEnv(t)
	store := e.store()
	org, err := store.GetDefaultOrganization(ctx)
	require.NoError(t, err)
	now := db.Now()
	user := &db.User{ID: uuid.New(), Email: "o@example.com", Username: "o", HashedPassword: []byte("x"),
		Status: "active", LoginType: "password", RBACRoles: []string{"owner"}, CreatedAt: now, UpdatedAt: now, LastSeenAt: now}
	require.NoError(t, store.InsertUser(ctx, user))
	data, err := echo.TarJSON(`{"version":1}`)
	require.NoError(t, err)
	file, _, err := store.InsertFile(ctx, &db.File{ID: uuid.New(), Hash: "h", CreatedBy: user.ID, CreatedAt: now, Mimetype: "application/x-tar", Data: data})
	require.NoError(t, err)
	versionID := uuid.New()
	input, err := json.Marshal(db.JobInput{TemplateVersionID: uuid.NullUUID{UUID: versionID, Valid: true}})
	require.NoError(t, err)
	tags := db.UntaggedTags()
	job := &db.ProvisionerJob{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OrganizationID: org.ID, InitiatorID: user.ID,
		Provisioner: "echo", StorageMethod: "file", Type: db.JobTypeTemplateVersionImport, Input: input, Tags: tags,
		FileID: file.ID, TaskQueue: workflows.Queues{Prefix: e.prefix}.Provisioner(org.ID, []string{"echo"}, tags),
	}
	require.NoError(t, store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.InsertJob(ctx, job); err != nil {
			return err
		}
		return tx.InsertTemplateVersion(ctx, &db.TemplateVersion{ID: versionID, OrganizationID: org.ID, Name: "orphan",
			JobID: job.ID, CreatedBy: user.ID, CreatedAt: now, UpdatedAt: now})
	}))

	e.startServer()
	e.startWorker(store, "w1")
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		j, err := store.GetJobByID(ctx, job.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, db.JobSucceeded, j.Status)
	}, 90*time.Second, 100*time.Millisecond)
}
