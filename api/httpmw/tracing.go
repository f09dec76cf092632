package httpmw

import (
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/berth-dev/berth/tracing"
)

// Trace starts a server span per request, named for its route pattern and
// continuing a trace the caller sent (traceparent). Jobs the request
// creates carry the span on, to their workflow.
func Trace(tp trace.TracerProvider) gin.HandlerFunc {
	tracer := tp.Tracer("github.com/berth-dev/berth/api")
	return func(c *gin.Context) {
		ctx := tracing.Propagator().Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		route := c.FullPath()
		ctx, span := tracer.Start(ctx, c.Request.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(c.Request.Method), semconv.HTTPRoute(route)))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		status := c.Writer.Status()
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			span.SetStatus(codes.Error, "")
		}
	}
}
