// Package httpapi holds berth's one error envelope, the one renderer, body
// decoding with validation, and the websocket and SSE helpers. Every
// response is JSON with Coder's {message, detail, validations} shape on
// errors.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"

	"github.com/berth-dev/berth/api/sdk"
)

// Error is an error with an HTTP status and a Coder-shaped body.
type Error struct {
	Status   int
	Response sdk.Response
}

func (e *Error) Error() string {
	if e.Response.Detail != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, e.Response.Message, e.Response.Detail)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Response.Message)
}

// Errorf builds an *Error with a message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Response: sdk.Response{Message: fmt.Sprintf(format, args...)}}
}

// WithDetail sets the error's detail.
func (e *Error) WithDetail(format string, args ...any) *Error {
	e.Response.Detail = fmt.Sprintf(format, args...)
	return e
}

// WithValidation appends a field validation.
func (e *Error) WithValidation(field, detail string) *Error {
	e.Response.Validations = append(e.Response.Validations, sdk.ValidationError{Field: field, Detail: detail})
	return e
}

// ResourceNotFoundMessage is the one 404 message: not found and not allowed
// look the same.
const ResourceNotFoundMessage = "Resource not found or you do not have access to this resource"

// NotFound is the one 404.
func NotFound() *Error { return Errorf(http.StatusNotFound, ResourceNotFoundMessage) }

// BadRequest is a 400 with a message.
func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, format, args...)
}

// Write writes v as JSON with the status.
func Write(c *gin.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	c.Data(status, "application/json", b)
	return nil
}

// WriteMessage writes a {message} response.
func WriteMessage(c *gin.Context, status int, msg string) error {
	return Write(c, status, sdk.Response{Message: msg})
}

// RenderError writes err: an *Error keeps its status and body; anything
// else is logged once and answered with a fixed 500.
func RenderError(c *gin.Context, log *slog.Logger, err error) {
	var he *Error
	if errors.As(err, &he) {
		writeError(c, he.Status, he.Response)
		return
	}
	reqID := RequestID(c)
	// The request's context carries request_id and what the request
	// works on (logctx).
	log.ErrorContext(c.Request.Context(), "request failed", "err", err, "method", c.Request.Method, "route", c.FullPath())
	writeError(c, http.StatusInternalServerError, sdk.Response{
		Message: "Internal error processing the request.",
		Detail:  "request_id: " + reqID,
	})
}

func writeError(c *gin.Context, status int, r sdk.Response) {
	if c.Writer.Written() {
		return
	}
	b, _ := json.Marshal(r)
	c.Data(status, "application/json", b)
}

// RequestID returns the request's ID set by the request-ID middleware.
func RequestID(c *gin.Context) string {
	if v, ok := c.Get(requestIDKey); ok {
		if s, ok := v.(string); ok {
			return s
		}
	}
	return ""
}

const requestIDKey = "berth_request_id"

// SetRequestID stores the request's ID.
func SetRequestID(c *gin.Context, id string) { c.Set(requestIDKey, id) }

var (
	validateOnce sync.Once
	validate     *validator.Validate
)

// Validator returns the one validator instance, reporting JSON field names.
func Validator() *validator.Validate {
	validateOnce.Do(func() {
		v := validator.New(validator.WithRequiredStructEnabled())
		v.RegisterTagNameFunc(func(f reflect.StructField) string {
			name := strings.SplitN(f.Tag.Get("json"), ",", 2)[0]
			if name == "-" {
				return ""
			}
			return name
		})
		for tag, fn := range customValidations {
			_ = v.RegisterValidation(tag, fn)
		}
		validate = v
	})
	return validate
}

// MaxBodySize is the largest JSON request body Read accepts: far above any
// request Coder's clients send (a version message of a megabyte fits), far
// below what would let one request raise the server's memory noticeably.
const MaxBodySize = 4 << 20

// Read decodes the JSON body (at most MaxBodySize bytes) into v and
// validates it.
func Read(c *gin.Context, v any) error { return ReadMax(c, v, MaxBodySize) }

// ReadMax is Read with another size cap, for the few bodies that carry
// files (pushed state). A body over the cap is answered 413 without being
// read further: a declared length is refused before any byte is read, and an
// undeclared one stops at the cap (the server then closes the connection).
func ReadMax(c *gin.Context, v any, limit int64) error {
	if c.Request.ContentLength > limit {
		return TooLarge(limit)
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return TooLarge(limit)
		}
		return BadRequest("Request body must be valid JSON.").WithDetail("%s", err.Error())
	}
	return Validate(v)
}

// TooLarge is the 413 for a request body over limit bytes.
func TooLarge(limit int64) *Error {
	return Errorf(http.StatusRequestEntityTooLarge, "Request body is too large.").
		WithDetail("The limit is %d bytes.", limit)
}

// Validate validates a decoded request with the struct's `validate` tags.
func Validate(v any) error {
	err := Validator().Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("validate request: %w", err)
	}
	he := BadRequest("Validation failed.")
	for _, fe := range verrs {
		he.WithValidation(fe.Field(), ValidationDetail(fe.Tag(), fe.Value()))
	}
	return he
}

// maxEchoedValue is the longest value a validation detail repeats; longer
// ones (a megabyte of version message) read "...".
const maxEchoedValue = 4096

// ValidationDetail is Coder's detail for a value that failed a validate
// tag: Validation failed for tag "<tag>" with value: "<value>".
func ValidationDetail(tag string, value any) string {
	v := fmt.Sprint(value)
	if len(v) > maxEchoedValue {
		v = "..."
	}
	return fmt.Sprintf("Validation failed for tag %q with value: \"%s\"", tag, v)
}
