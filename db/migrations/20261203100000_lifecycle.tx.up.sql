-- The owner's quiet hours (a daily cron spec) place the max_deadline of
-- start builds on templates with an autostop requirement; empty means the
-- deployment's default.
ALTER TABLE users ADD COLUMN quiet_hours_schedule text NOT NULL DEFAULT '';

-- Who used which template's workspaces, to the hour: usage posts and
-- starts a user asked for. Template DAUs and active user counts read it;
-- whole hours serve every hour-offset time zone.
CREATE TABLE template_usage (
    template_id uuid NOT NULL REFERENCES templates (id),
    user_id uuid NOT NULL REFERENCES users (id),
    hour timestamptz NOT NULL,
    PRIMARY KEY (template_id, hour, user_id)
);
