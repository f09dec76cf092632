DROP INDEX IF EXISTS provisioner_jobs_one_active_build_idx;
ALTER TABLE provisioner_jobs DROP COLUMN IF EXISTS workspace_id;
DROP TABLE IF EXISTS workspace_favorites;
DROP TABLE IF EXISTS workspace_build_parameters;
DROP TABLE IF EXISTS workspace_builds;
DROP TABLE IF EXISTS workspaces;
