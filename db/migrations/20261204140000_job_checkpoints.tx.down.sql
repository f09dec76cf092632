DROP TABLE IF EXISTS provisioner_job_checkpoints;
