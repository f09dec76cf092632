package httpmw_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/httpmw"
	"github.com/berth-dev/berth/logctx"
)

// TestRequestIDLogFields: every line logged with a request's context
// carries its request ID and what middleware learned (here a workspace),
// and one access line per request says the route, status and duration: at
// debug level, or warn for a server error.
func TestRequestIDLogFields(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(logctx.Handler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(httpmw.RequestID(log))
	e.GET("/api/v2/workspaces/:workspace", func(c *gin.Context) {
		logctx.Add(c.Request.Context(), slog.String("workspace_id", c.Param("workspace")))
		log.WarnContext(c.Request.Context(), "inside the handler")
		c.Status(http.StatusTeapot)
	})
	e.GET("/api/v2/broken", func(c *gin.Context) { c.Status(http.StatusInternalServerError) })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/v2/workspaces/w1", nil))
	id := rec.Header().Get("X-Request-Id")
	require.NotEmpty(t, id)

	dec := json.NewDecoder(&buf)
	var inside, access map[string]any
	require.NoError(t, dec.Decode(&inside))
	require.NoError(t, dec.Decode(&access))
	require.Equal(t, "inside the handler", inside["msg"])
	require.Equal(t, id, inside["request_id"])
	require.Equal(t, "w1", inside["workspace_id"])

	require.Equal(t, "http request", access["msg"])
	require.Equal(t, id, access["request_id"])
	require.Equal(t, "w1", access["workspace_id"])
	require.Equal(t, "/api/v2/workspaces/:workspace", access["route"])
	require.Equal(t, "/api/v2/workspaces/w1", access["path"])
	require.Equal(t, http.MethodGet, access["method"])
	require.EqualValues(t, http.StatusTeapot, access["status"])
	require.Contains(t, access, "duration_ms")
	require.Equal(t, "DEBUG", access["level"])

	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/v2/broken", nil))
	var failed map[string]any
	require.NoError(t, dec.Decode(&failed))
	require.Equal(t, "http request", failed["msg"])
	require.Equal(t, "WARN", failed["level"])
	require.EqualValues(t, http.StatusInternalServerError, failed["status"])
}
