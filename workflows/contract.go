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
	// ProvisionerJob runs it (and FinishJob) as a local activity.
	RunJob(ctx context.Context, in RunJobInput) (RunJobResult, error)
	// FinishJob gives a job that RunJob did not complete its terminal state.
	FinishJob(ctx context.Context, in FinishJobInput) error
	// CancelJob marks a job canceled, as the API does, when its workflow is
	// canceled through Temporal alone.
	CancelJob(ctx context.Context, in CancelJobInput) error
}

// Activity names.
const (
	ActRunJob    = "RunJob"
	ActFinishJob = "FinishJob"
	ActCancelJob = "CancelJob"
)

// JobInput starts a ProvisionerJob workflow.
type JobInput struct {
	JobID uuid.UUID
	// ActivityQueue is the task queue of workers able to run this job
	// (ProvisionerJobV1 only: ProvisionerJob runs on that queue itself).
	ActivityQueue string `json:",omitempty"`
	// ControlQueue runs database-only activities (ProvisionerJobV1 only).
	ControlQueue string `json:",omitempty"`
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

// CancelJobInput is the input of CancelJob.
type CancelJobInput struct {
	JobID uuid.UUID
}

// FinishJobInput is the input of FinishJob.
type FinishJobInput struct {
	JobID    uuid.UUID
	Canceled bool
	// Cause explains a failure (an activity error or timeout); empty when
	// the job was canceled.
	Cause string
}

// DefaultBuildResumptions is how often a build whose worker was lost
// resumes on another worker from its last checkpoint before it fails.
const DefaultBuildResumptions = 2

// Error types of non-retryable application errors.
const (
	ErrTypeInvalidTemplate = "InvalidTemplate"
	ErrTypeWorkerLost      = "WorkerLost"
)
