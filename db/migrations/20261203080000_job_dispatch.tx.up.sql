-- attempts counts the claims of a job: the first worker's, then each
-- takeover after a lost worker. Workers dispatch pending jobs of their task
-- queue themselves (see db.DispatchJob), so they find them by queue.
ALTER TABLE provisioner_jobs ADD COLUMN attempts integer NOT NULL DEFAULT 0;
CREATE INDEX provisioner_jobs_undispatched_idx ON provisioner_jobs (task_queue, created_at)
    WHERE workflow_started_at IS NULL AND started_at IS NULL AND completed_at IS NULL;
