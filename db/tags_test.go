package db_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

func TestNormalizeTags(t *testing.T) {
	t.Parallel()
	me := uuid.New()
	job := uuid.NullUUID{UUID: me, Valid: true}
	for _, tc := range []struct {
		name      string
		in        map[string]string
		initiator uuid.NullUUID
		want      map[string]string
	}{
		{"untagged", nil, job, db.UntaggedTags()},
		{"empty values are dropped", map[string]string{"gpu": "", "region": "eu"}, job,
			map[string]string{"region": "eu", "scope": "organization", "owner": ""}},
		{"unknown scope", map[string]string{"scope": "team", "owner": "x"}, job, db.UntaggedTags()},
		{"a job's user scope is its initiator's", map[string]string{"scope": "user", "owner": "someone"}, job,
			map[string]string{"scope": "user", "owner": me.String()}},
		{"a daemon's user scope keeps its owner", map[string]string{"scope": "user", "owner": "someone"}, uuid.NullUUID{},
			map[string]string{"scope": "user", "owner": "someone"}},
	} {
		require.Equal(t, tc.want, db.NormalizeTags(tc.in, tc.initiator), tc.name)
	}
}
