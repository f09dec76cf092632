package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/provisioner/echo"
)

// TestCluster runs berth as a production deployment: a Temporal server
// persisted in PostgreSQL, two `berth server` replicas and three `berth
// worker` processes (one with a tag set of its own), all separate
// processes on one private Postgres cluster. It drives imports, dry-runs
// and builds through both replicas while it SIGKILLs one replica in the
// middle of requests, SIGKILLs a worker in the middle of a build, SIGKILLs
// and restarts the Temporal server, and restarts Postgres under all of
// them. Then every job the API knows of must be terminal and read the same
// through both replicas, with its log lines in order and without gaps
// (against what its echo template emits, both polled and followed across
// the outages), and the queue figures must agree with the jobs' states.
func TestCluster(t *testing.T) {
	t.Parallel()
	if testinfra.CI() {
		// In CI the cluster must run against the binaries `make test` built.
		for _, v := range []string{"BERTH_BIN", "TEMPORAL_SERVER"} {
			if os.Getenv(v) == "" {
				testinfra.Unavailable(t, v)
			}
		}
	}
	cl := startCluster(t)
	ctx := t.Context()

	// Templates, imported through one replica each.
	cl.stream = cl.template(0, "stream", streamSpec(6, 6, 100*time.Millisecond), nil)
	cl.slow = cl.template(1, "slow", streamSpec(3, 50, 200*time.Millisecond), nil)
	cl.check("tagged queue before the outages", func() { cl.checkQueue("q1") })

	cl.check("kill -9 an API replica mid-request", func() {
		cl.wave("k")
		cl.killReplicaMidRequest(0)
	})

	var lost map[uuid.UUID]bool
	cl.check("kill -9 a worker mid-build", func() { lost = cl.killWorkerMidBuild() })

	cl.check("restart Temporal", func() {
		cl.wave("t")
		cl.waitRunning()
		restarted := time.Now()
		cl.temporal.Kill()
		time.Sleep(2 * time.Second) // an outage, not just a blip
		require.NoError(t, cl.temporal.Start())
		t.Logf("Temporal back %s after its SIGKILL", time.Since(restarted).Round(time.Millisecond))
	})

	var followed []*follower
	cl.check("restart Postgres", func() {
		ws := cl.createWorkspace(1, cl.slow, "pg-slow")
		for i := range cl.replicas {
			followed = append(followed, cl.follow(i, ws.LatestBuild.ID))
		}
		cl.wave("p")
		runningBuild(t, cl.replica(1).c, ws.LatestBuild.ID)
		restarted := time.Now()
		require.NoError(t, cl.pg.Stop("fast"))
		time.Sleep(2 * time.Second)
		require.NoError(t, cl.pg.Start())
		t.Logf("Postgres back %s after it was stopped", time.Since(restarted).Round(time.Millisecond))
	})

	cl.check("tagged queue after the outages", func() { cl.checkQueue("q2") })

	jobs := cl.waitAllTerminal()
	cl.check("every job reads the same through both replicas", func() { cl.checkJobs(jobs, lost) })
	cl.check("followed logs match the stored ones", func() {
		for _, f := range followed {
			<-f.done
			want := cl.logs(f.replica, sdk.ProvisionerJob{Type: sdk.ProvisionerJobTypeWorkspaceBuild,
				Input: sdk.ProvisionerJobInput{WorkspaceBuildID: &f.build}})
			require.Equal(t, want, f.got, "logs followed through %s across the Postgres restart (%d connections)",
				cl.replica(f.replica).name, f.connections)
			t.Logf("followed %d lines through %s over %d connections", len(f.got), cl.replica(f.replica).name, f.connections)
		}
	})
	cl.check("queue figures are honest once the jobs ended", func() { cl.checkIdle(ctx) })
}

// Cluster topology.
const (
	taggedWorker = "w3"
	taggedKey    = "pool"
	taggedValue  = "special"
)

