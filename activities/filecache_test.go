package activities

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

func TestFileCache(t *testing.T) {
	c := newFileCache()
	file := func(n int) *db.File { return &db.File{ID: uuid.New(), Data: bytes.Repeat([]byte{'x'}, n)} }

	// A cached file is served without the store (nil here: any read of it
	// would panic).
	a := file(10)
	c.put(a)
	got, err := c.get(context.Background(), nil, a.ID)
	require.NoError(t, err)
	require.Equal(t, a.Data, got)

	// A file over the per-file bound is never kept.
	c.put(file(maxCachedFile + 1))
	require.Len(t, c.byID, 1)

	// The bytes kept stay within the bound; the least recently used go
	// first (a was just read, so b goes).
	b := file(maxCachedFile)
	c.put(b)
	_, err = c.get(context.Background(), nil, a.ID)
	require.NoError(t, err)
	for range fileCacheBytes/maxCachedFile - 1 {
		c.put(file(maxCachedFile))
	}
	require.LessOrEqual(t, c.size, fileCacheBytes)
	require.NotContains(t, c.byID, b.ID)
	require.Contains(t, c.byID, a.ID)
}
