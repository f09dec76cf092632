package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// UserListFilter selects a page of GET /users. Zero values do not filter.
type UserListFilter struct {
	// OnlyID restricts the list to one user: callers who may not read other
	// users see only themselves.
	OnlyID uuid.NullUUID
	// Search is a case-insensitive substring of the username or email.
	Search string
	// Statuses and LoginTypes keep users with any of the values.
	Statuses   []string
	LoginTypes []string
	// Roles keeps users holding any of these site roles; a list holding
	// "member" matches everyone, as every user is a member.
	Roles []string
	// Bounds on last_seen_at and created_at (inclusive).
	LastSeenBefore, LastSeenAfter *time.Time
	CreatedBefore, CreatedAfter   *time.Time
	// AfterID pages by username: users after this one.
	AfterID uuid.UUID
	// Limit (0: no limit) and Offset page the list ordered by username.
	Limit, Offset int
}

// userListRow is a user with the total count of the filtered list.
type userListRow struct {
	User  `bun:",extend"`
	Count int `bun:"total_count,scanonly"`
}

// ListUsers returns one page of non-deleted users ordered by username, and
// how many users match the filter before paging, in one query.
func (s *Store) ListUsers(ctx context.Context, f UserListFilter) ([]*User, int, error) {
	var rows []userListRow
	q := s.db.NewSelect().Model(&rows).ModelTableExpr("users AS u").ColumnExpr("u.*").ColumnExpr("count(*) OVER () AS total_count").
		Where("NOT u.deleted")
	if f.OnlyID.Valid {
		q = q.Where("u.id = ?", f.OnlyID.UUID)
	}
	if f.Search != "" {
		pat := "%" + likeEscape(f.Search) + "%"
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("u.email ILIKE ?", pat).WhereOr("u.username ILIKE ?", pat)
		})
	}
	if len(f.Statuses) > 0 {
		q = q.Where("u.status IN (?)", bun.List(f.Statuses))
	}
	if len(f.LoginTypes) > 0 {
		q = q.Where("u.login_type IN (?)", bun.List(f.LoginTypes))
	}
	if len(f.Roles) > 0 && !contains(f.Roles, RoleMember) {
		q = q.Where("u.rbac_roles && ?::text[]", pgArray(f.Roles))
	}
	if f.LastSeenBefore != nil {
		q = q.Where("u.last_seen_at <= ?", *f.LastSeenBefore)
	}
	if f.LastSeenAfter != nil {
		q = q.Where("u.last_seen_at >= ?", *f.LastSeenAfter)
	}
	if f.CreatedBefore != nil {
		q = q.Where("u.created_at <= ?", *f.CreatedBefore)
	}
	if f.CreatedAfter != nil {
		q = q.Where("u.created_at >= ?", *f.CreatedAfter)
	}
	if f.AfterID != uuid.Nil {
		q = q.Where("lower(u.username) > (SELECT lower(username) FROM users WHERE id = ?)", f.AfterID)
	}
	q = q.OrderExpr("lower(u.username) ASC")
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	if f.Offset > 0 {
		q = q.Offset(f.Offset)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, 0, wrap("list users", err)
	}
	out := make([]*User, 0, len(rows))
	total := 0
	for i := range rows {
		out = append(out, &rows[i].User)
		total = rows[i].Count
	}
	return out, total, nil
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

// UserExists reports whether a user row (deleted or not) has the ID.
func (s *Store) UserExists(ctx context.Context, id uuid.UUID) (bool, error) {
	ok, err := s.db.NewSelect().Model((*User)(nil)).Where("id = ?", id).Exists(ctx)
	return ok, wrap("user exists", err)
}

// UpdateUserStatus sets a user's status and returns the updated row.
func (s *Store) UpdateUserStatus(ctx context.Context, id uuid.UUID, status string) (*User, error) {
	u := new(User)
	err := s.db.NewUpdate().Model(u).Set("status = ?", status).Set("updated_at = ?", Now()).
		Where("id = ?", id).Where("NOT deleted").Returning("*").Scan(ctx)
	return u, wrap("update user status", err)
}

// ActivateDormantUser makes a dormant user active and marks them seen at
// t; it changes nothing for users in any other status.
func (s *Store) ActivateDormantUser(ctx context.Context, id uuid.UUID, t time.Time) error {
	_, err := s.db.NewUpdate().Model((*User)(nil)).Set("status = ?", UserStatusActive).
		Set("updated_at = ?", t).Set("last_seen_at = ?", t).
		Where("id = ?", id).Where("status = ?", UserStatusDormant).Exec(ctx)
	return wrap("activate dormant user", err)
}

// UpdateUserRoles replaces a user's site roles.
func (s *Store) UpdateUserRoles(ctx context.Context, id uuid.UUID, roles []string) (*User, error) {
	u := new(User)
	err := s.db.NewUpdate().Model(u).Set("rbac_roles = ?", pgArray(roles)).Set("updated_at = ?", Now()).
		Where("id = ?", id).Where("NOT deleted").Returning("*").Scan(ctx)
	return u, wrap("update user roles", err)
}

