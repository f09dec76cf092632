DROP INDEX IF EXISTS provisioner_jobs_undispatched_idx;
ALTER TABLE provisioner_jobs DROP COLUMN IF EXISTS attempts;
