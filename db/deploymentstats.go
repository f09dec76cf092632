package db

import (
	"context"
	"slices"

	"github.com/uptrace/bun"
)

// TagCount is how many rows share one provisioner tag set.
type TagCount struct {
	Tags  map[string]string `bun:"tags,type:jsonb"`
	Count int               `bun:"n"`
}

// DeploymentStats are deployment-wide figures for metrics: pending jobs
// and online daemons per tag set, users per status.
type DeploymentStats struct {
	PendingJobs   []TagCount
	OnlineDaemons []TagCount
	Users         map[string]int
}

// GetDeploymentStats reads DeploymentStats in one round trip. Pending jobs
// are counted on the pending-jobs index, daemons and users are few rows.
func (s *Store) GetDeploymentStats(ctx context.Context) (*DeploymentStats, error) {
	var rows []struct {
		Kind  string            `bun:"kind"`
		Tags  map[string]string `bun:"tags,type:jsonb"`
		Label string            `bun:"label"`
		Count int               `bun:"n"`
	}
	err := s.db.NewRaw(`SELECT 'pending' AS kind, tags, '' AS label, count(*) AS n FROM provisioner_jobs
			WHERE started_at IS NULL AND completed_at IS NULL GROUP BY tags
		UNION ALL SELECT 'daemon', tags, '', count(*) FROM provisioner_daemons WHERE last_seen_at > ? GROUP BY tags
		UNION ALL SELECT 'user', NULL, status, count(*) FROM users WHERE NOT deleted GROUP BY status`,
		Now().Add(-DaemonOnlineWindow)).Scan(ctx, &rows)
	if err != nil {
		return nil, wrap("get deployment stats", err)
	}
	st := &DeploymentStats{Users: map[string]int{}}
	for _, r := range rows {
		switch r.Kind {
		case "pending":
			st.PendingJobs = append(st.PendingJobs, TagCount{Tags: r.Tags, Count: r.Count})
		case "daemon":
			st.OnlineDaemons = append(st.OnlineDaemons, TagCount{Tags: r.Tags, Count: r.Count})
		case "user":
			st.Users[r.Label] = r.Count
		}
	}
	return st, nil
}

// PendingMigrations returns the embedded migrations the database has not
// applied, without taking the migration lock: readiness asks it often.
func PendingMigrations(ctx context.Context, bdb bun.IDB) ([]string, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	var applied []string
	if err := bdb.NewSelect().Table("bun_migrations").Column("name").Scan(ctx, &applied); err != nil {
		return nil, wrap("read applied migrations", err)
	}
	var pending []string
	for _, m := range ms.Sorted() {
		if !slices.Contains(applied, m.Name) {
			pending = append(pending, m.Name)
		}
	}
	return pending, nil
}
