package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Names shared by the server and the client.
const (
	// SessionTokenHeader carries the session token on REST calls.
	SessionTokenHeader = "Coder-Session-Token"
	// SessionTokenCookie carries the session token on websocket log streams
	// (and is set by POST /users/login). The same name is accepted as a
	// query parameter.
	SessionTokenCookie = "coder_session_token"
	// BuildVersionHeader is sent on every response with the server version.
	BuildVersionHeader = "X-Coder-Build-Version"
)

// ErrNotModified is returned by methods whose endpoint answers 304 when the
// request changes nothing (PATCH /templates/{template},
// PUT /workspaces/{workspace}/dormant).
var ErrNotModified = errors.New("not modified")

// Client is a typed client for the /api/v2 API.
type Client struct {
	// HTTPClient performs the requests; it defaults to a new http.Client.
	HTTPClient *http.Client
	// URL is the server's base URL (without /api/v2).
	URL *url.URL

	mu           sync.RWMutex
	sessionToken string
}

// New returns a Client for the server at baseURL, e.g. http://127.0.0.1:3000.
func New(baseURL *url.URL) *Client {
	u := *baseURL
	return &Client{HTTPClient: &http.Client{}, URL: &u}
}

// SetSessionToken sets the token sent with every request.
func (c *Client) SetSessionToken(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessionToken = token
}

// SessionToken returns the token sent with every request.
func (c *Client) SessionToken() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.sessionToken
}

// RequestOption modifies a request before it is sent.
type RequestOption func(*http.Request)

// WithQueryParam adds key=value to the request's query string.
func WithQueryParam(key, value string) RequestOption {
	return func(r *http.Request) {
		q := r.URL.Query()
		q.Add(key, value)
		r.URL.RawQuery = q.Encode()
	}
}

// WithHeader sets a request header.
func WithHeader(key, value string) RequestOption {
	return func(r *http.Request) { r.Header.Set(key, value) }
}

// url resolves path (which may carry a query string) against the base URL,
// keeping any path prefix of the base URL.
func (c *Client) url(path string) (*url.URL, error) {
	rel, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("parse path %q: %w", path, err)
	}
	u := c.URL.JoinPath(rel.EscapedPath())
	u.RawQuery = rel.RawQuery
	return u, nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient == nil {
		return http.DefaultClient
	}
	return c.HTTPClient
}

