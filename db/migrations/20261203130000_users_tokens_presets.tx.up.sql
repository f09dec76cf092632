-- A user created by someone else is dormant until their first sign-in or
-- authenticated request, as Coder shows it.
ALTER TABLE users ALTER COLUMN status SET DEFAULT 'dormant';

-- Named tokens: one name per user (sessions have no name).
CREATE UNIQUE INDEX api_keys_user_token_name_idx ON api_keys (user_id, lower(token_name))
    WHERE login_type = 'token' AND token_name <> '';

-- Presets a template version declares (Terraform coder_workspace_preset,
-- echo.json "presets", Coder's protobuf echo archives), in declared order.
CREATE TABLE template_version_presets (
    id uuid PRIMARY KEY,
    template_version_id uuid NOT NULL REFERENCES template_versions (id) ON DELETE CASCADE,
    position integer NOT NULL,
    name text NOT NULL,
    is_default boolean NOT NULL DEFAULT false,
    description text NOT NULL DEFAULT '',
    icon text NOT NULL DEFAULT '',
    desired_prebuild_instances integer,
    parameters jsonb NOT NULL DEFAULT '[]',
    UNIQUE (template_version_id, name)
);
ALTER TABLE workspace_builds ADD COLUMN template_version_preset_id uuid REFERENCES template_version_presets (id);

-- GET /organizations/{org}/provisionerjobs lists an organization's newest jobs first.
CREATE INDEX provisioner_jobs_org_created_idx ON provisioner_jobs (organization_id, created_at DESC);
