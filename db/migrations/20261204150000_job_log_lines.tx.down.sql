ALTER TABLE provisioner_jobs DROP COLUMN IF EXISTS logs_lines;
