// Package httpmw holds berth's HTTP middleware: request IDs, session-token
// authentication and typed path-parameter loaders.
package httpmw

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/berth-dev/berth/api/httpapi"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/logctx"
)

// SessionTokenCookie, SessionTokenQuery and SessionTokenHeader are where
// clients send their token, checked in this order.
const (
	SessionTokenCookie = "coder_session_token"
	SessionTokenQuery  = "coder_session_token"
	SessionTokenHeader = "Coder-Session-Token"
)

// SignedOutMessage is the message of every 401.
const SignedOutMessage = "You are signed out or your session has expired. Please sign in again to continue."

// Actor is the authenticated caller.
type Actor struct {
	User  *db.User
	KeyID string
	// Orgs maps the caller's organizations to their roles in each (the
	// implied organization-member role is not listed).
	Orgs map[uuid.UUID][]string
}

// IsOwner reports whether the caller is a site owner.
func (a *Actor) IsOwner() bool { return a.User.IsOwner() }

// HasSiteRole reports whether the caller holds any of the site roles.
func (a *Actor) HasSiteRole(roles ...string) bool {
	for _, r := range roles {
		if a.User.HasRole(r) {
			return true
		}
	}
	return false
}

// MemberOf reports whether the caller belongs to the organization.
func (a *Actor) MemberOf(orgID uuid.UUID) bool {
	_, ok := a.Orgs[orgID]
	return ok
}

// HasOrgRole reports whether the caller holds any of the roles in the
// organization.
func (a *Actor) HasOrgRole(orgID uuid.UUID, roles ...string) bool {
	for _, have := range a.Orgs[orgID] {
		for _, r := range roles {
			if have == r {
				return true
			}
		}
	}
	return false
}

// HasAnyOrgRole reports whether the caller holds any of the roles in any
// organization.
func (a *Actor) HasAnyOrgRole(roles ...string) bool {
	for org := range a.Orgs {
		if a.HasOrgRole(org, roles...) {
			return true
		}
	}
	return false
}

const actorKey = "berth_actor"

// ActorFrom returns the authenticated caller. It panics when the route is
// not behind Authenticate, which is a programming error.
func ActorFrom(c *gin.Context) *Actor {
	return c.MustGet(actorKey).(*Actor)
}

// HashSecret hashes an API key secret for storage.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// TokenFromRequest returns the session token from the cookie, the query or
// the header, in that order. The query is read only on stream requests
// (StreamRequest), the one place a client may be unable to set a header
// (a browser's WebSocket or EventSource): elsewhere a token in a URL would
// only end up in proxy logs and browser history.
func TokenFromRequest(r *http.Request) string {
	if ck, err := r.Cookie(SessionTokenCookie); err == nil && ck.Value != "" {
		return ck.Value
	}
	if StreamRequest(r) {
		if v := r.URL.Query().Get(SessionTokenQuery); v != "" {
			return v
		}
	}
	return r.Header.Get(SessionTokenHeader)
}

// StreamRequest reports whether r opens a long-lived stream: a websocket
// (log follow) or a workspace watch (server-sent events).
func StreamRequest(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		(strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || strings.HasSuffix(r.URL.Path, "/watch"))
}

func unauthorized(detail string) *httpapi.Error {
	return httpapi.Errorf(http.StatusUnauthorized, SignedOutMessage).WithDetail("%s", detail)
}

// Authenticate resolves the session token to a user or answers 401. Keys
// are read from cache when it can vouch for them, and every request but a
// read or a route marked KeepsSessions invalidates it (KeyCache says why).
func Authenticate(store *db.Store, cache *KeyCache, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := authenticate(c, store, cache); err != nil {
			httpapi.RenderError(c, log, err)
			c.Abort()
			return
		}
		invalidateOnWrite(c, cache)
	}
}

// invalidateOnWrite runs the rest of the chain; a write the route does not
// mark KeepsSessions invalidates the cache before its response starts and
// again when it ends.
func invalidateOnWrite(c *gin.Context, cache *KeyCache) {
	if isRead(c.Request.Method) {
		c.Next()
		return
	}
	w := &invalidatingWriter{ResponseWriter: c.Writer, c: c, cache: cache}
	c.Writer = w
	c.Next()
	c.Writer = w.ResponseWriter
	if !keepsSessions(c) {
		cache.Invalidate()
	}
}

const keepsSessionsKey = "berth.keeps_sessions"

