package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// CountUsers returns how many non-deleted users exist.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	n, err := s.db.NewSelect().Model((*User)(nil)).Where("NOT deleted").Count(ctx)
	return n, wrap("count users", err)
}

// InsertUser inserts a user.
func (s *Store) InsertUser(ctx context.Context, u *User) error {
	_, err := s.db.NewInsert().Model(u).Exec(ctx)
	return wrap("insert user", err)
}

// GetUserByID returns a non-deleted user.
func (s *Store) GetUserByID(ctx context.Context, id uuid.UUID) (*User, error) {
	u := new(User)
	err := s.db.NewSelect().Model(u).Where("id = ?", id).Where("NOT deleted").Scan(ctx)
	return u, wrap("get user", err)
}

// GetUserByEmail returns a non-deleted user by email (case-insensitive).
func (s *Store) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	u := new(User)
	err := s.db.NewSelect().Model(u).Where("lower(email) = lower(?)", email).Where("NOT deleted").Scan(ctx)
	return u, wrap("get user by email", err)
}

// GetUserByUsername returns a non-deleted user by username (case-insensitive).
func (s *Store) GetUserByUsername(ctx context.Context, username string) (*User, error) {
	u := new(User)
	err := s.db.NewSelect().Model(u).Where("lower(username) = lower(?)", username).Where("NOT deleted").Scan(ctx)
	return u, wrap("get user by username", err)
}

// GetUsersByIDs returns the users with the given IDs (deleted ones included).
func (s *Store) GetUsersByIDs(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*User, error) {
	out := make(map[uuid.UUID]*User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var us []*User
	if err := s.db.NewSelect().Model(&us).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, wrap("get users", err)
	}
	for _, u := range us {
		out[u.ID] = u
	}
	return out, nil
}

// InsertOrganizationMember adds a user to an organization.
func (s *Store) InsertOrganizationMember(ctx context.Context, m *OrganizationMember) error {
	_, err := s.db.NewInsert().Model(m).Exec(ctx)
	return wrap("insert organization member", err)
}

// GetOrganizationMember returns a membership.
func (s *Store) GetOrganizationMember(ctx context.Context, orgID, userID uuid.UUID) (*OrganizationMember, error) {
	m := new(OrganizationMember)
	err := s.db.NewSelect().Model(m).Where("organization_id = ?", orgID).Where("user_id = ?", userID).Scan(ctx)
	return m, wrap("get organization member", err)
}

// GetDefaultOrganization returns the default organization.
func (s *Store) GetDefaultOrganization(ctx context.Context) (*Organization, error) {
	o := new(Organization)
	err := s.db.NewSelect().Model(o).Where("is_default").Scan(ctx)
	return o, wrap("get default organization", err)
}

// GetOrganizationByID returns an organization.
func (s *Store) GetOrganizationByID(ctx context.Context, id uuid.UUID) (*Organization, error) {
	o := new(Organization)
	err := s.db.NewSelect().Model(o).Where("id = ?", id).Scan(ctx)
	return o, wrap("get organization", err)
}

// GetOrganizationByName returns an organization by name (case-insensitive).
func (s *Store) GetOrganizationByName(ctx context.Context, name string) (*Organization, error) {
	o := new(Organization)
	err := s.db.NewSelect().Model(o).Where("lower(name) = lower(?)", name).Scan(ctx)
	return o, wrap("get organization by name", err)
}

// GetOrganizationsByUser returns the organizations a user belongs to, by name.
func (s *Store) GetOrganizationsByUser(ctx context.Context, userID uuid.UUID) ([]*Organization, error) {
	var os []*Organization
	err := s.db.NewSelect().Model(&os).
		Where("id IN (SELECT organization_id FROM organization_members WHERE user_id = ?)", userID).
		OrderExpr("name").Scan(ctx)
	return os, wrap("get organizations by user", err)
}

// GetOrganizationIDsByUser returns the IDs of the user's organizations.
func (s *Store) GetOrganizationIDsByUser(ctx context.Context, userID uuid.UUID) ([]uuid.UUID, error) {
	ids := []uuid.UUID{}
	err := s.db.NewSelect().Model((*OrganizationMember)(nil)).Column("organization_id").
		Where("user_id = ?", userID).OrderExpr("created_at").Scan(ctx, &ids)
	return ids, wrap("get organization ids by user", err)
}

// InsertAPIKey stores a new API key.
func (s *Store) InsertAPIKey(ctx context.Context, k *APIKey) error {
	_, err := s.db.NewInsert().Model(k).Exec(ctx)
	return wrap("insert api key", err)
}

// APIKeyWithUser is an API key and its (non-deleted) user, read in one query.
type APIKeyWithUser struct {
	Key  APIKey `bun:"embed:k_"`
	User User   `bun:"embed:u_"`
	// Orgs maps each of the user's organizations to their roles in it.
	Orgs map[uuid.UUID][]string `bun:"orgs,type:jsonb"`
}

