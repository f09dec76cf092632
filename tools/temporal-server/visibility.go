package main

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	persistencespb "go.temporal.io/server/api/persistence/v1"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/schema"
	"google.golang.org/protobuf/proto"
)

// Visibility index pruning.
//
// Temporal's SQL visibility table has an index for every search attribute
// column it could ever be asked to filter on: some 57, each of five
// columns, and every workflow's start and close writes a row to each. On
// berth's jobs that made the two visibility writes cost more PostgreSQL time
// than everything else Temporal persists for the job (1.2 ms each at one
// client, 3.4 ms at eight). Most of those indexes serve columns nothing
// uses: the custom search attribute slots no namespace has an attribute in
// (berth registers 7 Keyword and 1 KeywordList of the 28 slots), and system
// attributes of Temporal features berth does not use. Without them a
// visibility write costs a third.
//
// The cost: a query on a pruned column still works, by scanning the
// namespace's rows. An attribute registered later lands in a pruned slot
// until the next start of this command, which recreates the index of every
// slot in use (from the definition it recorded when it dropped it).
// --prune-visibility-indexes=false restores every index.

// prunedSystemIndexes serve system search attributes of features berth does
// not use: batch operations, schedules, worker deployments and versioning,
// activity pause, child workflows.
var prunedSystemIndexes = map[string]bool{
	"by_batcher_user":                          true,
	"by_temporal_schedule_paused":              true,
	"by_temporal_scheduled_by_id":              true,
	"by_temporal_scheduled_start_time":         true,
	"by_temporal_worker_deployment":            true,
	"by_temporal_worker_deployment_version":    true,
	"by_temporal_workflow_versioning_behavior": true,
	"by_build_ids":                             true,
	"by_binary_checksums":                      true,
	"by_temporal_pause_info":                   true,
	"by_parent_workflow_id":                    true,
	"by_parent_run_id":                         true,
}

// customSlotIndex matches the index of a custom search attribute column
// (by_keyword_01 serves keyword01, the slot Keyword01).
var customSlotIndex = regexp.MustCompile(`^by_(bool|datetime|double|int|keyword|keyword_list|text)_(\d\d)$`)

// slotOfIndex returns the custom slot an index serves ("KeywordList02"), or "".
func slotOfIndex(index string) string {
	m := customSlotIndex.FindStringSubmatch(index)
	if m == nil {
		return ""
	}
	var b strings.Builder
	for part := range strings.SplitSeq(m[1], "_") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String() + m[2]
}

// prunable reports whether an index is one to drop, given the custom slots
// some namespace uses.
func prunable(index string, usedSlots map[string]bool) bool {
	if slot := slotOfIndex(index); slot != "" {
		return !usedSlots[slot]
	}
	return prunedSystemIndexes[index]
}

const prunedTable = `CREATE TABLE IF NOT EXISTS berth_pruned_indexes (
	name text PRIMARY KEY,
	definition text NOT NULL
)`

