package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/health"
)

func TestReadyzNamesFailingDependencies(t *testing.T) {
	t.Parallel()
	up := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("connection refused") }
	stuck := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	tests := []struct {
		name    string
		checks  []health.Check
		status  int
		failing []string
	}{
		{"all up", []health.Check{{Name: health.Postgres, Probe: up}, {Name: health.Temporal, Probe: up}}, http.StatusOK, nil},
		{"temporal down", []health.Check{{Name: health.Postgres, Probe: up}, {Name: health.Temporal, Probe: down}}, http.StatusServiceUnavailable, []string{health.Temporal}},
		{"two down, one stuck", []health.Check{{Name: health.Postgres, Probe: stuck}, {Name: health.Listener, Probe: down}, {Name: health.Migrations, Probe: up}},
			http.StatusServiceUnavailable, []string{health.Listener, health.Postgres}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			health.New(tt.checks...).Readyz().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/readyz", nil))
			require.Equal(t, tt.status, rec.Code)
			var r health.Report
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
			require.Equal(t, tt.failing, r.Failing)
			require.Equal(t, tt.status == http.StatusOK, r.Ready)
			require.Len(t, r.Checks, len(tt.checks))
			for _, name := range tt.failing {
				require.NotEqual(t, "ok", r.Checks[name])
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	health.Healthz().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
}