// cluster is the deployment TestCluster drives.
type cluster struct {
	t        *testing.T
	e        *env
	pg       *testinfra.PostgresCluster
	temporal *testinfra.TemporalProcess
	store    *db.Store
	token    string
	org      uuid.UUID

	mu       sync.Mutex
	replicas [2]*replica
	workers  map[string]*proc // the live worker processes by name
	flags    map[string][]string

	stream, slow sdk.Template
	names        atomic.Int64
	created      []uuid.UUID // the job of every create request that succeeded
}

// track records a job a create request returned.
func (cl *cluster) track(id uuid.UUID) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.created = append(cl.created, id)
}

// replica is one `berth server` process.
type replica struct {
	name string
	addr string
	proc *proc
	c    *sdk.Client
}

func startCluster(t *testing.T) *cluster {
	ctx := t.Context()
	started := time.Now()
	pg := testinfra.StartPostgresCluster(t)
	dbURL := pg.BerthDB(t, "berth")
	ts := testinfra.StartTemporalServerOn(t, pg.URL("postgres"))
	t.Logf("Postgres and Temporal up in %s", time.Since(started).Round(time.Millisecond))

	cl := &cluster{
		t: t, pg: pg, temporal: ts,
		e:       &env{t: t, dbURL: dbURL, temporal: ts.Addr, prefix: testinfra.TaskQueuePrefix(t)},
		workers: map[string]*proc{},
		flags: map[string][]string{
			"w1":         {"--provisioner", "echo"},
			"w2":         {"--provisioner", "echo"},
			taggedWorker: {"--provisioner", "echo", "--tag", taggedKey + "=" + taggedValue, "--max-concurrent-jobs", "1"},
		},
	}
	cl.store = cl.e.store()
	for i := range cl.replicas {
		r := &replica{name: fmt.Sprintf("api%d", i), addr: freeAddr(t)}
		r.proc, r.c = cl.e.startServerAt(r.addr)
		cl.replicas[i] = r
	}
	for _, name := range []string{"w1", "w2", taggedWorker} {
		cl.workers[name] = cl.e.startWorker(cl.store, name, cl.flags[name]...)
	}
	owner := login(ctx, t, cl.replicas[0].c)
	cl.token, cl.org = cl.replicas[0].c.SessionToken(), owner.OrganizationID
	cl.replicas[1].c.SetSessionToken(cl.token)
	// Registered last, so it runs while the processes still live.
	t.Cleanup(func() {
		if t.Failed() {
			cl.dumpJobs()
		}
	})
	t.Logf("cluster up in %s", time.Since(started).Round(time.Millisecond))
	return cl
}

