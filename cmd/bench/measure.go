package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/provisioner/echo"
)

// Echo templates. Imports parse and plan an empty script; workspaces have a
// parameter and a resource, so a build writes parameters and resources;
// the log template writes lines apart in its parse step.
const (
	importSpec    = `{"version":1,"readme":"bench"}`
	workspaceSpec = `{"version":1,"readme":"bench",
		"parameters":[{"name":"size","type":"string","default_value":"small","mutable":true}],
		"resources":[{"name":"dev","type":"echo_instance","transitions":["start","stop"],
			"metadata":[{"key":"size","value":"${param:size}"}]}]}`
	logOutput = "bench log line"
)

func logSpec(lines int, delay time.Duration) string {
	return fmt.Sprintf(`{"version":1,"steps":{"parse":{"logs":[{"output":%q,"delay_ms":%d,"repeat":%d}]}}}`,
		logOutput, delay.Milliseconds(), lines)
}

const ownerPassword = "Bench-Passw0rd-Long-Enough!"

// bench holds the client and the fixtures the measurements share.
type bench struct {
	cfg      config
	rep      *Report
	problems *problems
	dep      *deployment // nil with --target

	c          *sdk.Client
	orgID      uuid.UUID
	tag        string // makes names unique on a shared deployment
	importFile uuid.UUID
	logFile    uuid.UUID
	workspaces []*benchWorkspace
	protoBuild uuid.UUID // a completed start build made by the API, copied by the seeder
}

// benchWorkspace is owned by one build client at a time.
type benchWorkspace struct {
	id   uuid.UUID
	next sdk.WorkspaceTransition
}

// setup logs in, uploads the templates and creates the build workspaces.
func (b *bench) setup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	base := b.cfg.Target
	if b.dep != nil {
		base = b.dep.apiURL.String()
	}
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("--target: %w", err)
	}
	b.c = sdk.New(u)
	// Enough idle connections for every client and poller, so polling
	// every few milliseconds does not open a connection each time.
	b.c.HTTPClient = &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
	}
	b.tag = randomHex(3)

	if b.dep != nil {
		first, err := b.c.CreateFirstUser(ctx, sdk.CreateFirstUserRequest{Email: "bench@example.com", Username: "bench", Password: ownerPassword})
		if err != nil {
			return fmt.Errorf("create first user: %w", err)
		}
		res, err := b.c.LoginWithPassword(ctx, sdk.LoginWithPasswordRequest{Email: "bench@example.com", Password: ownerPassword})
		if err != nil {
			return fmt.Errorf("log in: %w", err)
		}
		b.c.SetSessionToken(res.SessionToken)
		b.orgID = first.OrganizationID
	} else {
		b.c.SetSessionToken(b.cfg.Token)
		orgs, err := b.c.OrganizationsByUser(ctx, "me")
		if err != nil {
			return fmt.Errorf("list organizations of the token's user: %w", err)
		}
		if len(orgs) == 0 {
			return errors.New("the token's user is in no organization")
		}
		b.orgID = orgs[0].ID
		for _, o := range orgs {
			if o.IsDefault {
				b.orgID = o.ID
			}
		}
	}

	if b.importFile, err = b.upload(ctx, importSpec); err != nil {
		return err
	}
	if b.logFile, err = b.upload(ctx, logSpec(b.cfg.LogLines, b.cfg.LogDelay)); err != nil {
		return err
	}
	wsFile, err := b.upload(ctx, workspaceSpec)
	if err != nil {
		return err
	}
	v, err := b.c.CreateTemplateVersion(ctx, b.orgID, sdk.CreateTemplateVersionRequest{
		FileID: wsFile, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
	})
	if err != nil {
		return fmt.Errorf("create template version: %w", err)
	}
	job, err := b.waitJob(ctx, 10*time.Millisecond, func(ctx context.Context) (sdk.ProvisionerJob, error) {
		tv, err := b.c.TemplateVersion(ctx, v.ID)
		return tv.Job, err
	})
	if err != nil || job.Status != sdk.ProvisionerJobSucceeded {
		return fmt.Errorf("workspace template import: %s %s %v", job.Status, job.Error, err)
	}
	tpl, err := b.c.CreateTemplate(ctx, b.orgID, sdk.CreateTemplateRequest{Name: "bench-" + b.tag, VersionID: v.ID})
	if err != nil {
		return fmt.Errorf("create template: %w", err)
	}

	logf("creating %d workspaces", b.cfg.BuildWorkspaces)
	for i := range b.cfg.BuildWorkspaces {
		ws, err := b.c.CreateUserWorkspace(ctx, "me", sdk.CreateWorkspaceRequest{
			TemplateID: tpl.ID, Name: fmt.Sprintf("bench-%s-%d", b.tag, i+1),
		})
		if err != nil {
			return fmt.Errorf("create workspace: %w", err)
		}
		job, err := b.waitBuild(ctx, ws.LatestBuild.ID, 10*time.Millisecond)
		if err != nil || job.Status != sdk.ProvisionerJobSucceeded {
			return fmt.Errorf("first build of workspace %s: %s %s %v", ws.Name, job.Status, job.Error, err)
		}
		if i == 0 {
			b.protoBuild = ws.LatestBuild.ID
		}
		b.workspaces = append(b.workspaces, &benchWorkspace{id: ws.ID, next: sdk.WorkspaceTransitionStop})
	}
	return nil
}