// openDB opens one of the command's databases with database/sql.
func (o *options) openDB(name string) (*sql.DB, error) {
	u, err := url.Parse(o.postgresURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	return sql.Open("pgx", u.String())
}

// tuneVisibilityIndexes drops the indexes no query needs and recreates the
// dropped ones that are needed again (a slot now used, or prune off).
func tuneVisibilityIndexes(ctx context.Context, o *options, logger log.Logger) error {
	vis, err := o.openDB(o.visibilityDB)
	if err != nil {
		return err
	}
	defer vis.Close()
	keep := func(string) bool { return true }
	if o.pruneVisibility {
		used, err := o.usedSlots(ctx)
		if err != nil {
			return err
		}
		keep = func(index string) bool { return !prunable(index, used) }
	}
	restored, err := restoreIndexes(ctx, vis, keep)
	if err != nil {
		return err
	}
	rows, err := queryPairs(ctx, vis, `SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = 'executions_visibility'`)
	if err != nil {
		return err
	}
	dropped := 0
	for _, r := range rows {
		if keep(r[0]) {
			continue
		}
		// Record first: a crash between the two leaves a record of an
		// index that exists, which the next run drops again.
		if _, err := vis.ExecContext(ctx, `INSERT INTO berth_pruned_indexes (name, definition) VALUES ($1, $2)
			ON CONFLICT (name) DO NOTHING`, r[0], r[1]); err != nil {
			return fmt.Errorf("record index %s: %w", r[0], err)
		}
		if _, err := vis.ExecContext(ctx, `DROP INDEX IF EXISTS `+quoteIdent(r[0])); err != nil {
			return fmt.Errorf("drop index %s: %w", r[0], err)
		}
		dropped++
	}
	if dropped > 0 || restored > 0 {
		logger.Info("visibility indexes tuned", tag.NewInt("dropped", dropped), tag.NewInt("restored", restored))
	}
	return nil
}

// restoreIndexes recreates the recorded indexes keep keeps and forgets
// them; it returns how many it recreated.
func restoreIndexes(ctx context.Context, vis *sql.DB, keep func(string) bool) (int, error) {
	if _, err := vis.ExecContext(ctx, prunedTable); err != nil {
		return 0, fmt.Errorf("create berth_pruned_indexes: %w", err)
	}
	rows, err := queryPairs(ctx, vis, `SELECT name, definition FROM berth_pruned_indexes ORDER BY name`)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		if !keep(r[0]) {
			continue
		}
		def := strings.Replace(r[1], "CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
		if _, err := vis.ExecContext(ctx, def); err != nil {
			return n, fmt.Errorf("recreate index %s: %w", r[0], err)
		}
		if _, err := vis.ExecContext(ctx, `DELETE FROM berth_pruned_indexes WHERE name = $1`, r[0]); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// usedSlots returns the custom search attribute slots ("Keyword01") some
// namespace maps an attribute to.
func (o *options) usedSlots(ctx context.Context) (map[string]bool, error) {
	db, err := o.openDB(o.database)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := queryPairs(ctx, db, `SELECT data, data_encoding FROM namespaces`)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, r := range rows {
		if r[1] != "Proto3" {
			return nil, fmt.Errorf("namespace record encoded as %q, not Proto3", r[1])
		}
		var ns persistencespb.NamespaceDetail
		if err := proto.Unmarshal([]byte(r[0]), &ns); err != nil {
			return nil, fmt.Errorf("decode namespace record: %w", err)
		}
		for slot := range ns.GetConfig().GetCustomSearchAttributeAliases() {
			used[slot] = true
		}
	}
	return used, nil
}

// restoreBeforeUpgrade recreates every pruned index before a schema upgrade
// of the visibility database, so that the upgrade finds the schema it
// expects; the next start prunes again.
func restoreBeforeUpgrade(o *options, current, dir string) error {
	newest, err := newestVersion(dir)
	if err != nil || !versionLess(current, newest) {
		return err
	}
	ctx := context.Background()
	vis, err := o.openDB(o.visibilityDB)
	if err != nil {
		return err
	}
	defer vis.Close()
	_, err = restoreIndexes(ctx, vis, func(string) bool { return true })
	return err
}

// newestVersion returns the newest versioned schema of an embedded schema
// directory ("1.9").
func newestVersion(dir string) (string, error) {
	entries, err := fs.ReadDir(schema.Assets(), path.Join(dir, "versioned"))
	if err != nil {
		return "", err
	}
	newest := ""
	for _, e := range entries {
		v, ok := strings.CutPrefix(e.Name(), "v")
		if ok && e.IsDir() && (newest == "" || versionLess(newest, v)) {
			newest = v
		}
	}
	return newest, nil
}

// versionLess compares "major.minor" versions.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func queryPairs(ctx context.Context, db *sql.DB, query string) ([][2]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var r [2]string
		if err := rows.Scan(&r[0], &r[1]); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
