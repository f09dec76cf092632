// Package worker runs one berth worker process: it registers itself as a
// provisioner daemon in Postgres, keeps that row fresh, and polls Temporal
// for job workflows, database-only activities and the provisioner jobs of
// its tag set.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/activities"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/workflows"
)

// Options configures Run.
type Options struct {
	Temporal client.Client
	Store    *db.Store
	Queues   workflows.Queues
	// Organization is the name or ID of the organization whose jobs this
	// worker runs (default: the default organization).
	Organization string
	// Tags are the worker's provisioner tags; scope and owner are
	// normalised as Coder does.
	Tags         map[string]string
	Provisioners map[string]provisioner.Provisioner
	// ID identifies the daemon (default: a new random ID per process).
	ID      uuid.UUID
	Name    string // default: the hostname
	Version string
	Log     *slog.Logger
	WorkDir string
	// MaxConcurrentJobs caps provisioner jobs run at once (default 16).
	MaxConcurrentJobs int
	// StopTimeout is how long a graceful stop waits for running jobs.
	StopTimeout time.Duration
	// AccessURL is passed to templates as CODER_AGENT_URL.
	AccessURL string
	// Ready, if set, is called once the worker polls all its queues.
	Ready func(daemonID uuid.UUID)
}

// DaemonRefreshInterval is how often a worker refreshes last_seen_at.
const DaemonRefreshInterval = 15 * time.Second

// Run runs the worker until ctx ends, then stops gracefully: it takes no new
// jobs and waits up to StopTimeout for running ones.
func Run(ctx context.Context, opts Options) error {
	if opts.Temporal == nil || opts.Store == nil {
		return errors.New("worker: temporal client and store are required")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.ID == uuid.Nil {
		opts.ID = uuid.New()
	}
	if opts.Name == "" {
		opts.Name, _ = os.Hostname()
	}
	if opts.MaxConcurrentJobs <= 0 {
		opts.MaxConcurrentJobs = 16
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 30 * time.Second
	}
	org, err := resolveOrganization(ctx, opts.Store, opts.Organization)
	if err != nil {
		return err
	}
	tags := db.NormalizeTags(opts.Tags, uuid.NullUUID{})
	provs := make([]string, 0, len(opts.Provisioners))
	for name := range opts.Provisioners {
		provs = append(provs, name)
	}
	sort.Strings(provs)
	queue := opts.Queues.Provisioner(org.ID, provs, tags)

	acts, err := activities.New(activities.Options{
		Store: opts.Store, Provisioners: opts.Provisioners, WorkerID: opts.ID, WorkDir: opts.WorkDir, Log: opts.Log,
		AccessURL: opts.AccessURL,
	})
	if err != nil {
		return err
	}
	identity := opts.ID.String()
	wf := NewWorkflowWorker(opts.Temporal, opts.Queues, identity)
	ctl := NewControlWorker(opts.Temporal, opts.Queues, acts, identity)
	prov := tworker.New(opts.Temporal, queue, tworker.Options{
		Identity: identity, WorkerStopTimeout: opts.StopTimeout,
		MaxConcurrentActivityExecutionSize: opts.MaxConcurrentJobs,
	})
	prov.RegisterActivityWithOptions(acts.RunJob, activity.RegisterOptions{Name: workflows.ActRunJob})

	now := db.Now()
	daemon := &db.ProvisionerDaemon{
		ID: opts.ID, OrganizationID: org.ID, Name: opts.Name, Provisioners: provs, Tags: tags,
		TaskQueue: queue, Version: opts.Version, APIVersion: "1.0", CreatedAt: now, LastSeenAt: now,
	}
	if err := opts.Store.UpsertDaemon(ctx, daemon); err != nil {
		return err
	}

	started := make([]tworker.Worker, 0, 3)
	defer func() {
		for i := len(started) - 1; i >= 0; i-- {
			started[i].Stop()
		}
	}()
	for _, w := range []tworker.Worker{ctl, prov, wf} {
		if err := w.Start(); err != nil {
			return fmt.Errorf("start temporal worker: %w", err)
		}
		started = append(started, w)
	}
	opts.Log.Info("worker started", "daemon_id", opts.ID, "name", opts.Name, "organization", org.Name,
		"task_queue", queue, "tags", tags, "provisioners", provs)
	if opts.Ready != nil {
		opts.Ready(opts.ID)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		t := time.NewTicker(DaemonRefreshInterval)
		defer t.Stop()
		for {
			adoptJobs(gctx, opts)
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				if err := opts.Store.TouchDaemon(gctx, opts.ID); err != nil && gctx.Err() == nil {
					opts.Log.Warn("refresh provisioner daemon", "err", err)
				}
			}
		}
	})
	err = g.Wait()
	opts.Log.Info("worker stopping", "daemon_id", opts.ID)
	return err
}

// NewWorkflowWorker returns a Temporal worker that runs berth's workflows
// (and no activities) on the workflows queue. Workflow code does no I/O, so
// any berth process may run one; the API server does, so it can start jobs
// eagerly.
func NewWorkflowWorker(tc client.Client, queues workflows.Queues, identity string) tworker.Worker {
	w := tworker.New(tc, queues.Workflows(), tworker.Options{Identity: identity})
	w.RegisterWorkflowWithOptions(workflows.ProvisionerJob, workflow.RegisterOptions{Name: "ProvisionerJob"})
	return w
}

// adoptJobs takes over pending jobs that only this worker's tag set can
// run, and tells their workflows to schedule them on this worker's queue.
func adoptJobs(ctx context.Context, opts Options) {
	jobs, err := opts.Store.AdoptJobs(ctx, opts.ID, 100)
	if err != nil {
		if ctx.Err() == nil {
			opts.Log.Warn("adopt pending jobs", "err", err)
		}
		return
	}
	for _, j := range jobs {
		err := opts.Temporal.SignalWorkflow(ctx, j.ID.String(), "", workflows.SignalReroute, j.TaskQueue)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			// The reconciler starts missing workflows on the new queue.
			opts.Log.Warn("reroute adopted job", "job_id", j.ID, "err", err)
			continue
		}
		opts.Log.Info("adopted pending job", "job_id", j.ID, "task_queue", j.TaskQueue)
	}
}

// NewControlWorker returns a Temporal worker for the database-only
// activities (FinishJob) on the control queue. Both berth server and berth
// worker run one, so jobs can always be finished, even with every
// provisioner worker gone.
func NewControlWorker(tc client.Client, queues workflows.Queues, acts *activities.Activities, identity string) tworker.Worker {
	w := tworker.New(tc, queues.Control(), tworker.Options{Identity: identity})
	w.RegisterActivityWithOptions(acts.FinishJob, activity.RegisterOptions{Name: workflows.ActFinishJob})
	return w
}

func resolveOrganization(ctx context.Context, store *db.Store, ref string) (*db.Organization, error) {
	var (
		org *db.Organization
		err error
	)
	if ref == "" || ref == "default" {
		org, err = store.GetDefaultOrganization(ctx)
	} else if id, perr := uuid.Parse(ref); perr == nil {
		org, err = store.GetOrganizationByID(ctx, id)
	} else {
		org, err = store.GetOrganizationByName(ctx, ref)
	}
	if errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("organization %q does not exist", ref)
	}
	return org, err
}
