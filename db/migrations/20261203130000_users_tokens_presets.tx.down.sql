DROP INDEX provisioner_jobs_org_created_idx;
ALTER TABLE workspace_builds DROP COLUMN template_version_preset_id;
DROP TABLE template_version_presets;
DROP INDEX api_keys_user_token_name_idx;
ALTER TABLE users ALTER COLUMN status SET DEFAULT 'active';
