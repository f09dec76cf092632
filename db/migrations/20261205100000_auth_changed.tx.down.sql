DROP TRIGGER organization_members_auth_changed ON organization_members;
DROP TRIGGER users_auth_changed ON users;
DROP TRIGGER api_keys_auth_changed ON api_keys;
DROP FUNCTION berth_auth_changed();
