DROP TABLE IF EXISTS template_usage;
ALTER TABLE users DROP COLUMN IF EXISTS quiet_hours_schedule;