// dumpJobs logs every job's row, for a failed test.
func (cl *cluster) dumpJobs() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rows []struct {
		ID                uuid.UUID     `bun:"id"`
		Type              string        `bun:"type"`
		CreatedAt         time.Time     `bun:"created_at"`
		StartedAt         *time.Time    `bun:"started_at"`
		UpdatedAt         time.Time     `bun:"updated_at"`
		CompletedAt       *time.Time    `bun:"completed_at"`
		WorkflowStartedAt *time.Time    `bun:"workflow_started_at"`
		WorkerID          uuid.NullUUID `bun:"worker_id"`
		Attempts          int           `bun:"attempts"`
		TaskQueue         string        `bun:"task_queue"`
		Error             string        `bun:"error"`
	}
	err := cl.store.DB().NewRaw(`SELECT id, type, created_at, started_at, updated_at, completed_at, workflow_started_at,
		worker_id, attempts, task_queue, coalesce(error, '') AS error FROM provisioner_jobs ORDER BY created_at`).Scan(ctx, &rows)
	if err != nil {
		cl.t.Logf("dump jobs: %v", err)
		return
	}
	var b strings.Builder
	ts := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format("15:04:05.000")
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "\t%s %s created %s workflow %s started %s updated %s completed %s worker %s attempts %d queue %s %q\n",
			r.ID, r.Type, ts(&r.CreatedAt), ts(r.WorkflowStartedAt), ts(r.StartedAt), ts(&r.UpdatedAt), ts(r.CompletedAt),
			r.WorkerID.UUID, r.Attempts, r.TaskQueue[len(r.TaskQueue)-12:], r.Error)
	}
	cl.t.Logf("jobs at the end:\n%s", b.String())

	// Temporal's view of the jobs still active, and of their queues.
	tc, err := client.DialContext(ctx, client.Options{HostPort: cl.temporal.Addr, Namespace: "default",
		Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		cl.t.Logf("dial temporal: %v", err)
		return
	}
	defer tc.Close()
	queues := map[string]bool{}
	for _, r := range rows {
		if r.CompletedAt != nil {
			continue
		}
		queues[r.TaskQueue] = true
		desc, err := tc.DescribeWorkflowExecution(ctx, r.ID.String(), "")
		if err != nil {
			cl.t.Logf("workflow %s: %v", r.ID, err)
			continue
		}
		info := desc.GetWorkflowExecutionInfo()
		wt := desc.GetPendingWorkflowTask()
		cl.t.Logf("workflow %s: %s on %s, workflow task %s (attempt %d, scheduled %s, started %s), pending activities %d",
			r.ID, info.GetStatus(), info.GetTaskQueue()[len(info.GetTaskQueue())-12:], wt.GetState(), wt.GetAttempt(),
			wt.GetScheduledTime().AsTime().Format("15:04:05.000"), wt.GetStartedTime().AsTime().Format("15:04:05.000"),
			len(desc.GetPendingActivities()))
	}
	for q := range queues {
		resp, err := tc.DescribeTaskQueue(ctx, q, enums.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			cl.t.Logf("task queue %s: %v", q, err)
			continue
		}
		var pollers []string
		for _, p := range resp.GetPollers() {
			pollers = append(pollers, fmt.Sprintf("%s at %s", p.GetIdentity(), p.GetLastAccessTime().AsTime().Format("15:04:05.000")))
		}
		cl.t.Logf("task queue %s: workflow pollers %v", q, pollers)
	}
}

// check runs one step of the test as a subtest-like section whose name
// and duration go to the log.
func (cl *cluster) check(name string, fn func()) {
	cl.t.Helper()
	start := time.Now()
	fn()
	cl.t.Logf("%s: done in %s", name, time.Since(start).Round(time.Millisecond))
}

func (cl *cluster) replica(i int) *replica {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.replicas[i]
}

// streamSpec is an echo template whose plan (for start) and apply write
// numbered lines, "p-3/6" and "a-3/6", one every delay.
func streamSpec(plan, apply int, delay time.Duration) string {
	lines := func(prefix string, n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{"output": fmt.Sprintf("%s-%d/%d", prefix, i+1, n), "delay_ms": delay.Milliseconds()}
		}
		return out
	}
	b, err := json.Marshal(map[string]any{"version": 1, "steps": map[string]any{
		"plan:start":  map[string]any{"logs": lines("p", plan)},
		"apply:start": map[string]any{"logs": lines("a", apply), "state": "up"},
	}})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// importVersion uploads spec and creates a template version from it
// through c; errors are returned, for callers that expect some.
func importVersion(ctx context.Context, c *sdk.Client, org uuid.UUID, spec string, tags map[string]string) (sdk.TemplateVersion, error) {
	data, err := echo.TarJSON(spec)
	if err != nil {
		return sdk.TemplateVersion{}, err
	}
	f, err := c.Upload(ctx, sdk.ContentTypeTar, bytes.NewReader(data))
	if err != nil {
		return sdk.TemplateVersion{}, err
	}
	return c.CreateTemplateVersion(ctx, org, sdk.CreateTemplateVersionRequest{
		FileID: f.ID, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file", ProvisionerTags: tags,
	})
}

// template imports spec through replica i and makes a template of it.
func (cl *cluster) template(i int, name, spec string, tags map[string]string) sdk.Template {
	t, ctx := cl.t, cl.t.Context()
	c := cl.replica(i).c
	v, err := importVersion(ctx, c, cl.org, spec, tags)
	require.NoError(t, err)
	cl.track(v.Job.ID)
	v = berthtest.WaitJob(ctx, t, c, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)
	tpl, err := c.CreateTemplate(ctx, cl.org, sdk.CreateTemplateRequest{Name: name, VersionID: v.ID})
	require.NoError(t, err)
	return tpl
}

