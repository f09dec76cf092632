// Package workflows holds berth's Temporal workflows, their inputs and
// results, IDs, task queues and search attributes. Workflow code never
// touches the database: it reaches activities through the Activities
// contract by name.
package workflows

import (
	"context"

	"github.com/google/uuid"
)

// Activities is the contract between workflows and the activities package.
// The registered activity names are the method names.
type Activities interface {
	// RunJob claims a job and runs it on a worker that serves the job's
	// task queue, completing the job row itself when the provisioner ends.
	RunJob(ctx context.Context, in RunJobInput) (RunJobResult, error)
	// FinishJob gives a job that RunJob did not complete its terminal state.
	FinishJob(ctx context.Context, in FinishJobInput) error
}

// Activity names.
const (
	ActRunJob    = "RunJob"
	ActFinishJob = "FinishJob"
)

// JobInput starts a ProvisionerJob workflow.
type JobInput struct {
	JobID uuid.UUID
	// ActivityQueue is the task queue of workers able to run this job.
	ActivityQueue string
	// ControlQueue runs database-only activities.
	ControlQueue string
	// Type is the job type (import, dry-run, build); builds are not retried.
	Type string
}

// RunJobInput is the input of RunJob.
type RunJobInput struct {
	JobID uuid.UUID
}

// RunJobResult is the outcome of RunJob.
type RunJobResult struct {
	// Completed is true when RunJob wrote the job's terminal state.
	Completed bool
}

// FinishJobInput is the input of FinishJob.
type FinishJobInput struct {
	JobID    uuid.UUID
	Canceled bool
	// Cause explains a failure (an activity error or timeout); empty when
	// the job was canceled.
	Cause string
}

// Error types of non-retryable application errors.
const (
	ErrTypeInvalidTemplate = "InvalidTemplate"
	ErrTypeWorkerLost      = "WorkerLost"
)