// KeepsSessions marks a route whose writes never touch api_keys, users or
// organization_members (a job's creation or cancel, an upload), so its
// requests leave the key cache alone: clients create jobs far more often
// than anything else, and each invalidation costs every client's next
// request a query. A route left unmarked by mistake only costs that; one
// marked by mistake would let the next request see the old session until
// the trigger's notification arrives, a few milliseconds later.
func KeepsSessions(c *gin.Context) { c.Set(keepsSessionsKey, true) }

func keepsSessions(c *gin.Context) bool { return c.GetBool(keepsSessionsKey) }

func isRead(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// invalidatingWriter invalidates the key cache before the response starts,
// so the client cannot send its next request before its effect is seen.
type invalidatingWriter struct {
	gin.ResponseWriter
	c       *gin.Context
	cache   *KeyCache
	started bool
}

func (w *invalidatingWriter) start() {
	if !w.started {
		w.started = true
		if !keepsSessions(w.c) {
			w.cache.Invalidate()
		}
	}
}

func (w *invalidatingWriter) WriteHeaderNow() {
	w.start()
	w.ResponseWriter.WriteHeaderNow()
}

func (w *invalidatingWriter) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

func (w *invalidatingWriter) WriteString(s string) (int, error) {
	w.start()
	return w.ResponseWriter.WriteString(s)
}

func (w *invalidatingWriter) Flush() {
	w.start()
	w.ResponseWriter.Flush()
}

// Unwrap lets http.ResponseController reach the connection (an upload
// lifts its read deadline).
func (w *invalidatingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func authenticate(c *gin.Context, store *db.Store, cache *KeyCache) error {
	token := TokenFromRequest(c.Request)
	if token == "" {
		return unauthorized(`Cookie "coder_session_token" or query parameter must be provided.`)
	}
	id, secret, ok := strings.Cut(token, "-")
	if !ok || len(id) != 10 || len(secret) != 22 {
		// Never repeat the credential: responses end up in logs.
		return unauthorized("Invalid API key format.")
	}
	ctx := c.Request.Context()
	kw, err := cache.lookup(ctx, store, id)
	if errors.Is(err, db.ErrNotFound) {
		return unauthorized("API key is invalid.")
	}
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(kw.Key.HashedSecret, HashSecret(secret)) != 1 {
		return unauthorized("API key secret is invalid.")
	}
	now := db.Now()
	if !now.Before(kw.Key.ExpiresAt) {
		return unauthorized("API key expired at " + kw.Key.ExpiresAt.Format(time.RFC3339) + ".")
	}
	// The status comes with the key, read on every request or cached until
	// the user changes: a suspension applies to the next request, whatever
	// the key.
	switch kw.User.Status {
	case db.UserStatusSuspended:
		return httpapi.Errorf(http.StatusUnauthorized,
			"User is not active (status = %q). Contact an admin to reactivate your account.", kw.User.Status)
	case db.UserStatusDormant:
		// A new user stays dormant until their first authenticated request.
		if err := store.ActivateDormantUser(ctx, kw.User.ID, now); err != nil {
			return err
		}
		cache.Invalidate()
		kw.User.Status = db.UserStatusActive
		kw.User.LastSeenAt = now
	}
	// Record use at most once a minute per key, to keep reads cheap.
	if now.Sub(kw.Key.LastUsed) > time.Minute {
		if err := store.TouchAPIKey(ctx, kw.Key.ID, kw.User.ID, now); err != nil {
			return err
		}
		cache.Invalidate()
	}
	user := kw.User
	orgs := kw.Orgs
	if orgs == nil {
		orgs = map[uuid.UUID][]string{}
	}
	c.Set(actorKey, &Actor{User: &user, KeyID: kw.Key.ID, Orgs: orgs})
	logctx.Add(c.Request.Context(), slog.String("user_id", user.ID.String()))
	return nil
}

// RequestID gives every request an ID for logs and 500 details, carries
// it in the request's context for every line logged with it
// (logctx.Handler), and writes one access log line when the request ends:
// at debug level, or warn for a server error, as Coder logs requests (at
// info, a client polling a job every few milliseconds filled the log and
// cost the server a tenth of its CPU).
func RequestID(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		id := uuid.NewString()
		httpapi.SetRequestID(c, id)
		c.Header("X-Request-Id", id)
		ctx := logctx.With(c.Request.Context(), slog.String("request_id", id))
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		level := slog.LevelDebug
		if c.Writer.Status() >= http.StatusInternalServerError {
			level = slog.LevelWarn
		}
		log.LogAttrs(ctx, level, "http request",
			slog.String("method", c.Request.Method), slog.String("route", c.FullPath()),
			slog.String("path", c.Request.URL.Path), slog.Int("status", c.Writer.Status()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
	}
}