func (cl *cluster) createWorkspace(i int, tpl sdk.Template, prefix string) sdk.Workspace {
	ws, err := cl.replica(i).c.CreateUserWorkspace(cl.t.Context(), "me", sdk.CreateWorkspaceRequest{
		TemplateID: tpl.ID, Name: fmt.Sprintf("%s-%d", prefix, cl.names.Add(1)),
	})
	require.NoError(cl.t, err)
	cl.track(ws.LatestBuild.Job.ID)
	return ws
}

// wave creates, through each replica, an import, a dry-run and a
// workspace (a start build) of the stream template, and leaves them
// running.
func (cl *cluster) wave(label string) {
	t, ctx := cl.t, cl.t.Context()
	for i := range cl.replicas {
		c := cl.replica(i).c
		v, err := importVersion(ctx, c, cl.org, streamSpec(6, 6, 100*time.Millisecond), nil)
		require.NoError(t, err)
		cl.track(v.Job.ID)
		dry, err := c.CreateTemplateVersionDryRun(ctx, cl.stream.ActiveVersionID, sdk.CreateTemplateVersionDryRunRequest{WorkspaceName: "dry"})
		require.NoError(t, err)
		cl.track(dry.ID)
		cl.createWorkspace(i, cl.stream, label)
	}
}

// waitRunning waits until some job is running.
func (cl *cluster) waitRunning() {
	require.EventuallyWithT(cl.t, func(ct *assert.CollectT) {
		jobs, err := cl.replica(1).c.OrganizationProvisionerJobs(cl.t.Context(), cl.org.String(),
			sdk.OrganizationProvisionerJobsOptions{Status: []sdk.ProvisionerJobStatus{sdk.ProvisionerJobRunning}})
		if assert.NoError(ct, err) {
			assert.NotEmpty(ct, jobs)
		}
	}, time.Minute, 20*time.Millisecond)
}

// killReplicaMidRequest SIGKILLs replica i while clients have requests
// that create jobs in flight on it, then starts it again on its address.
func (cl *cluster) killReplicaMidRequest(i int) {
	t, ctx := cl.t, cl.t.Context()
	r := cl.replica(i)
	var inflight, succeeded, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				inflight.Add(1)
				var (
					job uuid.UUID
					err error
				)
				if g%2 == 0 {
					var v sdk.TemplateVersion
					v, err = importVersion(ctx, r.c, cl.org, streamSpec(4, 4, 100*time.Millisecond), nil)
					job = v.Job.ID
				} else {
					var ws sdk.Workspace
					ws, err = r.c.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{
						TemplateID: cl.stream.ID, Name: fmt.Sprintf("kill-%d", cl.names.Add(1)),
					})
					job = ws.LatestBuild.Job.ID
				}
				inflight.Add(-1)
				if err != nil {
					// The replica is gone; whether the job was committed
					// or not, the listing at the end shows.
					failed.Add(1)
					return
				}
				cl.track(job)
				succeeded.Add(1)
			}
		})
	}
	require.Eventually(t, func() bool { return succeeded.Load() >= 4 && inflight.Load() >= 2 },
		time.Minute, time.Millisecond, "requests on %s", r.name)
	n := inflight.Load()
	r.proc.signal(syscall.SIGKILL)
	<-r.proc.done
	close(stop)
	wg.Wait()
	t.Logf("SIGKILLed %s with %d requests in flight (%d had succeeded, %d failed)", r.name, n, succeeded.Load(), failed.Load())

	nr := &replica{name: r.name, addr: r.addr}
	nr.proc, nr.c = cl.e.startServerAt(r.addr)
	nr.c.SetSessionToken(cl.token)
	cl.mu.Lock()
	cl.replicas[i] = nr
	cl.mu.Unlock()
}

