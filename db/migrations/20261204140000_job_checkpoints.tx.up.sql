-- A running build's latest checkpoint: what its provisioner had persisted
-- (Terraform's state) or how far it had got (echo's position), so that a
-- build whose worker is lost resumes on another worker from there. One row
-- per job, overwritten as the build goes on (seq counts the writes), and
-- deleted when the job completes: the build row then holds the state.
CREATE TABLE provisioner_job_checkpoints (
    job_id uuid PRIMARY KEY REFERENCES provisioner_jobs (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    worker_id uuid NOT NULL,
    attempt integer NOT NULL,
    created_at timestamptz NOT NULL,
    state bytea,
    position bytea
);
