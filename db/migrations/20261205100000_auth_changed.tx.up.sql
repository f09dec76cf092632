-- Every API server caches the API keys it authenticates with their users
-- (httpmw.KeyCache). A write that can change what a cached entry says
-- (a key revoked or expired, a user suspended, deleted or given other
-- roles, an organization membership added, changed or removed) notifies
-- every server, which then reads keys afresh. A new key needs no notice:
-- nothing cached it yet.
CREATE FUNCTION berth_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('berth_auth_changed', '');
	RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_auth_changed AFTER UPDATE OR DELETE OR TRUNCATE ON api_keys
	FOR EACH STATEMENT EXECUTE FUNCTION berth_auth_changed();
CREATE TRIGGER users_auth_changed AFTER UPDATE OR DELETE OR TRUNCATE ON users
	FOR EACH STATEMENT EXECUTE FUNCTION berth_auth_changed();
CREATE TRIGGER organization_members_auth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON organization_members
	FOR EACH STATEMENT EXECUTE FUNCTION berth_auth_changed();
