CREATE TABLE workspaces (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    owner_id uuid NOT NULL REFERENCES users (id),
    organization_id uuid NOT NULL REFERENCES organizations (id),
    template_id uuid NOT NULL REFERENCES templates (id),
    name text NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    autostart_schedule text,
    ttl_ms bigint,
    last_used_at timestamptz NOT NULL,
    dormant_at timestamptz,
    deleting_at timestamptz,
    automatic_updates text NOT NULL DEFAULT 'never',
    next_start_at timestamptz
);
CREATE UNIQUE INDEX workspaces_owner_name_idx ON workspaces (owner_id, lower(name)) WHERE NOT deleted;
CREATE INDEX workspaces_org_owner_idx ON workspaces (organization_id, owner_id) WHERE NOT deleted;
CREATE INDEX workspaces_template_idx ON workspaces (template_id) WHERE NOT deleted;
CREATE INDEX workspaces_last_used_idx ON workspaces (last_used_at) WHERE NOT deleted;

CREATE TABLE workspace_builds (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    template_version_id uuid NOT NULL REFERENCES template_versions (id),
    build_number integer NOT NULL,
    transition text NOT NULL,
    initiator_id uuid NOT NULL REFERENCES users (id),
    job_id uuid NOT NULL UNIQUE REFERENCES provisioner_jobs (id),
    reason text NOT NULL DEFAULT 'initiator',
    provisioner_state bytea,
    deadline timestamptz,
    max_deadline timestamptz,
    daily_cost integer NOT NULL DEFAULT 0,
    UNIQUE (workspace_id, build_number)
);

CREATE TABLE workspace_build_parameters (
    workspace_build_id uuid NOT NULL REFERENCES workspace_builds (id) ON DELETE CASCADE,
    name text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (workspace_build_id, name)
);

CREATE TABLE workspace_favorites (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, workspace_id)
);

-- A build job belongs to exactly one workspace; at most one of a
-- workspace's jobs is active at a time (the losing insert gets a 409).
ALTER TABLE provisioner_jobs ADD COLUMN workspace_id uuid REFERENCES workspaces (id);
CREATE UNIQUE INDEX provisioner_jobs_one_active_build_idx ON provisioner_jobs (workspace_id) WHERE completed_at IS NULL AND workspace_id IS NOT NULL;
