DROP INDEX IF EXISTS provisioner_jobs_worker_idx;
