package main

import (
	"context"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/echo"
	"github.com/berth-dev/berth/worker"
	"github.com/berth-dev/berth/workflows"
)

type workerCmd struct {
	dbFlags
	temporalFlags
	Organization      string            `help:"Organization (name or ID) whose jobs this worker runs." default:"default" env:"BERTH_ORGANIZATION"`
	Tag               map[string]string `help:"Provisioner tag key=value (repeatable)." env:"BERTH_TAGS"`
	Provisioner       []string          `help:"Provisioner types to run." default:"echo" enum:"echo" env:"BERTH_PROVISIONERS"`
	Name              string            `help:"Daemon name shown in the API (default: hostname)." env:"BERTH_WORKER_NAME"`
	MaxConcurrentJobs int               `help:"Provisioner jobs run at once." default:"16" env:"BERTH_MAX_CONCURRENT_JOBS"`
	WorkDir           string            `help:"Directory for job working directories (default: the system temp dir)." env:"BERTH_WORK_DIR"`
}

func (w *workerCmd) Run(ctx context.Context, g *globals) error {
	log := g.log.With("component", "worker")
	bdb, err := w.open(ctx)
	if err != nil {
		return err
	}
	defer bdb.Close()
	tc, err := w.dial(ctx, log)
	if err != nil {
		return err
	}
	defer tc.Close()
	provs := map[string]provisioner.Provisioner{}
	for _, p := range w.Provisioner {
		switch p {
		case "echo":
			provs[p] = echo.New()
		}
	}
	return worker.Run(ctx, worker.Options{
		Temporal: tc, Store: db.NewStore(bdb), Queues: workflows.Queues{Prefix: w.QueuePrefix},
		Organization: w.Organization, Tags: w.Tag, Provisioners: provs, Name: w.Name, Version: version,
		Log: log, WorkDir: w.WorkDir, MaxConcurrentJobs: w.MaxConcurrentJobs,
	})
}