// Request sends an HTTP request to path (e.g. "/api/v2/buildinfo") with the
// session token in the Coder-Session-Token header. A body of type io.Reader
// or []byte is sent as is (set the Content-Type with WithHeader); any other
// non-nil body is encoded as JSON. The caller must close the response body.
func (c *Client) Request(ctx context.Context, method, path string, body any, opts ...RequestOption) (*http.Response, error) {
	u, err := c.url(path)
	if err != nil {
		return nil, err
	}
	var (
		r           io.Reader
		contentType string
	)
	switch b := body.(type) {
	case nil:
	case io.Reader:
		r = b
	case []byte:
		r = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
		r = bytes.NewReader(buf)
		contentType = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, fmt.Errorf("create request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if token := c.SessionToken(); token != "" {
		req.Header.Set(SessionTokenHeader, token)
	}
	for _, opt := range opts {
		opt(req)
	}
	res, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	return res, nil
}

// do sends a request and decodes a JSON response into T when the status is
// one of ok; any other status becomes an *Error.
func do[T any](ctx context.Context, c *Client, method, path string, body any, ok []int, opts ...RequestOption) (T, error) {
	var out T
	res, err := c.Request(ctx, method, path, body, opts...)
	if err != nil {
		return out, err
	}
	defer res.Body.Close()
	if !statusIn(res.StatusCode, ok) {
		return out, ReadBodyAsError(res)
	}
	if err := DecodeJSON(res, &out); err != nil {
		return out, err
	}
	return out, nil
}

// doNotModified is do for endpoints that answer 200 with T, or 304 with no
// body when nothing changed (reported as ErrNotModified).
func doNotModified[T any](ctx context.Context, c *Client, method, path string, body any) (T, error) {
	var out T
	res, err := c.Request(ctx, method, path, body)
	if err != nil {
		return out, err
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
		return out, DecodeJSON(res, &out)
	case http.StatusNotModified:
		return out, ErrNotModified
	default:
		return out, ReadBodyAsError(res)
	}
}

// get is do for GET requests that answer 200.
func get[T any](ctx context.Context, c *Client, path string, opts ...RequestOption) (T, error) {
	return do[T](ctx, c, http.MethodGet, path, nil, []int{http.StatusOK}, opts...)
}

// exec sends a request whose response body is not needed (204, or a Response
// message) and returns an *Error unless the status is one of ok.
func exec(ctx context.Context, c *Client, method, path string, body any, ok []int, opts ...RequestOption) error {
	res, err := c.Request(ctx, method, path, body, opts...)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if !statusIn(res.StatusCode, ok) {
		return ReadBodyAsError(res)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return nil
}

// Status code sets used by the typed methods.
var (
	okOnly      = []int{http.StatusOK}
	createdOnly = []int{http.StatusCreated}
	noContent   = []int{http.StatusNoContent}
)

func statusIn(code int, ok []int) bool {
	for _, c := range ok {
		if c == code {
			return true
		}
	}
	return false
}

// DecodeJSON decodes the response body into v.
func DecodeJSON(res *http.Response, v any) error {
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		return fmt.Errorf("%s %s: decode response body: %w", res.Request.Method, res.Request.URL.Path, err)
	}
	return nil
}

// ExpectJSON decodes the response body into v if the status is want, and
// returns an *Error otherwise. It closes the body.
func ExpectJSON(res *http.Response, want int, v any) error {
	defer res.Body.Close()
	if res.StatusCode != want {
		return ReadBodyAsError(res)
	}
	return DecodeJSON(res, v)
}

// Error is returned by the Client for an unexpected HTTP status. It carries the
// decoded error body.
type Error struct {
	Response
	// Method and Path identify the failed request.
	Method string
	Path   string

	statusCode int
}

// StatusCode is the HTTP status code of the response.
func (e *Error) StatusCode() int { return e.statusCode }

// Error returns e.g.
// "POST /api/v2/x: unexpected status code 400: Validation failed.: detail".
func (e *Error) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s: unexpected status code %d: %s", e.Method, e.Path, e.statusCode, e.Message)
	if e.Detail != "" {
		sb.WriteString(": ")
		sb.WriteString(e.Detail)
	}
	for _, v := range e.Validations {
		fmt.Fprintf(&sb, "\n\t%s: %s", v.Field, v.Detail)
	}
	return sb.String()
}

// NewError builds an *Error, e.g. for tests or fakes.
func NewError(method, path string, statusCode int, resp Response) *Error {
	return &Error{Response: resp, Method: method, Path: path, statusCode: statusCode}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsStatus reports whether err is an *Error with the given status code.
func IsStatus(err error, code int) bool {
	e, ok := AsError(err)
	return ok && e.StatusCode() == code
}

// maxErrorBody bounds how much of an error body is read.
const maxErrorBody = 1 << 20

// ReadBodyAsError reads an error response into an *Error. A JSON body is
// decoded as a Response; any other body becomes the detail. It does not close
// the body.
func ReadBodyAsError(res *http.Response) error {
	e := &Error{statusCode: res.StatusCode}
	if res.Request != nil {
		e.Method = res.Request.Method
		e.Path = res.Request.URL.Path
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	if err != nil {
		e.Message = "Failed to read response body."
		e.Detail = err.Error()
		return e
	}
	mediaType := strings.TrimSpace(strings.Split(res.Header.Get("Content-Type"), ";")[0])
	if mediaType == "application/json" && json.Unmarshal(raw, &e.Response) == nil && e.Message != "" {
		return e
	}
	e.Response = Response{Message: http.StatusText(res.StatusCode)}
	if e.Message == "" {
		e.Message = "Unexpected status code " + strconv.Itoa(res.StatusCode) + "."
	}
	e.Detail = strings.TrimSpace(string(raw))
	return e
}
