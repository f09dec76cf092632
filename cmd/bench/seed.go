package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// seedStatements insert n workspaces in one transaction, each with one
// build that looks like a completed, succeeded start build: every row is a
// copy of the prototype build (one the API made) and its workspace, job,
// parameters and resources, with new IDs. ?0 is n, ?1 the prototype build.
var seedStatements = []string{
	`CREATE TEMP TABLE bench_seed ON COMMIT DROP AS
	SELECT g AS n, gen_random_uuid() AS ws_id, gen_random_uuid() AS build_id, gen_random_uuid() AS job_id,
		now() - make_interval(secs => g) AS t
	FROM generate_series(1, ?0) AS g`,

	`INSERT INTO workspaces (id, created_at, updated_at, owner_id, organization_id, template_id, name,
		deleted, autostart_schedule, ttl_ms, last_used_at, automatic_updates)
	SELECT s.ws_id, s.t, s.t, w.owner_id, w.organization_id, w.template_id, 'seed-' || s.n,
		false, w.autostart_schedule, w.ttl_ms, s.t, w.automatic_updates
	FROM bench_seed s, workspace_builds b JOIN workspaces w ON w.id = b.workspace_id
	WHERE b.id = ?1`,

	`INSERT INTO provisioner_jobs (id, created_at, updated_at, started_at, completed_at, worker_id,
		organization_id, initiator_id, provisioner, storage_method, type, input, tags, file_id, task_queue,
		workflow_started_at, logs_length, workspace_id)
	SELECT s.job_id, s.t, s.t + interval '30 milliseconds', s.t + interval '5 milliseconds', s.t + interval '30 milliseconds', j.worker_id,
		j.organization_id, j.initiator_id, j.provisioner, j.storage_method, j.type,
		j.input || jsonb_build_object('workspace_build_id', s.build_id), j.tags, j.file_id, j.task_queue,
		s.t, 0, s.ws_id
	FROM bench_seed s, workspace_builds b JOIN provisioner_jobs j ON j.id = b.job_id
	WHERE b.id = ?1`,

	`INSERT INTO workspace_builds (id, created_at, updated_at, workspace_id, template_version_id, build_number,
		transition, initiator_id, job_id, reason, provisioner_state, deadline, max_deadline, daily_cost)
	SELECT s.build_id, s.t, s.t + interval '30 milliseconds', s.ws_id, b.template_version_id, 1,
		'start', b.initiator_id, s.job_id, b.reason, b.provisioner_state, b.deadline, b.max_deadline, b.daily_cost
	FROM bench_seed s, workspace_builds b
	WHERE b.id = ?1`,

	`INSERT INTO workspace_build_parameters (workspace_build_id, name, value)
	SELECT s.build_id, p.name, p.value
	FROM bench_seed s, workspace_build_parameters p
	WHERE p.workspace_build_id = ?1`,

	`INSERT INTO workspace_resources (id, job_id, created_at, transition, position, type, name, hide, icon,
		instance_type, daily_cost, metadata, agents)
	SELECT gen_random_uuid(), s.job_id, s.t, r.transition, r.position, r.type, r.name, r.hide, r.icon,
		r.instance_type, r.daily_cost, r.metadata, r.agents
	FROM bench_seed s, workspace_builds b JOIN workspace_resources r ON r.job_id = b.job_id
	WHERE b.id = ?1`,
}

// seedWorkspaces adds n workspaces straight into the bench database, then
// refreshes the planner statistics as autovacuum eventually would.
func seedWorkspaces(ctx context.Context, bdb *bun.DB, protoBuild uuid.UUID, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	err := bdb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for i, stmt := range seedStatements {
			res, err := tx.ExecContext(ctx, stmt, n, protoBuild)
			if err != nil {
				return fmt.Errorf("seed statement %d: %w", i+1, err)
			}
			if i == 1 { // the workspaces: nothing copied means no prototype
				if rows, _ := res.RowsAffected(); rows != int64(n) {
					return fmt.Errorf("seed: inserted %d workspaces, want %d (prototype build %s missing?)", rows, n, protoBuild)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = bdb.ExecContext(ctx, `ANALYZE workspaces, workspace_builds, provisioner_jobs, workspace_build_parameters, workspace_resources`)
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}
