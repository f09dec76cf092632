package logctx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/logctx"
)

func TestHandlerAddsContextAttrs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(logctx.Handler(slog.NewJSONHandler(&buf, nil))).With("component", "server")

	ctx := logctx.With(context.Background(), slog.String("request_id", "r1"))
	logctx.Add(ctx, slog.String("workspace_id", "w1"))
	child := logctx.With(ctx, slog.String("job_id", "j1"))
	log.InfoContext(child, "hello", "err", "none")
	log.InfoContext(context.Background(), "plain")
	logctx.Add(context.Background(), slog.String("ignored", "x")) // no fields: a no-op

	dec := json.NewDecoder(&buf)
	var first, second map[string]any
	require.NoError(t, dec.Decode(&first))
	require.NoError(t, dec.Decode(&second))
	require.Equal(t, "r1", first["request_id"])
	require.Equal(t, "w1", first["workspace_id"])
	require.Equal(t, "j1", first["job_id"])
	require.Equal(t, "server", first["component"])
	require.Equal(t, "none", first["err"])
	require.NotContains(t, second, "request_id")
	require.Equal(t, []slog.Attr{slog.String("request_id", "r1"), slog.String("workspace_id", "w1")}, logctx.Attrs(ctx),
		"a child's attributes stay in the child")
}