// killWorkerMidBuild SIGKILLs the worker running a slow build once its
// apply has written a few lines, starts a replacement, and returns the
// jobs the worker was running when it died, the slow build among them.
func (cl *cluster) killWorkerMidBuild() map[uuid.UUID]bool {
	t, ctx := cl.t, cl.t.Context()
	ws := cl.createWorkspace(0, cl.slow, "doomed")
	id := ws.LatestBuild.ID
	var worker string
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		b, err := cl.replica(1).c.WorkspaceBuild(ctx, id)
		if !assert.NoError(ct, err) {
			return
		}
		assert.Equal(ct, sdk.ProvisionerJobRunning, b.Job.Status)
		worker = b.Job.WorkerName
		logs, err := cl.replica(1).c.WorkspaceBuildLogsAfter(ctx, id, 0)
		if assert.NoError(ct, err) {
			assert.True(ct, slices.ContainsFunc(logs, func(l sdk.ProvisionerJobLog) bool { return l.Output == "a-3/50" }),
				"the apply is under way")
		}
	}, time.Minute, 20*time.Millisecond)
	// Imports and dry-runs on their way too: those the killed worker
	// took are run again elsewhere.
	cl.wave("w")
	cl.waitRunning()
	cl.mu.Lock()
	p, ok := cl.workers[worker]
	delete(cl.workers, worker)
	cl.mu.Unlock()
	require.True(t, ok, "build runs on %q, not one of the workers", worker)
	p.signal(syscall.SIGKILL)
	<-p.done
	// Nothing starts or ends on the dead worker now.
	running, err := cl.replica(1).c.OrganizationProvisionerJobs(ctx, cl.org.String(),
		sdk.OrganizationProvisionerJobsOptions{Status: []sdk.ProvisionerJobStatus{sdk.ProvisionerJobRunning}})
	require.NoError(t, err)
	lost := map[uuid.UUID]bool{}
	var kinds []string
	for _, j := range running {
		if j.WorkerName == worker {
			lost[j.ID] = true
			kinds = append(kinds, string(j.Type))
		}
	}
	require.True(t, lost[ws.LatestBuild.Job.ID], "the slow build was running on %s", worker)
	t.Logf("SIGKILLed worker %s in the middle of build %s; it was running %v", worker, id, kinds)

	// A replacement with the same tag set (and a name of its own, since the
	// dead worker's daemon row stays fresh for a while).
	name := worker + "b"
	cl.flags[name] = cl.flags[worker]
	np := cl.e.startWorker(cl.store, name, cl.flags[name]...)
	cl.mu.Lock()
	cl.workers[name] = np
	cl.mu.Unlock()
	return lost
}