// UpdateUserPassword stores a new password hash and deletes every API key
// of the user except keepKeyID (the caller's own session, if any), in one
// transaction: the user's other sessions end with the change.
func (s *Store) UpdateUserPassword(ctx context.Context, id uuid.UUID, hash []byte, keepKeyID string) error {
	return s.InTx(ctx, func(tx *Store) error {
		if _, err := tx.db.NewUpdate().Model((*User)(nil)).Set("hashed_password = ?", hash).
			Set("updated_at = ?", Now()).Where("id = ?", id).Exec(ctx); err != nil {
			return wrap("update user password", err)
		}
		_, err := tx.db.NewDelete().Model((*APIKey)(nil)).Where("user_id = ?", id).Where("id <> ?", keepKeyID).Exec(ctx)
		return wrap("delete user api keys", err)
	})
}

// CountWorkspacesByOwner counts a user's non-deleted workspaces.
func (s *Store) CountWorkspacesByOwner(ctx context.Context, ownerID uuid.UUID) (int, error) {
	n, err := s.db.NewSelect().Model((*Workspace)(nil)).Where("owner_id = ?", ownerID).Where("NOT deleted").Count(ctx)
	return n, wrap("count workspaces by owner", err)
}

// DeleteUser soft-deletes a user and deletes their API keys, so every
// session and token of the user stops working at once. The username and
// email become free.
func (s *Store) DeleteUser(ctx context.Context, id uuid.UUID) error {
	return s.InTx(ctx, func(tx *Store) error {
		res, err := tx.db.NewUpdate().Model((*User)(nil)).Set("deleted = true").Set("updated_at = ?", Now()).
			Where("id = ?", id).Where("NOT deleted").Exec(ctx)
		if err != nil {
			return wrap("delete user", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if _, err := tx.db.NewDelete().Model((*APIKey)(nil)).Where("user_id = ?", id).Exec(ctx); err != nil {
			return wrap("delete user api keys", err)
		}
		_, err = tx.db.NewDelete().Model((*OrganizationMember)(nil)).Where("user_id = ?", id).Exec(ctx)
		return wrap("delete user memberships", err)
	})
}

// GetOrganizationIDsByUsers returns each user's organization IDs.
func (s *Store) GetOrganizationIDsByUsers(ctx context.Context, userIDs []uuid.UUID) (map[uuid.UUID][]uuid.UUID, error) {
	out := make(map[uuid.UUID][]uuid.UUID, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	var ms []OrganizationMember
	err := s.db.NewSelect().Model(&ms).Where("user_id IN (?)", bun.List(userIDs)).OrderExpr("created_at").Scan(ctx)
	if err != nil {
		return nil, wrap("get organization ids by users", err)
	}
	for _, m := range ms {
		out[m.UserID] = append(out[m.UserID], m.OrganizationID)
	}
	return out, nil
}

// OrganizationMemberWithUser is a membership and its user.
type OrganizationMemberWithUser struct {
	Member OrganizationMember `bun:"embed:m_"`
	User   User               `bun:"embed:u_"`
}

const memberWithUserColumns = `m.user_id AS m_user_id, m.organization_id AS m_organization_id, m.roles AS m_roles,
	m.created_at AS m_created_at, m.updated_at AS m_updated_at,
	u.id AS u_id, u.email AS u_email, u.username AS u_username, u.name AS u_name, u.avatar_url AS u_avatar_url,
	u.status AS u_status, u.login_type AS u_login_type, u.rbac_roles AS u_rbac_roles,
	u.theme_preference AS u_theme_preference, u.quiet_hours_schedule AS u_quiet_hours_schedule,
	u.deleted AS u_deleted, u.created_at AS u_created_at, u.updated_at AS u_updated_at, u.last_seen_at AS u_last_seen_at`

// ListOrganizationMembers returns an organization's members (non-deleted
// users) by username; userID, when valid, keeps only that user.
func (s *Store) ListOrganizationMembers(ctx context.Context, orgID uuid.UUID, userID uuid.NullUUID) ([]OrganizationMemberWithUser, error) {
	var out []OrganizationMemberWithUser
	q := `SELECT ` + memberWithUserColumns + ` FROM organization_members m JOIN users u ON u.id = m.user_id AND NOT u.deleted
		WHERE m.organization_id = ?`
	args := []any{orgID}
	if userID.Valid {
		q += ` AND m.user_id = ?`
		args = append(args, userID.UUID)
	}
	q += ` ORDER BY lower(u.username)`
	err := s.db.NewRaw(q, args...).Scan(ctx, &out)
	if out == nil {
		out = []OrganizationMemberWithUser{}
	}
	return out, wrap("list organization members", err)
}

// DeleteOrganizationMember removes a membership.
func (s *Store) DeleteOrganizationMember(ctx context.Context, orgID, userID uuid.UUID) error {
	res, err := s.db.NewDelete().Model((*OrganizationMember)(nil)).
		Where("organization_id = ?", orgID).Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return wrap("delete organization member", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// UpdateOrganizationMemberRoles replaces a member's organization roles.
func (s *Store) UpdateOrganizationMemberRoles(ctx context.Context, orgID, userID uuid.UUID, roles []string) error {
	res, err := s.db.NewUpdate().Model((*OrganizationMember)(nil)).Set("roles = ?", pgArray(roles)).
		Set("updated_at = ?", Now()).Where("organization_id = ?", orgID).Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return wrap("update organization member roles", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// pgArray passes a string slice as a Postgres text[] (never NULL).
func pgArray(ss []string) any {
	if ss == nil {
		ss = []string{}
	}
	return pgdialect.Array(ss)
}
