package activities

import (
	"container/list"
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/berth-dev/berth/db"
)

// File cache bounds: a worker keeps template archives of this many bytes
// at most, none larger than maxCachedFile.
const (
	fileCacheBytes = 4 << 20
	maxCachedFile  = 1 << 20
)

// fileCache keeps the archives of recent jobs, most recently used first.
// A file never changes once uploaded, and cannot be deleted while a job
// refers to it, so a copy is always current: every build of a template
// version, and every import of one upload, reads the same archive, and
// only the first read of it goes to Postgres.
type fileCache struct {
	mu    sync.Mutex
	size  int
	order *list.List // of *db.File, the most recently used at the front
	byID  map[uuid.UUID]*list.Element
}

func newFileCache() *fileCache {
	return &fileCache{order: list.New(), byID: map[uuid.UUID]*list.Element{}}
}

// get returns a file's archive, from the cache or from the store (which
// then caches it, unless it is too large). Callers must not modify it.
func (c *fileCache) get(ctx context.Context, store *db.Store, id uuid.UUID) ([]byte, error) {
	c.mu.Lock()
	if e, ok := c.byID[id]; ok {
		c.order.MoveToFront(e)
		data := e.Value.(*db.File).Data
		c.mu.Unlock()
		return data, nil
	}
	c.mu.Unlock()
	f, err := store.GetFileByID(ctx, id)
	if err != nil {
		return nil, err
	}
	c.put(f)
	return f.Data, nil
}

func (c *fileCache) put(f *db.File) {
	if len(f.Data) > maxCachedFile {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[f.ID]; ok {
		return
	}
	c.byID[f.ID] = c.order.PushFront(f)
	c.size += len(f.Data)
	for c.size > fileCacheBytes {
		oldest := c.order.Back()
		old := c.order.Remove(oldest).(*db.File)
		delete(c.byID, old.ID)
		c.size -= len(old.Data)
	}
}