// checkQueue creates three slow jobs that only the tagged worker (one job
// at a time) may run, through both replicas, and checks what both replicas
// say about their queue while they wait: the pending ones are numbered 1..n
// in the order they were created, in a queue of n, and the running one is
// the tagged worker's current job.
func (cl *cluster) checkQueue(label string) {
	t, ctx := cl.t, cl.t.Context()
	tags := map[string]string{taggedKey: taggedValue}
	var ids []uuid.UUID
	for k := range 3 {
		v, err := importVersion(ctx, cl.replica(k%2).c, cl.org, streamSpec(15, 0, 100*time.Millisecond), tags)
		require.NoError(t, err)
		cl.track(v.Job.ID)
		ids = append(ids, v.Job.ID)
	}
	var seen []string // the distinct states passed through, for the log
	defer func() {
		t.Logf("queue %s (status position/size of each job, oldest first) went through:\n\t%s", label, strings.Join(seen, "\n\t"))
	}()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		for i := range cl.replicas {
			c := cl.replica(i).c
			jobs, err := c.OrganizationProvisionerJobs(ctx, cl.org.String(), sdk.OrganizationProvisionerJobsOptions{IDs: ids})
			if !assert.NoError(ct, err) || !assert.Len(ct, jobs, len(ids)) {
				return
			}
			slices.SortFunc(jobs, func(a, b sdk.ProvisionerJob) int { return a.CreatedAt.Compare(b.CreatedAt) })
			state := cl.replica(i).name + ":"
			for _, j := range jobs {
				state += fmt.Sprintf(" %s %d/%d", j.Status, j.QueuePosition, j.QueueSize)
			}
			if len(seen) == 0 || seen[len(seen)-1] != state {
				seen = append(seen, state)
			}
			var pending []sdk.ProvisionerJob
			var running *sdk.ProvisionerJob
			for _, j := range jobs {
				switch j.Status {
				case sdk.ProvisionerJobPending:
					pending = append(pending, j)
				case sdk.ProvisionerJobRunning:
					running = &j
					assert.Equal(ct, taggedWorker, j.WorkerName, "only the tagged worker takes tagged jobs")
					fallthrough
				default:
					assert.Zero(ct, j.QueuePosition, "a %s job has no queue position", j.Status)
					assert.Zero(ct, j.QueueSize, "a %s job is in no queue", j.Status)
				}
			}
			// A wait worth checking: one job running, the others behind it.
			if !assert.NotNil(ct, running) || !assert.NotEmpty(ct, pending) {
				return
			}
			for k, j := range pending {
				assert.Equal(ct, k+1, j.QueuePosition, "position of pending job %d of %d", k+1, len(pending))
				assert.Equal(ct, len(pending), j.QueueSize, "queue size seen by pending job %d", k+1)
			}
			daemons, err := c.ProvisionerDaemons(ctx, cl.org)
			if !assert.NoError(ct, err) {
				return
			}
			var busy bool
			for _, d := range daemons {
				if d.CurrentJob != nil && d.CurrentJob.ID == running.ID {
					busy = true
					assert.Equal(ct, taggedWorker, d.Name)
					assert.Equal(ct, sdk.ProvisionerDaemonBusy, d.Status)
				}
			}
			assert.True(ct, busy, "a daemon shows the running job as its current job")
		}
	}, time.Minute, 20*time.Millisecond, "queue %s", label)
}

// follower follows a build's logs through one replica, as a client would:
// when the socket closes before the job ended, it connects again after
// the last line it got.
type follower struct {
	replica     int
	build       uuid.UUID
	got         []sdk.ProvisionerJobLog
	connections int
	done        chan struct{}
}

func (cl *cluster) follow(i int, build uuid.UUID) *follower {
	f := &follower{replica: i, build: build, done: make(chan struct{})}
	ctx := cl.t.Context()
	go func() {
		defer close(f.done)
		deadline := time.Now().Add(4 * time.Minute)
		var after int64
		for time.Now().Before(deadline) && ctx.Err() == nil {
			c := cl.replica(i).c
			// Whether the job had ended before this connection: then the
			// connection returns every line left and closes.
			b, err := c.WorkspaceBuild(ctx, build)
			ended := err == nil && !b.Job.Status.Active()
			logs, closer, err := c.WorkspaceBuildLogsFollow(ctx, build, after)
			if err != nil {
				time.Sleep(100 * time.Millisecond) // the replica or its database is away
				continue
			}
			f.connections++
			for l := range logs {
				f.got = append(f.got, l)
				after = l.ID
			}
			_ = closer.Close()
			if ended {
				return
			}
		}
	}()
	return f
}

// waitAllTerminal waits until every job the API lists is terminal and
// returns them.
func (cl *cluster) waitAllTerminal() []sdk.ProvisionerJob {
	t, ctx := cl.t, cl.t.Context()
	start := time.Now()
	var jobs []sdk.ProvisionerJob
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var err error
		jobs, err = cl.replica(1).c.OrganizationProvisionerJobs(ctx, cl.org.String(), sdk.OrganizationProvisionerJobsOptions{Limit: 1000})
		if !assert.NoError(ct, err) {
			return
		}
		for _, j := range jobs {
			assert.False(ct, j.Status.Active(), "job %s (%s, created %s) is still %s on worker %q",
				j.ID, j.Type, j.CreatedAt.Format(time.RFC3339Nano), j.Status, j.WorkerName)
		}
	}, 3*time.Minute, 250*time.Millisecond, "every job ends")
	require.Less(t, len(jobs), 1000, "the listing holds every job")
	t.Logf("all %d jobs terminal %s after the last outage", len(jobs), time.Since(start).Round(time.Millisecond))
	return jobs
}