// AuthChangedChannel is the Postgres NOTIFY channel on which a trigger
// announces every write that can change what GetAPIKeyWithUser returns for
// a key already in use (migration 20261205100000_auth_changed), so servers
// caching keys read them afresh.
const AuthChangedChannel = "berth_auth_changed"

// GetAPIKeyWithUser returns the key with the given ID, its user and the
// user's organization roles, in one query: authentication reads the user's
// status and roles on every request, so a suspension, deletion or role
// change applies to the very next one.
func (s *Store) GetAPIKeyWithUser(ctx context.Context, id string) (*APIKeyWithUser, error) {
	out := new(APIKeyWithUser)
	err := s.queryPrepared(ctx, out, `SELECT
		k.id AS k_id, k.hashed_secret AS k_hashed_secret, k.user_id AS k_user_id, k.login_type AS k_login_type,
		k.lifetime_seconds AS k_lifetime_seconds, k.token_name AS k_token_name, k.created_at AS k_created_at,
		k.updated_at AS k_updated_at, k.last_used AS k_last_used, k.expires_at AS k_expires_at,
		u.id AS u_id, u.email AS u_email, u.username AS u_username, u.name AS u_name, u.avatar_url AS u_avatar_url,
		u.status AS u_status, u.login_type AS u_login_type, u.rbac_roles AS u_rbac_roles,
		u.theme_preference AS u_theme_preference, u.quiet_hours_schedule AS u_quiet_hours_schedule,
		u.deleted AS u_deleted, u.created_at AS u_created_at,
		u.updated_at AS u_updated_at, u.last_seen_at AS u_last_seen_at,
		(SELECT coalesce(jsonb_object_agg(m.organization_id, m.roles), '{}'::jsonb)
			FROM organization_members m WHERE m.user_id = u.id) AS orgs
		FROM api_keys k JOIN users u ON u.id = k.user_id AND NOT u.deleted WHERE k.id = $1`, id)
	return out, wrap("get api key", err)
}

// TouchAPIKey records that a key (and its user) was used at t.
func (s *Store) TouchAPIKey(ctx context.Context, id string, userID uuid.UUID, t time.Time) error {
	if _, err := s.db.NewUpdate().Model((*APIKey)(nil)).Set("last_used = ?", t).Where("id = ?", id).Exec(ctx); err != nil {
		return wrap("touch api key", err)
	}
	_, err := s.db.NewUpdate().Model((*User)(nil)).Set("last_seen_at = ?", t).Where("id = ?", userID).Exec(ctx)
	return wrap("touch user", err)
}

// DeleteAPIKey removes a key.
func (s *Store) DeleteAPIKey(ctx context.Context, id string) error {
	_, err := s.db.NewDelete().Model((*APIKey)(nil)).Where("id = ?", id).Exec(ctx)
	return wrap("delete api key", err)
}

// InsertFile stores a file unless the same creator already stored the same
// content; it returns the stored file and whether it was new.
func (s *Store) InsertFile(ctx context.Context, f *File) (*File, bool, error) {
	res, err := s.db.NewInsert().Model(f).On("CONFLICT (created_by, hash) DO NOTHING").Exec(ctx)
	if err != nil {
		return nil, false, wrap("insert file", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return f, true, nil
	}
	existing := new(File)
	err = s.db.NewSelect().Model(existing).ExcludeColumn("data").
		Where("created_by = ?", f.CreatedBy).Where("hash = ?", f.Hash).Scan(ctx)
	return existing, false, wrap("get existing file", err)
}

// DeleteUnreferencedFiles deletes the files created before before that no
// job uses (uploads never turned into a template version), and returns how
// many it deleted.
func (s *Store) DeleteUnreferencedFiles(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.NewDelete().TableExpr("files AS f").Where("f.created_at < ?", before).
		Where("NOT EXISTS (SELECT 1 FROM provisioner_jobs j WHERE j.file_id = f.id)").Exec(ctx)
	if err != nil {
		return 0, wrap("delete unreferenced files", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// GetFileByID returns a file with its data.
func (s *Store) GetFileByID(ctx context.Context, id uuid.UUID) (*File, error) {
	f := new(File)
	err := s.queryPrepared(ctx, f, `SELECT * FROM files WHERE id = $1`, id)
	return f, wrap("get file", err)
}

// GetFileMeta returns a file without its data.
func (s *Store) GetFileMeta(ctx context.Context, id uuid.UUID) (*File, error) {
	f := new(File)
	err := s.db.NewSelect().Model(f).ExcludeColumn("data").Where("id = ?", id).Scan(ctx)
	return f, wrap("get file", err)
}

// ListOrganizations returns every organization by name.
func (s *Store) ListOrganizations(ctx context.Context) ([]*Organization, error) {
	var os []*Organization
	err := s.db.NewSelect().Model(&os).OrderExpr("name").Scan(ctx)
	return os, wrap("list organizations", err)
}
