-- Daemon listings find each worker's current and previous job.
CREATE INDEX provisioner_jobs_worker_idx ON provisioner_jobs (worker_id, completed_at) WHERE worker_id IS NOT NULL;
