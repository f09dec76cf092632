package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// AutobuildCandidate is a workspace the lifecycle executor may build, with
// its latest build.
type AutobuildCandidate struct {
	WorkspaceID   uuid.UUID  `bun:"workspace_id"`
	LatestBuildID uuid.UUID  `bun:"build_id"`
	NextStartAt   *time.Time `bun:"next_start_at"`
	// Eligible says the latest build is a successful stop (autostart) or
	// start (autostop) of a live, non-dormant workspace.
	Eligible bool `bun:"eligible"`
}

// latestBuildSQL joins each workspace to its latest build and that build's
// job; succeeded is true when the job completed without error or cancel.
const latestBuildSQL = `FROM workspaces w
	JOIN LATERAL (SELECT b.id, b.transition, b.deadline, b.job_id FROM workspace_builds b
		WHERE b.workspace_id = w.id ORDER BY b.build_number DESC LIMIT 1) lb ON true
	JOIN provisioner_jobs j ON j.id = lb.job_id`

const succeededSQL = `(j.completed_at IS NOT NULL AND j.canceled_at IS NULL AND j.error = '')`

// AutostopDue lists live, non-dormant workspaces whose latest build is a
// successful start past its deadline.
func (s *Store) AutostopDue(ctx context.Context, now time.Time, limit int) ([]AutobuildCandidate, error) {
	var out []AutobuildCandidate
	err := s.db.NewRaw(`SELECT w.id AS workspace_id, lb.id AS build_id, w.next_start_at, true AS eligible `+latestBuildSQL+`
		WHERE NOT w.deleted AND w.dormant_at IS NULL AND lb.transition = 'start'
		AND lb.deadline IS NOT NULL AND lb.deadline <= ? AND `+succeededSQL+`
		ORDER BY lb.deadline LIMIT ?`, now, limit).Scan(ctx, &out)
	return out, wrap("list workspaces due to stop", err)
}

// AutostartDue lists live workspaces whose autostart time has come. Only
// those whose latest build is a successful stop (and that are not dormant)
// are eligible; the others just need their next start time moved on.
func (s *Store) AutostartDue(ctx context.Context, now time.Time, limit int) ([]AutobuildCandidate, error) {
	var out []AutobuildCandidate
	err := s.db.NewRaw(`SELECT w.id AS workspace_id, lb.id AS build_id, w.next_start_at,
		(w.dormant_at IS NULL AND lb.transition = 'stop' AND `+succeededSQL+`) AS eligible `+latestBuildSQL+`
		WHERE NOT w.deleted AND w.autostart_schedule IS NOT NULL AND w.next_start_at <= ?
		ORDER BY w.next_start_at LIMIT ?`, now, limit).Scan(ctx, &out)
	return out, wrap("list workspaces due to start", err)
}

// AdvanceNextStart moves a workspace's next autostart time from prev to
// next (nil: none). It reports false when another server got there first.
func (s *Store) AdvanceNextStart(ctx context.Context, id uuid.UUID, prev time.Time, next *time.Time) (bool, error) {
	res, err := s.db.NewUpdate().Model((*Workspace)(nil)).Set("next_start_at = ?", next).
		Where("id = ?", id).Where("next_start_at = ?", prev).Exec(ctx)
	if err != nil {
		return false, wrap("advance next start", err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap("advance next start", err)
}
