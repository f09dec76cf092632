-- A job's stored log lines, capped like its bytes (empty lines cost a row).
ALTER TABLE provisioner_jobs ADD COLUMN logs_lines integer NOT NULL DEFAULT 0;
