package api

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/dispatch"
	"github.com/berth-dev/berth/api/openapi"
	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/db/pubsub"
	"github.com/berth-dev/berth/workflows"
)

// routesOnly is an API whose router is built but whose handlers are never
// called: its dependencies are empty.
func routesOnly(t *testing.T) (*API, *gin.Engine) {
	t.Helper()
	store := db.NewStore(nil)
	a, err := New(Options{Store: store, PubSub: pubsub.New(nil, nil),
		Dispatcher: dispatch.New(nil, store, workflows.Queues{Prefix: "berth"}, nil)})
	require.NoError(t, err)
	return a, a.Handler().(*gin.Engine)
}

// fetchDocument reads GET /api/v2/openapi.json and loads it.
func fetchDocument(t *testing.T, h http.Handler) *openapi3.T {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/v2/openapi.json", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	require.NoError(t, err)
	return doc
}

// TestOpenAPIComplete: every /api/v2 route is in the document, and the
// document names no route the router lacks.
func TestOpenAPIComplete(t *testing.T) {
	t.Parallel()
	_, e := routesOnly(t)
	_, undocumented := Operations(e)
	require.Empty(t, undocumented, "routes missing from the OpenAPI document: add them to docs in openapi_routes.go")

	routes := map[string]bool{}
	for _, r := range e.Routes() {
		routes[r.Method+" "+r.Path] = true
	}
	for key := range docs {
		require.True(t, routes[key], "docs documents %s, which the router does not serve", key)
	}

	doc := fetchDocument(t, e)
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			n++
			gin := strings.NewReplacer("{", ":", "}", "").Replace(path)
			require.True(t, routes[method+" "+gin], "%s %s is documented but not served", method, path)
			for _, seg := range strings.Split(path, "/") {
				if name, ok := strings.CutPrefix(seg, "{"); ok {
					name = strings.TrimSuffix(name, "}")
					require.NotNil(t, op.Parameters.GetByInAndName(openapi3.ParameterInPath, name), "%s %s declares {%s}", method, path, name)
				}
			}
		}
	}
	require.Equal(t, len(docs), n, "one operation per documented route")
}

// TestOpenAPIValid: the served document validates with kin-openapi's
// OpenAPI 3 validator.
func TestOpenAPIValid(t *testing.T) {
	t.Parallel()
	_, e := routesOnly(t)
	doc := fetchDocument(t, e)
	require.NoError(t, doc.Validate(t.Context()))
	require.Equal(t, "3.0.3", doc.OpenAPI)
}

// TestOpenAPIFieldsMatchWireTypes: every request and response body in the
// document has exactly the JSON fields of its api/sdk type, recursively for
// nested objects and arrays.
func TestOpenAPIFieldsMatchWireTypes(t *testing.T) {
	t.Parallel()
	_, e := routesOnly(t)
	doc := fetchDocument(t, e)
	ops, _ := Operations(e)
	for _, op := range ops {
		path := strings.NewReplacer("/:", "/{").Replace(op.Path)
		path = closeParams(path)
		o := doc.Paths.Find(path).GetOperation(op.Method)
		require.NotNil(t, o, "%s %s", op.Method, path)
		if op.Request != nil {
			s := o.RequestBody.Value.Content.Get("application/json").Schema.Value
			compareFields(t, op.Method+" "+path+" request", reflect.TypeOf(op.Request), s)
		}
		if op.Response != nil {
			status := op.Status
			if status == 0 {
				status = http.StatusOK
			}
			r := o.Responses.Status(status)
			require.NotNil(t, r, "%s %s answers %d", op.Method, path, status)
			s := r.Value.Content.Get("application/json").Schema.Value
			compareFields(t, op.Method+" "+path+" response", reflect.TypeOf(op.Response), s)
		}
	}
}

// closeParams turns /a/{b/c into /a/{b}/c.
func closeParams(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, "{") {
			parts[i] = s + "}"
		}
	}
	return strings.Join(parts, "/")
}

// compareFields checks that schema s describes Go type t's JSON fields.
func compareFields(t *testing.T, where string, typ reflect.Type, s *openapi3.Schema) {
	t.Helper()
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.Slice, reflect.Array:
		if typ.Elem().Kind() == reflect.Uint8 {
			return // bytes or a UUID: a string
		}
		require.True(t, s.Type.Is(openapi3.TypeArray), "%s: %s is an array", where, typ)
		compareFields(t, where+"[]", typ.Elem(), s.Items.Value)
	case reflect.Struct:
		want := openapi.Fields(typ)
		if len(want) == 0 || typ.PkgPath() != reflect.TypeFor[openapi.Operation]().PkgPath() && !strings.Contains(typ.PkgPath(), "api/sdk") {
			return // time.Time, uuid.NullUUID and friends are strings
		}
		got := make([]string, 0, len(s.Properties))
		for name := range s.Properties {
			got = append(got, name)
		}
		sort.Strings(got)
		require.Equal(t, want, got, "%s: the fields of %s", where, typ)
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if p := s.Properties[name]; p != nil && name != "" && name != "-" {
				compareFields(t, where+"."+name, f.Type, p.Value)
			}
		}
	}
}
