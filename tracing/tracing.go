// Package tracing sets up OpenTelemetry traces for berth: off unless the
// standard OTEL_* environment asks for an exporter, and carried from an API
// request through the job's row (its trace parent) to the workflow a worker
// starts, its activities and the provisioner's steps.
package tracing

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// Enabled reports whether the environment asks for traces: OTEL_TRACES_EXPORTER
// set to otlp, or an OTLP endpoint given (and OTEL_SDK_DISABLED not true).
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch strings.ToLower(getenv("OTEL_TRACES_EXPORTER")) {
	case "none":
		return false
	case "otlp":
		return true
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Provider returns the process's tracer provider: an OTLP/HTTP exporter
// configured by the OTEL_* environment when Enabled, else a no-op one.
// Call shutdown before exiting to flush spans.
func Provider(ctx context.Context, service string) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	if !Enabled(os.Getenv) {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(service)))
	if err != nil {
		return nil, nil, err
	}
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return p, p.Shutdown, nil
}

// Propagator is the W3C trace-context propagator berth uses everywhere.
var propagator = propagation.TraceContext{}

// Propagator returns the W3C trace-context propagator.
func Propagator() propagation.TextMapPropagator { return propagator }

// Parent returns ctx's span as a W3C traceparent ("" without one), to be
// stored with a job so the workflow started for it continues the trace.
func Parent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return c["traceparent"]
}

// WithParent returns ctx continuing the trace of a stored traceparent.
func WithParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// Tracer returns a tracer of the provider behind ctx's span (the no-op
// one without a span), so code deep in a job needs no provider passed.
func Tracer(ctx context.Context, name string) trace.Tracer {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer(name)
}

// TemporalInterceptor returns Temporal's OpenTelemetry tracing interceptor
// on tp, for a client (and the workers made from it): starting a workflow,
// running it and its activities become spans of the caller's trace.
func TemporalInterceptor(tp trace.TracerProvider) (interceptor.Interceptor, error) {
	return opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{
		Tracer: tp.Tracer("temporal-sdk-go"), TextMapPropagator: propagator,
	})
}
