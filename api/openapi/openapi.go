// Package openapi builds an OpenAPI 3 document from berth's routes and its
// wire types: paths come from the router, request and response schemas
// from the api/sdk types by reflection (JSON field names, omitempty,
// pointers as nullable), so the document cannot drift from the code.
package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
	"github.com/google/uuid"
)

// Operation documents one route.
type Operation struct {
	Method string
	// Path is the router's pattern, e.g. /api/v2/workspaces/:workspace.
	Path    string
	Summary string
	Tag     string
	// Request is a value of the JSON body's type (nil: no JSON body).
	Request any
	// RequestContentType is set for a non-JSON body (a file upload).
	RequestContentType string
	// Status is the success status (default 200); Response a value of
	// its JSON body's type (nil: no body, or ResponseContentType's).
	Status              int
	Response            any
	ResponseContentType string
	// Public routes need no session token.
	Public bool
	// Query lists query parameters.
	Query []string
}

// Info names the API.
type Info struct {
	Title, Version, Description string
}

// SecurityScheme is the name of the session-token scheme.
const SecurityScheme = "CoderSessionToken"

// Build returns the document of ops, with the error envelope every
// failure answers with.
func Build(info Info, ops []Operation, errorBody any) (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info:    &openapi3.Info{Title: info.Title, Version: info.Version, Description: info.Description},
		Servers: openapi3.Servers{{URL: "/"}},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas: openapi3.Schemas{},
			SecuritySchemes: openapi3.SecuritySchemes{
				SecurityScheme: &openapi3.SecuritySchemeRef{Value: openapi3.NewSecurityScheme().
					WithType("apiKey").WithIn("header").WithName("Coder-Session-Token")},
			},
		},
	}
	errSchema, err := schemaOf(errorBody)
	if err != nil {
		return nil, err
	}
	doc.Components.Schemas["Response"] = errSchema
	errRef := errSchema

	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})
	for _, op := range ops {
		path, params := convertPath(op.Path)
		o := openapi3.NewOperation()
		o.OperationID = operationID(op.Method, path)
		o.Summary = op.Summary
		if op.Tag != "" {
			o.Tags = []string{op.Tag}
		}
		for _, p := range params {
			o.AddParameter(openapi3.NewPathParameter(p).WithSchema(openapi3.NewStringSchema()))
		}
		for _, q := range op.Query {
			o.AddParameter(openapi3.NewQueryParameter(q).WithSchema(openapi3.NewStringSchema()))
		}
		if !op.Public {
			o.Security = &openapi3.SecurityRequirements{{SecurityScheme: []string{}}}
		}
		switch {
		case op.Request != nil:
			s, err := schemaOf(op.Request)
			if err != nil {
				return nil, fmt.Errorf("%s %s request: %w", op.Method, op.Path, err)
			}
			o.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).WithJSONSchemaRef(s)}
		case op.RequestContentType != "":
			o.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).
				WithContent(openapi3.NewContentWithSchema(openapi3.NewBytesSchema(), []string{op.RequestContentType}))}
		}
		status := op.Status
		if status == 0 {
			status = http.StatusOK
		}
		resp := openapi3.NewResponse().WithDescription(http.StatusText(status))
		switch {
		case op.Response != nil:
			s, err := schemaOf(op.Response)
			if err != nil {
				return nil, fmt.Errorf("%s %s response: %w", op.Method, op.Path, err)
			}
			resp.WithJSONSchemaRef(s)
		case op.ResponseContentType != "":
			resp.WithContent(openapi3.NewContentWithSchema(openapi3.NewStringSchema(), []string{op.ResponseContentType}))
		}
		o.Responses = openapi3.NewResponses(
			openapi3.WithStatus(status, &openapi3.ResponseRef{Value: resp}),
			openapi3.WithName("default", openapi3.NewResponse().
				WithDescription("An error: the message, detail and field validations.").WithJSONSchemaRef(errRef)),
		)
		doc.AddOperation(path, op.Method, o)
	}
	return doc, nil
}

// convertPath turns /a/:b/c into /a/{b}/c and returns the parameters.
func convertPath(p string) (string, []string) {
	parts := strings.Split(p, "/")
	var params []string
	for i, s := range parts {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			parts[i] = "{" + name + "}"
			params = append(params, name)
		}
	}
	out := strings.Join(parts, "/")
	return out, params
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, s := range strings.FieldsFunc(strings.TrimPrefix(path, "/api/v2"), func(r rune) bool {
		return r == '/' || r == '{' || r == '}' || r == '-'
	}) {
		b.WriteString(strings.ToUpper(s[:1]) + s[1:])
	}
	if strings.HasSuffix(path, "/") {
		b.WriteString("Slash")
	}
	return b.String()
}

var (
	uuidType     = reflect.TypeFor[uuid.UUID]()
	nullUUIDType = reflect.TypeFor[uuid.NullUUID]()
	rawType      = reflect.TypeFor[json.RawMessage]()
	timeType     = reflect.TypeFor[time.Time]()
)

// customize maps types whose JSON is not their Go shape.
func customize(_ string, t reflect.Type, tag reflect.StructTag, s *openapi3.Schema) error {
	nullable := s.Nullable || t.Kind() == reflect.Pointer
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case uuidType:
		*s = *openapi3.NewUUIDSchema()
		s.Nullable = nullable
	case nullUUIDType:
		*s = *openapi3.NewUUIDSchema()
		s.Nullable = true
	case rawType:
		*s = openapi3.Schema{Nullable: true}
	case timeType:
		*s = *openapi3.NewDateTimeSchema()
		s.Nullable = nullable
	}
	if t.Kind() == reflect.Struct && s.Type.Is(openapi3.TypeObject) {
		// A wire type's fields are all its fields: a response with others
		// does not match the document.
		no := false
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: &no}
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && t != rawType {
		*s = *openapi3.NewBytesSchema() // encoding/json writes []byte as base64
	}
	if v, ok := tag.Lookup("format"); ok {
		s.Format = v
	}
	return nil
}

// schemaOf returns v's schema, inlined.
func schemaOf(v any) (*openapi3.SchemaRef, error) {
	return openapi3gen.NewSchemaRefForValue(v, nil, openapi3gen.SchemaCustomizer(customize))
}

// Fields returns the JSON field names of a struct type as encoding/json
// writes them (embedded structs flattened, "-" skipped).
func Fields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			out = append(out, Fields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
