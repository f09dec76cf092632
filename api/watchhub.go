package api

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/db/pubsub"
)

// watchHub coalesces workspace watches: the watchers of one workspace on
// this server share one feed, which subscribes once and reads the
// workspace once per change, whatever the number of watchers. Each watcher
// then only picks the latest snapshot (a slow one skips intermediate
// states, as a coalesced wake-up already did).
type watchHub struct {
	a *API
	// reads counts the feeds' reads (tests check they are shared).
	reads atomic.Int64

	mu    sync.Mutex
	feeds map[uuid.UUID]*watchFeed
}

// watchFeed is one workspace's shared reader.
type watchFeed struct {
	id       uuid.UUID
	watchers int
	cancel   context.CancelFunc

	mu      sync.Mutex
	snap    *watchSnapshot
	changed chan struct{} // closed when snap is replaced
}

// watchSnapshot is the workspace as JSON, without and with the caller's
// favorite flag (the only part of a workspace that depends on who watches).
type watchSnapshot struct {
	plain, favorite []byte
	favoriters      []uuid.UUID
}

func (s *watchSnapshot) forUser(id uuid.UUID) []byte {
	if slices.Contains(s.favoriters, id) {
		return s.favorite
	}
	return s.plain
}

func newWatchHub(a *API) *watchHub {
	return &watchHub{a: a, feeds: map[uuid.UUID]*watchFeed{}}
}

// join returns the workspace's feed, starting it for the first watcher,
// and a leave func that stops it after the last.
func (h *watchHub) join(id uuid.UUID) (*watchFeed, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.feeds[id]
	if f == nil {
		ctx, cancel := context.WithCancel(h.a.opts.ShutdownCtx)
		f = &watchFeed{id: id, cancel: cancel, changed: make(chan struct{})}
		h.feeds[id] = f
		// Subscribe before the first read, so no change falls between.
		sub, unsubscribe := h.a.ps.Subscribe(id)
		go func() {
			defer unsubscribe()
			h.run(ctx, f, sub)
		}()
	}
	f.watchers++
	var once sync.Once
	return f, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if f.watchers--; f.watchers == 0 {
				f.cancel()
				delete(h.feeds, id)
			}
		})
	}
}

// current returns the latest snapshot (nil before the first read) and a
// channel closed when a newer one replaces it.
func (f *watchFeed) current() (*watchSnapshot, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap, f.changed
}

func (f *watchFeed) publish(s *watchSnapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = s
	close(f.changed)
	f.changed = make(chan struct{})
}

// run reads the workspace now and after every wake-up of its
// subscription (a change from any server, or the listener's poll).
func (h *watchHub) run(ctx context.Context, f *watchFeed, sub *pubsub.Subscription) {
	var last *watchSnapshot
	for {
		s, err := h.read(ctx, f.id)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			h.a.log.Warn("watch workspace", "workspace_id", f.id, "err", err)
		case last == nil || string(s.plain) != string(last.plain) || !slices.Equal(s.favoriters, last.favoriters):
			last = s
			f.publish(s)
		}
		select {
		case <-ctx.Done():
			return
		case <-sub.C:
		}
	}
}

func (h *watchHub) read(ctx context.Context, id uuid.UUID) (*watchSnapshot, error) {
	a := h.a
	h.reads.Add(1)
	ws, err := a.store.GetWorkspaceByID(ctx, id)
	if err != nil {
		return nil, err
	}
	view, _, err := a.store.GetLatestBuildView(ctx, id, uuid.Nil)
	if err != nil {
		return nil, err
	}
	bv, err := a.completeBuildView(ctx, view)
	if err != nil {
		return nil, err
	}
	favoriters, err := a.store.WorkspaceFavoriters(ctx, id)
	if err != nil {
		return nil, err
	}
	out := workspaceJSON(ws, &db.Organization{ID: ws.OrganizationID, Name: view.OrganizationName}, bv, convertBuild(&view.Build, bv), false, a.opts.AllowWorkspaceRenames)
	s := &watchSnapshot{favoriters: favoriters}
	if s.plain, err = json.Marshal(out); err != nil {
		return nil, err
	}
	out.Favorite = true
	if s.favorite, err = json.Marshal(out); err != nil {
		return nil, err
	}
	slices.SortFunc(s.favoriters, func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) })
	return s, nil
}