// logs reads a job's logs through replica i.
func (cl *cluster) logs(i int, j sdk.ProvisionerJob) []sdk.ProvisionerJobLog {
	t, ctx := cl.t, cl.t.Context()
	c := cl.replica(i).c
	var (
		logs []sdk.ProvisionerJobLog
		err  error
	)
	switch j.Type {
	case sdk.ProvisionerJobTypeTemplateVersionImport:
		logs, err = c.TemplateVersionLogsAfter(ctx, *j.Input.TemplateVersionID, 0)
	case sdk.ProvisionerJobTypeTemplateVersionDryRun:
		logs, err = c.TemplateVersionDryRunLogsAfter(ctx, *j.Input.TemplateVersionID, j.ID, 0)
	case sdk.ProvisionerJobTypeWorkspaceBuild:
		logs, err = c.WorkspaceBuildLogsAfter(ctx, *j.Input.WorkspaceBuildID, 0)
	default:
		t.Fatalf("job %s has type %q", j.ID, j.Type)
	}
	require.NoError(t, err, "logs of %s job %s", j.Type, j.ID)
	return logs
}

// checkJobs checks every job through both replicas: the same listing, the
// same logs, the logs in order and gap-free, and each outcome explained.
// lost holds the jobs running on the worker that was killed.
func (cl *cluster) checkJobs(jobs []sdk.ProvisionerJob, lost map[uuid.UUID]bool) {
	t, ctx := cl.t, cl.t.Context()
	other, err := cl.replica(0).c.OrganizationProvisionerJobs(ctx, cl.org.String(), sdk.OrganizationProvisionerJobsOptions{Limit: 1000})
	require.NoError(t, err)
	require.Equal(t, jobs, other, "both replicas list the same jobs")

	listed := map[uuid.UUID]bool{}
	for _, j := range jobs {
		listed[j.ID] = true
	}
	cl.mu.Lock()
	created := slices.Clone(cl.created)
	cl.mu.Unlock()
	for _, id := range created {
		require.True(t, listed[id], "job %s, created by a request that succeeded, is listed", id)
	}
	t.Logf("%d jobs listed, %d of them created by requests that got an answer", len(jobs), len(created))

	outcomes := map[string]int{}
	sawLost := 0
	for _, j := range jobs {
		require.Zero(t, j.QueuePosition, "job %s is %s", j.ID, j.Status)
		require.Zero(t, j.QueueSize, "job %s is %s", j.ID, j.Status)
		logs := cl.logs(1, j)
		require.Equal(t, logs, cl.logs(0, j), "job %s reads the same logs through both replicas", j.ID)
		complete, attempts := checkLogLines(t, j, logs)
		outcomes[fmt.Sprintf("%s %s", j.Type, j.Status)]++
		if attempts > 1 {
			outcomes[fmt.Sprintf("%s retried", j.Type)]++
		}
		if lost[j.ID] {
			sawLost++
		}
		switch {
		case lost[j.ID]:
			// Another worker ran it again: an import or dry-run from the
			// start, a build from its last checkpoint.
			require.Equal(t, sdk.ProvisionerJobSucceeded, j.Status, "%s job %s, whose worker was killed: %s", j.Type, j.ID, j.Error)
			require.True(t, complete, "%s job %s has every line its template writes", j.Type, j.ID)
			require.Greater(t, attempts, 1, "%s job %s was run again", j.Type, j.ID)
		case j.Status == sdk.ProvisionerJobSucceeded:
			require.True(t, complete, "succeeded %s job %s has every line its template writes", j.Type, j.ID)
		default:
			t.Errorf("%s job %s ended %s: %q (worker %q)", j.Type, j.ID, j.Status, j.Error, j.WorkerName)
		}
	}
	require.Equal(t, len(lost), sawLost, "the jobs of the killed worker are listed")
	t.Logf("outcomes: %v", outcomes)
}