func (b *bench) upload(ctx context.Context, spec string) (uuid.UUID, error) {
	data, err := echo.TarJSON(spec)
	if err != nil {
		return uuid.Nil, fmt.Errorf("build echo archive: %w", err)
	}
	res, err := b.c.Upload(ctx, sdk.ContentTypeTar, bytes.NewReader(data))
	if err != nil {
		return uuid.Nil, fmt.Errorf("upload template: %w", err)
	}
	return res.ID, nil
}

// waitJob polls get every interval until the job is terminal, for at most
// --job-timeout. Five API errors in a row end the wait.
func (b *bench) waitJob(ctx context.Context, every time.Duration, get func(context.Context) (sdk.ProvisionerJob, error)) (sdk.ProvisionerJob, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, b.cfg.JobTimeout)
	defer cancel()
	var job sdk.ProvisionerJob
	errs := 0
	for {
		j, err := get(ctx)
		switch {
		case err == nil:
			job, errs = j, 0
			if !j.Status.Active() {
				return j, nil
			}
		case ctx.Err() == nil:
			if errs++; errs >= 5 {
				return job, fmt.Errorf("poll job: %w", err)
			}
		}
		if err := sleep(ctx, every); err != nil {
			if parent.Err() != nil {
				return job, parent.Err()
			}
			return job, fmt.Errorf("job still %q after %s", job.Status, b.cfg.JobTimeout)
		}
	}
}

func (b *bench) waitBuild(ctx context.Context, id uuid.UUID, every time.Duration) (sdk.ProvisionerJob, error) {
	return b.waitJob(ctx, every, func(ctx context.Context) (sdk.ProvisionerJob, error) {
		wb, err := b.c.WorkspaceBuild(ctx, id)
		return wb.Job, err
	})
}

// serverLatency is the job's completed_at - created_at.
func serverLatency(j sdk.ProvisionerJob) time.Duration {
	if j.CompletedAt == nil {
		return 0
	}
	return j.CompletedAt.Sub(j.CreatedAt)
}

// importOnce creates an echo import and polls it until it is terminal.
func (b *bench) importOnce(ctx context.Context, file uuid.UUID) (client, server time.Duration, err error) {
	start := time.Now()
	v, err := b.c.CreateTemplateVersion(ctx, b.orgID, sdk.CreateTemplateVersionRequest{
		FileID: file, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
	})
	if err != nil {
		return 0, 0, fmt.Errorf("create template version: %w", err)
	}
	job, err := b.waitJob(ctx, b.cfg.Poll, func(ctx context.Context) (sdk.ProvisionerJob, error) {
		tv, err := b.c.TemplateVersion(ctx, v.ID)
		return tv.Job, err
	})
	client = time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("import: %w", err)
	}
	if job.Status != sdk.ProvisionerJobSucceeded {
		return 0, 0, fmt.Errorf("import job %s: %s", job.Status, job.Error)
	}
	return client, serverLatency(job), nil
}

