package httpmw

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/db"
)

// TestKeyCache: an entry is served only while the listener hears changes
// and none happened, nothing this server wrote since, and not past its TTL;
// what a request gets is its own copy.
func TestKeyCache(t *testing.T) {
	var gen uint64
	listening := true
	kc := NewKeyCache(func() (uint64, bool) { return gen, listening })
	now := time.Unix(1_000_000, 0)
	kc.now = func() time.Time { return now }
	org := uuid.New()
	key := &db.APIKeyWithUser{
		Key:  db.APIKey{ID: "abcdefghij"},
		User: db.User{Username: "alice", RBACRoles: []string{"owner"}},
		Orgs: map[uuid.UUID][]string{org: {"organization-admin"}},
	}
	fill := func() {
		g, l, ok := kc.version()
		require.True(t, ok)
		kc.put(key.Key.ID, key, g, l)
	}

	_, hit := kc.get(key.Key.ID)
	require.False(t, hit, "empty cache")
	fill()
	got, hit := kc.get(key.Key.ID)
	require.True(t, hit)
	require.Equal(t, key, got)
	got.User.RBACRoles[0] = "member"
	got.Orgs[org][0] = "x"
	got.Orgs[uuid.New()] = nil
	again, _ := kc.get(key.Key.ID)
	require.Equal(t, key, again, "a request's changes stay in its copy")

	gen++ // a write announced by the trigger
	_, hit = kc.get(key.Key.ID)
	require.False(t, hit)
	fill()
	kc.Invalidate() // a write of this server
	_, hit = kc.get(key.Key.ID)
	require.False(t, hit)
	fill()
	listening = false // changes may go unheard
	_, hit = kc.get(key.Key.ID)
	require.False(t, hit)
	_, _, ok := kc.version()
	require.False(t, ok, "nothing read now may be cached")
	listening = true
	_, hit = kc.get(key.Key.ID)
	require.True(t, hit)
	now = now.Add(keyCacheTTL + time.Millisecond)
	_, hit = kc.get(key.Key.ID)
	require.False(t, hit, "past its TTL")

	// A read that raced a change keeps the generation it started with.
	g, l, _ := kc.version()
	gen++
	kc.put(key.Key.ID, key, g, l)
	_, hit = kc.get(key.Key.ID)
	require.False(t, hit)
}

// TestKeepsSessions: a write invalidates the cache before its response's
// first byte, unless its route is marked KeepsSessions; reads never do.
func TestKeepsSessions(t *testing.T) {
	gin.SetMode(gin.TestMode)
	kc := NewKeyCache(func() (uint64, bool) { return 0, true })
	key := &db.APIKeyWithUser{Key: db.APIKey{ID: "abcdefghij"}}
	fill := func() {
		g, l, _ := kc.version()
		kc.put(key.Key.ID, key, g, l)
	}
	cached := func() bool { _, hit := kc.get(key.Key.ID); return hit }
	var cachedAfterWrite bool
	respond := func(c *gin.Context) {
		c.String(http.StatusOK, "ok")
		cachedAfterWrite = cached()
	}
	r := gin.New()
	r.Use(func(c *gin.Context) { invalidateOnWrite(c, kc) })
	r.POST("/kept", KeepsSessions, respond)
	r.POST("/unmarked", respond)
	r.GET("/read", respond)

	for _, tc := range []struct {
		method, path string
		kept         bool
	}{{http.MethodPost, "/kept", true}, {http.MethodPost, "/unmarked", false}, {http.MethodGet, "/read", true}} {
		fill()
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, nil))
		require.Equal(t, tc.kept, cachedAfterWrite, "%s %s, as its response started", tc.method, tc.path)
		require.Equal(t, tc.kept, cached(), "%s %s, once it ended", tc.method, tc.path)
	}
}
