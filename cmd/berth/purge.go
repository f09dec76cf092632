package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/coder/quartz"

	"github.com/berth-dev/berth/db"
)

// filePurgeInterval is how often a server deletes unreferenced uploads.
const filePurgeInterval = time.Hour

// purgeFiles deletes, every filePurgeInterval until ctx ends, the uploads
// older than retention that no template version uses. Every server runs it;
// the delete is idempotent.
func purgeFiles(ctx context.Context, store *db.Store, clock quartz.Clock, retention time.Duration, log *slog.Logger) error {
	tick := clock.NewTicker(filePurgeInterval, "purge-files")
	defer tick.Stop()
	for {
		n, err := store.DeleteUnreferencedFiles(ctx, clock.Now().UTC().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("purge unreferenced files", "err", err)
		case n > 0:
			log.Info("purged unreferenced files", "files", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