// runClients calls fn n times from the given number of goroutines and
// returns the wall time.
func runClients(ctx context.Context, clients, n int, fn func(context.Context)) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				fn(ctx)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// measureImports is (a): echo import latency with one client and with
// --clients clients, and the concurrent import rate.
func (b *bench) measureImports(ctx context.Context) error {
	for range 3 { // warm up connections and caches
		if _, _, err := b.importOnce(ctx, b.importFile); err != nil {
			return fmt.Errorf("warm-up %w", err)
		}
	}
	for _, r := range []struct{ clients, n int }{{1, b.cfg.ImportsSingle}, {b.cfg.Clients, b.cfg.ImportsParallel}} {
		if r.n <= 0 {
			continue
		}
		logf("imports: %d with %d client(s)", r.n, r.clients)
		cpu0 := b.cpu()
		waitProfile := b.profile(ctx, fmt.Sprintf("imports-%dc", r.clients), 5)
		var (
			mu             sync.Mutex
			client, server []time.Duration
			failed         int
		)
		wall := runClients(ctx, r.clients, r.n, func(ctx context.Context) {
			c, s, err := b.importOnce(ctx, b.importFile)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if ctx.Err() == nil {
					b.problems.add("%v", err)
				}
				return
			}
			client, server = append(client, c), append(server, s)
		})
		b.rep.Imports = append(b.rep.Imports, ImportRun{
			Clients: r.clients, Imports: r.n, Succeeded: len(client), Failed: failed,
			Seconds: wall.Seconds(), PerSecond: float64(len(client)) / wall.Seconds(),
			Client: summarize(client), Server: summarize(server),
			CPU: b.cpuSince(cpu0, len(client)),
		})
		waitProfile()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// measureLogs is (d): imports whose parse step writes lines apart, each
// followed over the logs websocket from the start; a line's latency is its
// arrival time minus its created_at (set by the worker when the provisioner
// wrote it).
func (b *bench) measureLogs(ctx context.Context) error {
	run := &LogRun{Lines: b.cfg.LogImports * b.cfg.LogLines}
	b.rep.Logs = run
	var lat []time.Duration
	defer func() { run.Latency = summarize(lat) }()
	for range b.cfg.LogImports {
		v, err := b.c.CreateTemplateVersion(ctx, b.orgID, sdk.CreateTemplateVersionRequest{
			FileID: b.logFile, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
		})
		if err != nil {
			return fmt.Errorf("create template version: %w", err)
		}
		run.Imports++
		logs, closer, err := b.c.TemplateVersionLogsFollow(ctx, v.ID, 0)
		if err != nil {
			return fmt.Errorf("follow logs: %w", err)
		}
		connected := time.Now()
		got := 0
		timeout := time.NewTimer(b.cfg.JobTimeout)
	follow:
		for {
			select {
			case l, ok := <-logs:
				if !ok {
					break follow
				}
				now := time.Now()
				if l.Output != logOutput {
					continue
				}
				got++
				if l.CreatedAt.Before(connected) {
					run.Skipped++
					continue
				}
				lat = append(lat, now.Sub(l.CreatedAt))
			case <-timeout.C:
				b.problems.add("logs: follow stream still open after %s", b.cfg.JobTimeout)
				break follow
			case <-ctx.Done():
				break follow
			}
		}
		timeout.Stop()
		_ = closer.Close()
		if err := ctx.Err(); err != nil {
			return err
		}
		if got != b.cfg.LogLines {
			b.problems.add("logs: the follow stream delivered %d of %d lines", got, b.cfg.LogLines)
		}
		tv, err := b.c.TemplateVersion(ctx, v.ID)
		if err != nil {
			return fmt.Errorf("read template version: %w", err)
		}
		if tv.Job.Status != sdk.ProvisionerJobSucceeded {
			b.problems.add("logs: import job %s after its log stream closed: %s", tv.Job.Status, tv.Job.Error)
		}
	}
	return nil
}

// measureBuilds is (b): build throughput with each --build-workers count,
// restarting the worker set between runs; with --target, one run on the
// deployment's own workers.
func (b *bench) measureBuilds(ctx context.Context) error {
	counts := b.cfg.BuildWorkers
	if b.dep == nil {
		counts = []int{0}
	}
	for _, n := range counts {
		if b.dep != nil {
			if err := b.dep.setWorkers(ctx, n); err != nil {
				return err
			}
		}
		logf("builds: %d clients for %s with %d worker(s) (0: the deployment's own)", b.cfg.Clients, b.cfg.BuildDuration, n)
		stop, cancel := context.WithTimeout(ctx, b.cfg.BuildDuration)
		cpu0 := b.cpu()
		waitProfile := b.profile(ctx, fmt.Sprintf("builds-%dw", n), int(b.cfg.BuildDuration.Seconds()*2/3))
		run := b.runBuilds(ctx, stop.Done())
		waitProfile()
		run.CPU = b.cpuSince(cpu0, run.Succeeded)
		cancel()
		run.Workers = n
		b.rep.Builds = append(b.rep.Builds, run)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if b.dep != nil {
		return b.dep.setWorkers(ctx, b.cfg.Workers)
	}
	return nil
}

// runBuilds runs start/stop builds from --clients clients, each on its own
// workspaces, until stop is closed, and waits for the builds in flight.
func (b *bench) runBuilds(ctx context.Context, stop <-chan struct{}) BuildRun {
	var (
		mu             sync.Mutex
		client, server []time.Duration
		failed         int
		wg             sync.WaitGroup
	)
	start := time.Now()
	for ci := range b.cfg.Clients {
		var own []*benchWorkspace
		for j := ci; j < len(b.workspaces); j += b.cfg.Clients {
			own = append(own, b.workspaces[j])
		}
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				c, s, err := b.buildOnce(ctx, own[k%len(own)])
				mu.Lock()
				if err != nil {
					failed++
					if ctx.Err() == nil {
						b.problems.add("%v", err)
					}
				} else {
					client, server = append(client, c), append(server, s)
				}
				mu.Unlock()
				if err != nil && sleep(ctx, 50*time.Millisecond) != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	return BuildRun{
		Clients: b.cfg.Clients, Workspaces: len(b.workspaces), Succeeded: len(client), Failed: failed,
		Seconds: elapsed.Seconds(), PerSecond: float64(len(client)) / elapsed.Seconds(),
		Client: summarize(client), Server: summarize(server),
	}
}

// buildOnce starts or stops a workspace and polls the build until it is
// terminal.
func (b *bench) buildOnce(ctx context.Context, ws *benchWorkspace) (client, server time.Duration, err error) {
	start := time.Now()
	tr := ws.next
	build, err := b.c.CreateWorkspaceBuild(ctx, ws.id, sdk.CreateWorkspaceBuildRequest{Transition: tr})
	if err != nil {
		return 0, 0, fmt.Errorf("create %s build: %w", tr, err)
	}
	if tr == sdk.WorkspaceTransitionStart {
		ws.next = sdk.WorkspaceTransitionStop
	} else {
		ws.next = sdk.WorkspaceTransitionStart
	}
	job, err := b.waitBuild(ctx, build.ID, b.cfg.BuildPoll)
	client = time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s build: %w", tr, err)
	}
	if job.Status != sdk.ProvisionerJobSucceeded {
		return 0, 0, fmt.Errorf("%s build job %s: %s", tr, job.Status, job.Error)
	}
	return client, serverLatency(job), nil
}

const listLimit = 25

// measureList is (c): GET /workspaces?limit=25 with --list-workspaces
// workspaces (seeded with SQL on a local deployment), idle and while the
// build clients run.
func (b *bench) measureList(ctx context.Context) error {
	res, err := b.c.Workspaces(ctx, "", listLimit, 0)
	if err != nil {
		return fmt.Errorf("GET /workspaces?limit=%d: %w", listLimit, err)
	}
	run := &ListRun{}
	b.rep.List = run
	if b.dep != nil && res.Count < b.cfg.ListWorkspaces {
		n := b.cfg.ListWorkspaces - res.Count
		logf("list: seeding %d workspaces", n)
		t0 := time.Now()
		if err := seedWorkspaces(ctx, b.dep.db, b.protoBuild, n); err != nil {
			return err
		}
		run.Seeded, run.SeedSeconds = n, time.Since(t0).Seconds()
		if res, err = b.c.Workspaces(ctx, "", listLimit, 0); err != nil {
			return fmt.Errorf("GET /workspaces?limit=%d after seeding: %w", listLimit, err)
		}
	}
	run.Workspaces = res.Count
	if len(res.Workspaces) != min(listLimit, res.Count) {
		b.problems.add("list: GET /workspaces?limit=%d returned %d workspaces of %d", listLimit, len(res.Workspaces), res.Count)
	}
	list := func(ctx context.Context) (time.Duration, error) {
		t0 := time.Now()
		_, err := b.c.Workspaces(ctx, "", listLimit, 0)
		return time.Since(t0), err
	}
	for range 5 { // warm up
		if _, err := list(ctx); err != nil {
			return fmt.Errorf("GET /workspaces: %w", err)
		}
	}

	logf("list: %d requests idle", b.cfg.ListRequests)
	var idle []time.Duration
	for range b.cfg.ListRequests {
		d, err := list(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			run.Errors++
			b.problems.add("list: GET /workspaces: %v", err)
			continue
		}
		idle = append(idle, d)
	}
	run.Idle = summarize(idle)

	workers := 0 // an existing deployment's
	if b.dep != nil {
		workers = b.cfg.Workers
	}
	logf("list: under load for %s (%d build clients)", b.cfg.BuildDuration, b.cfg.Clients)
	stop, cancel := context.WithTimeout(ctx, b.cfg.BuildDuration)
	defer cancel()
	loadDone := make(chan BuildRun, 1)
	go func() { loadDone <- b.runBuilds(ctx, stop.Done()) }()
	var loaded []time.Duration
	for i := 0; i < 100000 && stop.Err() == nil; i++ {
		d, err := list(ctx) // not stop: a request is never cut off, so the server logs no cancellations
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			run.Errors++
			b.problems.add("list under load: GET /workspaces: %v", err)
			continue
		}
		loaded = append(loaded, d)
	}
	run.Load = <-loadDone
	run.Load.Workers = workers
	run.UnderLoad = summarize(loaded)
	return ctx.Err()
}

// measureRSS is (e): resident memory of the server, one worker and the
// Temporal dev server.
func (b *bench) measureRSS(context.Context) error {
	if b.dep == nil {
		return nil
	}
	ps := []*proc{b.dep.server, b.dep.firstWorker(), b.dep.temporal}
	for _, p := range ps {
		if p == nil {
			continue
		}
		cur, peak, err := p.rss()
		if err != nil {
			b.problems.add("rss of %s: %v", p.name, err)
			continue
		}
		b.rep.RSS = append(b.rep.RSS, RSS{Process: p.name, RSSKiB: cur, PeakKiB: peak})
	}
	return nil
}

// cpu snapshots the deployment's CPU times; nil with --target.
func (b *bench) cpu() cpuSnapshot {
	if b.dep == nil {
		return nil
	}
	return b.dep.cpu()
}

// cpuSince is the CPU per job since an earlier snapshot.
func (b *bench) cpuSince(before cpuSnapshot, jobs int) cpuSnapshot {
	if before == nil || jobs == 0 {
		return nil
	}
	return b.cpu().sub(before).perJob(jobs)
}
