package db

import (
	"context"

	"github.com/google/uuid"
)

// GetAPIKeyByID returns a key by its ID.
func (s *Store) GetAPIKeyByID(ctx context.Context, id string) (*APIKey, error) {
	k := new(APIKey)
	err := s.db.NewSelect().Model(k).Where("id = ?", id).Scan(ctx)
	return k, wrap("get api key", err)
}

// GetTokenByName returns a user's named token (case-insensitive).
func (s *Store) GetTokenByName(ctx context.Context, userID uuid.UUID, name string) (*APIKey, error) {
	k := new(APIKey)
	err := s.db.NewSelect().Model(k).Where("user_id = ?", userID).Where("login_type = 'token'").
		Where("lower(token_name) = lower(?)", name).Scan(ctx)
	return k, wrap("get token by name", err)
}

// ListTokens returns the tokens (login type token) of one user, or of every
// non-deleted user when userID is uuid.Nil, oldest first.
func (s *Store) ListTokens(ctx context.Context, userID uuid.UUID) ([]*APIKey, error) {
	ks := []*APIKey{}
	q := s.db.NewSelect().Model(&ks).Where("login_type = 'token'")
	if userID != uuid.Nil {
		q = q.Where("user_id = ?", userID)
	} else {
		q = q.Where("user_id IN (SELECT id FROM users WHERE NOT deleted)")
	}
	err := q.OrderExpr("created_at, id").Scan(ctx)
	return ks, wrap("list tokens", err)
}

// DeleteUserAPIKey deletes one of a user's keys.
func (s *Store) DeleteUserAPIKey(ctx context.Context, userID uuid.UUID, id string) error {
	res, err := s.db.NewDelete().Model((*APIKey)(nil)).Where("id = ?", id).Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return wrap("delete api key", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
