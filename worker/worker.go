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
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/sync/errgroup"

	"github.com/berth-dev/berth/activities"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/metrics"
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
	// BuildResumptions is how often a build whose worker was lost resumes
	// here from its last checkpoint (activities.Options.BuildResumptions:
	// 0 is the default, negative never).
	BuildResumptions int
	// Ready, if set, is called once the worker polls all its queues.
	Ready func(daemonID uuid.UUID)
	// Listening, if set, is true while the worker's queued-job listener
	// (LISTEN) is connected: readiness reads it.
	Listening *atomic.Bool
	// Metrics, if set, records the jobs the worker runs.
	Metrics *metrics.Jobs
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
		AccessURL: opts.AccessURL, BuildResumptions: opts.BuildResumptions, Metrics: opts.Metrics,
	})
	if err != nil {
		return err
	}
	identity := opts.ID.String()
	// One Temporal worker on the queue of the worker's tag set runs the job
	// workflows this process dispatches (eagerly) or Temporal hands it (a
	// job taken over from a lost worker, or started by the reconciler),
	// with RunJob and FinishJob as their local activities. RunJob is also
	// an activity there, for ProvisionerJobV1 workflows still in flight.
	prov := tworker.New(opts.Temporal, queue, tworker.Options{
		Identity: identity, WorkerStopTimeout: opts.StopTimeout,
		MaxConcurrentActivityExecutionSize:      opts.MaxConcurrentJobs,
		MaxConcurrentLocalActivityExecutionSize: opts.MaxConcurrentJobs,
		// A running job holds its workflow task; a few more serve cancels
		// and finished workflows.
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentJobs + 4,
	})
	prov.RegisterWorkflowWithOptions(workflows.ProvisionerJob, workflow.RegisterOptions{Name: workflows.WorkflowProvisionerJob})
	prov.RegisterActivityWithOptions(acts.RunJob, activity.RegisterOptions{Name: workflows.ActRunJob})
	prov.RegisterActivityWithOptions(acts.FinishJob, activity.RegisterOptions{Name: workflows.ActFinishJob})
	prov.RegisterActivityWithOptions(acts.CancelJob, activity.RegisterOptions{Name: workflows.ActCancelJob})

	now := db.Now()
	daemon := &db.ProvisionerDaemon{
		ID: opts.ID, OrganizationID: org.ID, Name: opts.Name, Provisioners: provs, Tags: tags,
		TaskQueue: queue, Version: opts.Version, APIVersion: "1.0", CreatedAt: now, LastSeenAt: now,
	}
	if err := opts.Store.UpsertDaemon(ctx, daemon); err != nil {
		return err
	}

	if err := prov.Start(); err != nil {
		return fmt.Errorf("start temporal worker: %w", err)
	}
	defer prov.Stop()
	opts.Metrics.DaemonRunning(true)
	defer opts.Metrics.DaemonRunning(false)
	opts.Log.Info("worker started", "daemon_id", opts.ID, "name", opts.Name, "organization", org.Name,
		"task_queue", queue, "tags", tags, "provisioners", provs)
	if opts.Ready != nil {
		opts.Ready(opts.ID)
	}

	in := newIntake(opts, queue, acts)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return in.run(gctx) })
	g.Go(func() error {
		t := time.NewTicker(DaemonRefreshInterval)
		defer t.Stop()
		for {
			in.adopt(gctx)
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

// NewWorkflowWorker returns a Temporal worker that runs ProvisionerJobV1
// workflows (and no activities) on the workflows queue: those an earlier
// release started and that are still in flight. berth server runs it.
func NewWorkflowWorker(tc client.Client, queues workflows.Queues, identity string) tworker.Worker {
	w := tworker.New(tc, queues.Workflows(), tworker.Options{Identity: identity})
	w.RegisterWorkflowWithOptions(workflows.ProvisionerJobV1, workflow.RegisterOptions{Name: workflows.WorkflowProvisionerJob})
	return w
}

// NewControlWorker returns a Temporal worker for FinishJob on the control
// queue, where ProvisionerJobV1 workflows schedule it. berth server runs
// it, so those jobs can always be finished.
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
