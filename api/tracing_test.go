package api_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/interceptor"

	"github.com/berth-dev/berth/api"
	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
	"github.com/berth-dev/berth/tracing"
)

// TestTraceLinksRequestWorkflowActivity: with tracing on, the request that
// creates a template version, the job workflow a worker starts for it, the
// RunJob activity and the provisioner's stages are one trace, each span
// the child of the one before.
func TestTraceLinksRequestWorkflowActivity(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(ctx) })
	ti, err := tracing.TemporalInterceptor(tp)
	require.NoError(t, err)
	d := berthtest.New(t, berthtest.Options{
		API:                  api.Options{TracerProvider: tp},
		TemporalInterceptors: []interceptor.ClientInterceptor{ti},
	})
	owner := d.CreateFirstUser(ctx)
	fileID := berthtest.UploadEcho(ctx, t, owner.Client, `{"version":1,"steps":{"plan":{"logs":[{"output":"traced"}]}}}`)
	v, err := owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
		FileID: fileID, Provisioner: sdk.ProvisionerTypeEcho, StorageMethod: "file",
	})
	require.NoError(t, err)
	v = berthtest.WaitJob(ctx, t, owner.Client, v.ID)
	require.Equal(t, sdk.ProvisionerJobSucceeded, v.Job.Status, v.Job.Error)

	const request = "POST /api/v2/organizations/:organization/templateversions"
	byName := func(spans tracetest.SpanStubs, name string, tid trace.TraceID) *tracetest.SpanStub {
		for i := range spans {
			s := &spans[i]
			if s.Name == name && (!tid.IsValid() || s.SpanContext.TraceID() == tid) {
				return s
			}
		}
		return nil
	}
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		spans := exp.GetSpans()
		req := byName(spans, request, trace.TraceID{})
		if !assert.NotNil(ct, req, "the request's span") {
			return
		}
		tid := req.SpanContext.TraceID()
		chain := []string{request, "StartWorkflow:ProvisionerJob", "RunWorkflow:ProvisionerJob", "StartActivity:RunJob", "RunActivity:RunJob", "stage Setting up"}
		parent := req
		for _, name := range chain[1:] {
			s := byName(spans, name, tid)
			if !assert.NotNil(ct, s, "%s is in the request's trace", name) {
				return
			}
			assert.Equal(ct, parent.SpanContext.SpanID(), s.Parent.SpanID(), "%s is the child of %s", name, parent.Name)
			parent = s
		}
		assert.NotNil(ct, byName(spans, "stage Parsing template parameters", tid), "each stage has its span")
	}, 30*time.Second, 50*time.Millisecond)
	// The trace, for whoever reads the test's output (go test -v).
	tid := byName(exp.GetSpans(), request, trace.TraceID{}).SpanContext.TraceID()
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID() == tid {
			t.Logf("trace %s span %s parent %s %s (%s)", tid, s.SpanContext.SpanID(), s.Parent.SpanID(), s.Name, s.EndTime.Sub(s.StartTime).Round(time.Microsecond))
		}
	}
}
