CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    icon text NOT NULL DEFAULT '',
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX organizations_name_idx ON organizations (lower(name));
CREATE UNIQUE INDEX organizations_single_default_idx ON organizations (is_default) WHERE is_default;

CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL,
    username text NOT NULL,
    name text NOT NULL DEFAULT '',
    avatar_url text NOT NULL DEFAULT '',
    hashed_password bytea NOT NULL,
    status text NOT NULL DEFAULT 'active',
    login_type text NOT NULL DEFAULT 'password',
    rbac_roles text[] NOT NULL DEFAULT '{}',
    theme_preference text NOT NULL DEFAULT '',
    deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email_idx ON users (lower(email)) WHERE NOT deleted;
CREATE UNIQUE INDEX users_username_idx ON users (lower(username)) WHERE NOT deleted;

CREATE TABLE organization_members (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    roles text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_user_idx ON organization_members (user_id);

CREATE TABLE api_keys (
    id text PRIMARY KEY,
    hashed_secret bytea NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    login_type text NOT NULL,
    lifetime_seconds bigint NOT NULL,
    token_name text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    last_used timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE files (
    id uuid PRIMARY KEY,
    hash text NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    mimetype text NOT NULL,
    data bytea NOT NULL
);
CREATE UNIQUE INDEX files_creator_hash_idx ON files (created_by, hash);

CREATE TABLE provisioner_daemons (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id),
    name text NOT NULL,
    provisioners text[] NOT NULL,
    tags jsonb NOT NULL,
    task_queue text NOT NULL,
    version text NOT NULL DEFAULT '',
    api_version text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX provisioner_daemons_org_idx ON provisioner_daemons (organization_id, last_seen_at);

CREATE TABLE provisioner_jobs (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    started_at timestamptz,
    canceled_at timestamptz,
    completed_at timestamptz,
    error text NOT NULL DEFAULT '',
    error_code text NOT NULL DEFAULT '',
    worker_id uuid,
    organization_id uuid NOT NULL REFERENCES organizations (id),
    initiator_id uuid NOT NULL REFERENCES users (id),
    provisioner text NOT NULL,
    storage_method text NOT NULL DEFAULT 'file',
    type text NOT NULL,
    input jsonb NOT NULL,
    tags jsonb NOT NULL,
    file_id uuid NOT NULL REFERENCES files (id),
    task_queue text NOT NULL,
    -- workflow_started_at is set once Temporal accepted the job's workflow; the
    -- reconciler starts workflows for pending jobs where it is still null.
    workflow_started_at timestamptz,
    logs_length integer NOT NULL DEFAULT 0,
    logs_overflowed boolean NOT NULL DEFAULT false,
    job_status text GENERATED ALWAYS AS (
        CASE
            WHEN completed_at IS NOT NULL THEN
                CASE WHEN error <> '' THEN 'failed'
                     WHEN canceled_at IS NOT NULL THEN 'canceled'
                     ELSE 'succeeded' END
            ELSE
                CASE WHEN error <> '' THEN 'failed'
                     WHEN canceled_at IS NOT NULL THEN 'canceling'
                     WHEN started_at IS NULL THEN 'pending'
                     ELSE 'running' END
        END
    ) STORED
);
CREATE INDEX provisioner_jobs_pending_idx ON provisioner_jobs (organization_id, created_at) WHERE started_at IS NULL AND completed_at IS NULL;
CREATE INDEX provisioner_jobs_unstarted_workflow_idx ON provisioner_jobs (created_at) WHERE workflow_started_at IS NULL AND completed_at IS NULL;
CREATE INDEX provisioner_jobs_active_idx ON provisioner_jobs (updated_at) WHERE completed_at IS NULL;

CREATE TABLE provisioner_job_logs (
    id bigserial PRIMARY KEY,
    job_id uuid NOT NULL REFERENCES provisioner_jobs (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    source text NOT NULL,
    level text NOT NULL,
    stage text NOT NULL,
    output text NOT NULL
);
CREATE INDEX provisioner_job_logs_job_idx ON provisioner_job_logs (job_id, id);

CREATE TABLE templates (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id),
    name text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    icon text NOT NULL DEFAULT '',
    provisioner text NOT NULL,
    active_version_id uuid NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    default_ttl_ms bigint NOT NULL DEFAULT 0,
    activity_bump_ms bigint NOT NULL DEFAULT 3600000,
    autostop_requirement_days_of_week text[] NOT NULL DEFAULT '{}',
    autostop_requirement_weeks bigint NOT NULL DEFAULT 1,
    autostart_requirement_days_of_week text[] NOT NULL DEFAULT '{monday,tuesday,wednesday,thursday,friday,saturday,sunday}',
    failure_ttl_ms bigint NOT NULL DEFAULT 0,
    time_til_dormant_ms bigint NOT NULL DEFAULT 0,
    time_til_dormant_autodelete_ms bigint NOT NULL DEFAULT 0,
    allow_user_cancel_workspace_jobs boolean NOT NULL DEFAULT false,
    allow_user_autostart boolean NOT NULL DEFAULT true,
    allow_user_autostop boolean NOT NULL DEFAULT true,
    require_active_version boolean NOT NULL DEFAULT false,
    deprecation_message text NOT NULL DEFAULT '',
    max_port_share_level text NOT NULL DEFAULT 'owner',
    cors_behavior text NOT NULL DEFAULT 'simple',
    disable_everyone_group_access boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX templates_org_name_idx ON templates (organization_id, lower(name)) WHERE NOT deleted;

CREATE TABLE template_versions (
    id uuid PRIMARY KEY,
    template_id uuid REFERENCES templates (id),
    organization_id uuid NOT NULL REFERENCES organizations (id),
    name text NOT NULL,
    message text NOT NULL DEFAULT '',
    readme text NOT NULL DEFAULT '',
    job_id uuid NOT NULL UNIQUE REFERENCES provisioner_jobs (id),
    created_by uuid NOT NULL REFERENCES users (id),
    archived boolean NOT NULL DEFAULT false,
    external_auth_providers jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX template_versions_template_name_idx ON template_versions (template_id, lower(name)) WHERE template_id IS NOT NULL;
CREATE INDEX template_versions_template_idx ON template_versions (template_id, created_at, id);
ALTER TABLE templates ADD CONSTRAINT templates_active_version_fk FOREIGN KEY (active_version_id) REFERENCES template_versions (id) DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE template_version_variables (
    template_version_id uuid NOT NULL REFERENCES template_versions (id) ON DELETE CASCADE,
    position integer NOT NULL,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    type text NOT NULL,
    value text NOT NULL DEFAULT '',
    default_value text NOT NULL DEFAULT '',
    required boolean NOT NULL DEFAULT false,
    sensitive boolean NOT NULL DEFAULT false,
    PRIMARY KEY (template_version_id, name)
);

CREATE TABLE template_version_parameters (
    template_version_id uuid NOT NULL REFERENCES template_versions (id) ON DELETE CASCADE,
    name text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    type text NOT NULL,
    form_type text NOT NULL DEFAULT '',
    mutable boolean NOT NULL DEFAULT false,
    ephemeral boolean NOT NULL DEFAULT false,
    default_value text NOT NULL DEFAULT '',
    icon text NOT NULL DEFAULT '',
    options jsonb NOT NULL DEFAULT '[]',
    validation_regex text NOT NULL DEFAULT '',
    validation_error text NOT NULL DEFAULT '',
    validation_min integer,
    validation_max integer,
    validation_monotonic text NOT NULL DEFAULT '',
    required boolean NOT NULL DEFAULT false,
    display_order integer NOT NULL DEFAULT 0,
    PRIMARY KEY (template_version_id, name)
);

-- Resources a job reported: an import's start/stop resources, a dry-run's,
-- or a build's. Agents and metadata are small and always read with their
-- resource, so they live in it.
CREATE TABLE workspace_resources (
    id uuid PRIMARY KEY,
    job_id uuid NOT NULL REFERENCES provisioner_jobs (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    transition text NOT NULL,
    position integer NOT NULL,
    type text NOT NULL,
    name text NOT NULL,
    hide boolean NOT NULL DEFAULT false,
    icon text NOT NULL DEFAULT '',
    instance_type text NOT NULL DEFAULT '',
    daily_cost integer NOT NULL DEFAULT 0,
    metadata jsonb NOT NULL DEFAULT '[]',
    agents jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX workspace_resources_job_idx ON workspace_resources (job_id, position);

-- The default organization exists from the first start.
INSERT INTO organizations (id, name, display_name, description, icon, is_default, created_at, updated_at)
VALUES (gen_random_uuid(), 'coder', 'Coder', 'The default organization.', '', true, now(), now());
