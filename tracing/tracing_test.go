package tracing_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/berth-dev/berth/tracing"
)

func TestEnabled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, false},
	} {
		require.Equal(t, tc.want, tracing.Enabled(func(k string) string { return tc.env[k] }), "%v", tc.env)
	}
}

// TestParentRoundTrip: a span's traceparent, stored with a job, continues
// the same trace where the job's workflow is started.
func TestParentRoundTrip(t *testing.T) {
	t.Parallel()
	require.Empty(t, tracing.Parent(context.Background()), "no span, no parent")
	require.Equal(t, context.Background(), tracing.WithParent(context.Background(), ""))

	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	parent := tracing.Parent(ctx)
	require.Regexp(t, `^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`, parent)

	_, child := tp.Tracer("test").Start(tracing.WithParent(context.Background(), parent), "workflow start")
	defer child.End()
	require.Equal(t, span.SpanContext().TraceID(), child.SpanContext().TraceID())
}
