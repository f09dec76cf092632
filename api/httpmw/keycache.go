package httpmw

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/db"
)

// Key cache limits.
const (
	// keyCacheTTL bounds how long an entry is trusted, whatever else
	// happens.
	keyCacheTTL = 10 * time.Second
	// keyCacheSize bounds the entries; a full cache starts over.
	keyCacheSize = 10000
)

// KeyCache keeps the API keys this server authenticated, with their users
// and organization roles, so a client polling a job costs one query a
// request instead of two. An entry is trusted only while nothing that could
// change it happened since it was read:
//
//   - a write to api_keys, users or organization_members anywhere: a
//     trigger announces it on db.AuthChangedChannel, which the server's
//     listener counts (source); while the listener is not listening,
//     nothing is cached;
//   - a request of this server that could have written one: every
//     authenticated request other than a read invalidates the cache
//     before its response is sent, so the client's next request sees its
//     effect even before the notification arrives.
//
// Entries are dropped after keyCacheTTL regardless.
type KeyCache struct {
	source func() (uint64, bool)
	now    func() time.Time
	local  atomic.Uint64

	mu sync.Mutex
	m  map[string]keyEntry
}

type keyEntry struct {
	kw         db.APIKeyWithUser
	gen, local uint64
	at         time.Time
}

// NewKeyCache returns a cache invalidated by source, which reports the
// count of changes heard and whether changes are being heard at all
// (pubsub.PubSub.AuthGeneration).
func NewKeyCache(source func() (gen uint64, ok bool)) *KeyCache {
	return &KeyCache{source: source, now: time.Now, m: map[string]keyEntry{}}
}

// version is the state an entry read now is valid for; ok is false when
// nothing may be cached.
func (kc *KeyCache) version() (gen, local uint64, ok bool) {
	local = kc.local.Load()
	gen, ok = kc.source()
	return gen, local, ok
}

// Invalidate drops every entry.
func (kc *KeyCache) Invalidate() { kc.local.Add(1) }

// lookup reads a key with its user, from the cache when it can.
func (kc *KeyCache) lookup(ctx context.Context, store *db.Store, id string) (*db.APIKeyWithUser, error) {
	if kw, ok := kc.get(id); ok {
		return kw, nil
	}
	gen, local, ok := kc.version()
	kw, err := store.GetAPIKeyWithUser(ctx, id)
	if err == nil && ok {
		kc.put(id, kw, gen, local)
	}
	return kw, err
}

// get returns a copy of the cached key, if it is still valid.
func (kc *KeyCache) get(id string) (*db.APIKeyWithUser, bool) {
	gen, local, ok := kc.version()
	if !ok {
		return nil, false
	}
	kc.mu.Lock()
	e, hit := kc.m[id]
	kc.mu.Unlock()
	if !hit || e.gen != gen || e.local != local || kc.now().Sub(e.at) > keyCacheTTL {
		return nil, false
	}
	return copyKey(&e.kw), true
}

// put caches kw, read after version returned gen and local.
func (kc *KeyCache) put(id string, kw *db.APIKeyWithUser, gen, local uint64) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if len(kc.m) >= keyCacheSize {
		clear(kc.m)
	}
	kc.m[id] = keyEntry{kw: *copyKey(kw), gen: gen, local: local, at: kc.now()}
}

// copyKey copies kw deeply enough that a request changing its copy leaves
// the cache's alone.
func copyKey(kw *db.APIKeyWithUser) *db.APIKeyWithUser {
	out := *kw
	out.Key.HashedSecret = slices.Clone(kw.Key.HashedSecret)
	out.User.RBACRoles = slices.Clone(kw.User.RBACRoles)
	out.Orgs = maps.Clone(kw.Orgs)
	for org, roles := range out.Orgs {
		out.Orgs[org] = slices.Clone(roles)
	}
	return &out
}
