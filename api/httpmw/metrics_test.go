package httpmw_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/httpmw"
)

func metricsEngine(reg prometheus.Registerer) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(httpmw.NewMetrics(reg).Handler())
	e.GET("/api/v2/workspaces/:workspace", func(c *gin.Context) { c.Status(http.StatusOK) })
	return e
}

// TestMetricsLabelRoutePatterns: requests count under their route
// pattern, never their raw path; unmatched ones under "".
func TestMetricsLabelRoutePatterns(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := metricsEngine(reg)
	for _, p := range []string{"/api/v2/workspaces/a", "/api/v2/workspaces/b", "/nope"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(t.Context(), http.MethodGet, p, nil))
	}
	require.NoError(t, testutil.GatherAndCompare(reg, stringsReader(`
# HELP coderd_api_requests_processed_total The total number of processed API requests
# TYPE coderd_api_requests_processed_total counter
coderd_api_requests_processed_total{code="200",method="GET",path="/api/v2/workspaces/:workspace"} 2
coderd_api_requests_processed_total{code="404",method="GET",path=""} 1
# HELP coderd_api_concurrent_requests The number of concurrent API requests.
# TYPE coderd_api_concurrent_requests gauge
coderd_api_concurrent_requests 0
`), "coderd_api_requests_processed_total", "coderd_api_concurrent_requests"))
	n, err := testutil.GatherAndCount(reg, "coderd_api_request_latencies_seconds")
	require.NoError(t, err)
	require.Equal(t, 2, n, "one latency series per route pattern and method")
}

// BenchmarkMetricsMiddleware measures what the middleware adds to a
// request (compare with -bench 'Metrics/none').
func BenchmarkMetricsMiddleware(b *testing.B) {
	for _, tc := range []struct {
		name string
		e    *gin.Engine
	}{
		{"none", func() *gin.Engine {
			gin.SetMode(gin.ReleaseMode)
			e := gin.New()
			e.GET("/api/v2/workspaces/:workspace", func(c *gin.Context) { c.Status(http.StatusOK) })
			return e
		}()},
		{"metrics", metricsEngine(prometheus.NewRegistry())},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/api/v2/workspaces/a", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				tc.e.ServeHTTP(w, req)
			}
		})
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