// scriptLine matches the lines streamSpec writes, and resumed says where
// echo resumed an interrupted apply.
var (
	scriptLine = regexp.MustCompile(`^([pa])-(\d+)/(\d+)$`)
	resumed    = regexp.MustCompile(`^echo: resuming after line (\d+)$`)
)

// checkLogLines checks a job's logs: IDs strictly increase, and each
// attempt (a retried import starts with a "Retrying" line, a resumed build
// with a "resuming on" line) writes its template's numbered lines in order
// without a gap, the plan's before the apply's; a resumed apply goes on
// after the line its checkpoint holds. It reports whether the last attempt wrote all the lines a
// successful job of its type writes, and how many attempts there were.
func checkLogLines(t *testing.T, j sdk.ProvisionerJob, logs []sdk.ProvisionerJobLog) (complete bool, attempts int) {
	t.Helper()
	type progress struct{ last, total int }
	var attempt map[string]*progress
	for k, l := range logs {
		if k > 0 {
			require.Greater(t, l.ID, logs[k-1].ID, "log IDs of job %s increase", j.ID)
		}
		if k == 0 || l.Source == sdk.LogSourceProvisionerDaemon &&
			(strings.HasPrefix(l.Output, "Retrying (attempt") || strings.Contains(l.Output, "; resuming on ")) {
			attempt = map[string]*progress{"p": {}, "a": {}}
			attempts++
		}
		if l.Source != sdk.LogSourceProvisioner {
			continue
		}
		if m := resumed.FindStringSubmatch(l.Output); m != nil {
			require.Greater(t, attempts, 1, "job %s: only a resumed build resumes", j.ID)
			attempt["a"].last, _ = strconv.Atoi(m[1])
			continue
		}
		m := scriptLine.FindStringSubmatch(l.Output)
		require.NotNil(t, m, "job %s: line %d %q is not one the template writes", j.ID, l.ID, l.Output)
		n, _ := strconv.Atoi(m[2])
		total, _ := strconv.Atoi(m[3])
		p := attempt[m[1]]
		require.Equal(t, p.last+1, n, "job %s: line %q follows line %d of %s: lines lost, repeated or out of order\n%s",
			j.ID, l.Output, p.last, m[1], formatLogs(logs))
		p.last, p.total = n, total
		if m[1] == "a" {
			require.Equal(t, attempt["p"].total, attempt["p"].last, "job %s: the apply starts once the plan is done", j.ID)
		}
	}
	if attempt == nil {
		return false, 0
	}
	done := func(p *progress) bool { return p.total > 0 && p.last == p.total }
	switch j.Type {
	case sdk.ProvisionerJobTypeWorkspaceBuild:
		return done(attempt["p"]) && done(attempt["a"]), attempts
	default:
		return done(attempt["p"]) && attempt["a"].last == 0, attempts
	}
}

func formatLogs(logs []sdk.ProvisionerJobLog) string {
	var b strings.Builder
	for _, l := range logs {
		fmt.Fprintf(&b, "\t%d %s %s %s %q\n", l.ID, l.Source, l.Level, l.Stage, l.Output)
	}
	return b.String()
}

// checkIdle checks the daemons once every job ended: none is busy or
// shows a current job, through either replica.
func (cl *cluster) checkIdle(ctx context.Context) {
	t := cl.t
	for i := range cl.replicas {
		daemons, err := cl.replica(i).c.ProvisionerDaemons(ctx, cl.org)
		require.NoError(t, err)
		var names []string
		for _, d := range daemons {
			names = append(names, fmt.Sprintf("%s (%s)", d.Name, d.Status))
			require.Nil(t, d.CurrentJob, "daemon %s has a current job though every job ended", d.Name)
			require.NotEqual(t, sdk.ProvisionerDaemonBusy, d.Status, "daemon %s", d.Name)
		}
		require.GreaterOrEqual(t, len(daemons), 4, "the three workers and the replacement")
		t.Logf("daemons through %s: %s", cl.replica(i).name, strings.Join(names, ", "))
	}
}
