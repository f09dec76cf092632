package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/tracing"
)

// ImportRequest asks for a template version and its import job.
type ImportRequest struct {
	Organization *db.Organization
	// TemplateID attaches the version to a template of the organization;
	// Nil leaves it unattached.
	TemplateID uuid.UUID
	FileID     uuid.UUID
	// Provisioner is echo or terraform.
	Provisioner string
	// Tags are the requested provisioner tags (normalized here).
	Tags map[string]string
	// Name is generated when empty.
	Name, Message      string
	UserVariableValues []db.VariableValue
	Initiator          *db.User
	// AnyFile lets the initiator import files others uploaded (site owners).
	AnyFile bool
}

// Import is a created template version with its pending import job.
type Import struct {
	Version  *db.TemplateVersion
	Job      *db.ProvisionerJob
	Template *db.Template // nil when unattached
}

// Import creates a template version and its import job in one statement,
// whose commit announces the job to its workers.
func (c *Creator) Import(ctx context.Context, r ImportRequest) (*Import, error) {
	org := r.Organization
	out := &Import{}
	job := &db.ProvisionerJob{
		ID: uuid.New(), OrganizationID: org.ID, InitiatorID: r.Initiator.ID,
		Provisioner: r.Provisioner, StorageMethod: "file", Type: db.JobTypeTemplateVersionImport,
		Tags: db.NormalizeTags(r.Tags, uuid.NullUUID{UUID: r.Initiator.ID, Valid: true}),
	}
	// The template, the file and the job's queue are looked up side by
	// side: three reads, one round trip of waiting.
	var (
		wg                        sync.WaitGroup
		file                      *db.File
		matched                   bool
		tplErr, fileErr, queueErr error
	)
	if r.TemplateID != uuid.Nil {
		wg.Go(func() { out.Template, tplErr = c.store.GetTemplateByID(ctx, r.TemplateID) })
	}
	wg.Go(func() { file, fileErr = c.store.GetFileMeta(ctx, r.FileID) })
	wg.Go(func() {
		fallback := c.opts.Queues.Provisioner(org.ID, []string{r.Provisioner}, job.Tags)
		job.TaskQueue, matched, queueErr = pickQueue(ctx, c.store, job, fallback)
	})
	wg.Wait()
	if errors.Is(tplErr, db.ErrNotFound) || tplErr == nil && out.Template != nil && out.Template.OrganizationID != org.ID {
		return nil, ErrTemplateNotFound
	}
	if errors.Is(fileErr, db.ErrNotFound) || fileErr == nil && file.CreatedBy != r.Initiator.ID && !r.AnyFile {
		return nil, ErrFileNotFound
	}
	if err := errors.Join(tplErr, fileErr, queueErr); err != nil {
		return nil, err
	}
	if !matched {
		c.opts.Log.Warn("no provisioner daemon matches the job's tags; it stays pending until one starts",
			"organization_id", org.ID, "provisioner", r.Provisioner, "tags", job.Tags)
	}

	now := c.now()
	versionID := uuid.New()
	input, err := json.Marshal(db.JobInput{
		TemplateVersionID:  uuid.NullUUID{UUID: versionID, Valid: true},
		UserVariableValues: r.UserVariableValues,
		TraceParent:        tracing.Parent(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("encode job input: %w", err)
	}
	job.CreatedAt, job.UpdatedAt, job.Input, job.FileID = now, now, input, file.ID
	v := &db.TemplateVersion{
		ID: versionID, OrganizationID: org.ID, Message: r.Message, JobID: job.ID,
		CreatedBy: r.Initiator.ID, CreatedAt: now, UpdatedAt: now,
	}
	if out.Template != nil {
		v.TemplateID = uuid.NullUUID{UUID: out.Template.ID, Valid: true}
	}
	// A generated name may collide; try a few before giving up.
	for attempt := 0; ; attempt++ {
		v.Name = r.Name
		if r.Name == "" {
			v.Name = generateVersionName()
		}
		err = c.store.InsertImportJob(ctx, job, v)
		var ce *db.ConflictError
		if errors.As(err, &ce) && ce.Constraint == "template_versions_template_name_idx" {
			if r.Name != "" || attempt >= 5 {
				return nil, &VersionNameTakenError{Name: v.Name}
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	out.Version, out.Job = v, job
	return out, nil
}

var (
	versionAdjectives = []string{"eager", "brave", "calm", "clever", "dazzling", "elated", "festive", "gallant", "happy", "jolly", "keen", "lucid", "modest", "nifty", "optimistic", "peaceful", "quirky", "relaxed", "serene", "trusting", "upbeat", "vibrant", "wizardly", "zealous"}
	versionSurnames   = []string{"turing", "lovelace", "hopper", "knuth", "ritchie", "thompson", "pike", "liskov", "dijkstra", "hamilton", "torvalds", "babbage", "shannon", "backus", "mccarthy", "perlman", "wozniak", "kay", "lamport", "hoare"}
)

// GenerateName returns a name like eager_turing4 (Coder's generated version
// and token names).
func GenerateName() string { return generateVersionName() }

// generateVersionName returns a name like eager_turing4.
func generateVersionName() string {
	return fmt.Sprintf("%s_%s%d", versionAdjectives[rand.IntN(len(versionAdjectives))],
		versionSurnames[rand.IntN(len(versionSurnames))], rand.IntN(10))
}

// DryRunRequest asks for a dry-run of an imported version.
type DryRunRequest struct {
	Version *db.TemplateVersion
	// Template is the version's live template, if any (for the memo).
	Template           *db.Template
	WorkspaceName      string
	Parameters         []db.ParameterValue
	UserVariableValues []db.VariableValue
	Initiator          *db.User
}

// DryRun creates a dry-run job of a version whose import completed (even
// if it failed), announced to its workers on commit. The job copies the import's
// file and provisioner; its tags are the import's with the owner scope
// derived for the initiator (as Coder derives them), so a user-scoped
// dry-run runs on the initiator's own provisioners. The job input holds
// only the request's variable overrides (template admins'): the worker
// reads the version's stored values from their own column, so no value,
// sensitive or not, is copied into the job.
func (c *Creator) DryRun(ctx context.Context, r DryRunRequest) (*db.ProvisionerJob, error) {
	v := r.Version
	imp, err := c.store.GetJobByID(ctx, v.JobID)
	if err != nil {
		return nil, err
	}
	if imp.CompletedAt == nil {
		return nil, ErrImportNotCompleted
	}
	input, err := json.Marshal(db.JobInput{
		TemplateVersionID: uuid.NullUUID{UUID: v.ID, Valid: true}, WorkspaceName: r.WorkspaceName,
		RichParameters: r.Parameters, UserVariableValues: r.UserVariableValues, TraceParent: tracing.Parent(ctx),
	})
	if err != nil {
		return nil, fmt.Errorf("encode job input: %w", err)
	}
	now := c.now()
	job := &db.ProvisionerJob{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OrganizationID: v.OrganizationID, InitiatorID: r.Initiator.ID,
		Provisioner: imp.Provisioner, StorageMethod: imp.StorageMethod, Type: db.JobTypeTemplateVersionDryRun,
		Input: input, FileID: imp.FileID,
	}
	if err := c.scopeTags(ctx, c.store, job, imp, r.Initiator.ID); err != nil {
		return nil, err
	}
	if err := c.store.InsertJob(ctx, job); err != nil {
		return nil, err
	}
	return job, nil
}

// scopeTags gives a dry-run or build job the import's tags with the owner
// tag derived for user (the dry-run's initiator, the workspace's owner),
// and picks its task queue: a user-scoped import's owner is the template
// admin who pushed it, and a job must never run on that admin's own
// provisioners on another user's behalf.
func (c *Creator) scopeTags(ctx context.Context, st *db.Store, job, imp *db.ProvisionerJob, user uuid.UUID) error {
	job.Tags = db.NormalizeTags(imp.Tags, uuid.NullUUID{UUID: user, Valid: true})
	fallback := imp.TaskQueue
	if job.Tags["owner"] != imp.Tags["owner"] {
		fallback = c.opts.Queues.Provisioner(job.OrganizationID, []string{job.Provisioner}, job.Tags)
	}
	var err error
	job.TaskQueue, _, err = pickQueue(ctx, st, job, fallback)
	return err
}
