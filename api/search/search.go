// Package search turns the `q=` query strings of GET /workspaces and
// GET /templates into typed filters (API-NOTES §2.4). It is pure: no
// database, no HTTP. Resolving names (owner "me", organizations, users) is
// the caller's job.
//
// # Grammar
//
//  1. The query is lower-cased, then split on spaces that are outside double
//     quotes. Quotes group text (`template:"my tpl"`) and are removed; a
//     value can therefore never contain a double quote. An unbalanced quote
//     runs to the end of the query.
//  2. A token with exactly one unquoted ':' is a key:value term. A token
//     that starts or ends with ':' (quotes included) is rejected with
//     `Query element "<t>" cannot start or end with ':'`; one with more than
//     one unquoted ':' with `Query element "<t>" can only contain 1 ':'`.
//     Both validations carry the field "q"; <t> is the lower-cased token with
//     its quotes, Go-quoted.
//  3. The other tokens, with quotes removed and empty ones dropped, are
//     joined with single spaces into the default term.
//
// # Repeated keys and empty values
//
// Keys may repeat. For single-valued keys the last occurrence wins; every
// occurrence is still validated, so one bad value fails the query. List keys
// (workspace `id` and `param`, template `ids`) accumulate across occurrences.
// An empty value (`name:""`) means "no filter" and resets an earlier
// occurrence of the same key. Explicit keys take precedence over the default
// term whatever their position.
//
// # Round trip
//
// The String method of each filter renders a canonical query (fixed key
// order, values quoted only when they hold a space or ':') that parses back
// to an equal filter. That holds for filters produced by the parsers; a
// hand-built filter with upper-case letters or double quotes in its values
// has no exact rendering.
package search

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Messages of the 400 responses for a bad q.
const (
	WorkspaceQueryMessage = "Invalid workspace search query."
	TemplateQueryMessage  = "Invalid template search query."
)

// Me is the owner/author value that stands for the caller.
const Me = "me"

// Validation is one field-level problem with a query. Field is "q" for a
// malformed query and the key otherwise.
type Validation struct {
	Field  string
	Detail string
}

// Error is the error the parsers return for a bad query. The API renders it
// as a 400 with Message and Validations.
type Error struct {
	Message     string
	Validations []Validation
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for i, v := range e.Validations {
		if i == 0 {
			b.WriteString(" ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(v.Field)
		b.WriteString(": ")
		b.WriteString(v.Detail)
	}
	return b.String()
}

// Term is one key:value element of a query, with quotes removed.
type Term struct {
	Key   string
	Value string
}

// Tokens is a tokenized query: its key:value terms in order, and the
// default term ("" when there is none).
type Tokens struct {
	Terms   []Term
	Default string
}

// Tokenize applies steps 1-3 of the grammar. The validations are non-empty
// when the query is malformed; they all have the field "q".
func Tokenize(q string) (Tokens, []Validation) {
	q = strings.ToLower(q)
	var (
		toks     Tokens
		defaults []string
		errs     []Validation
	)
	for _, raw := range splitUnquoted(q, ' ') {
		if strings.HasPrefix(raw, ":") || strings.HasSuffix(raw, ":") {
			errs = append(errs, Validation{Field: "q", Detail: fmt.Sprintf("Query element %q cannot start or end with ':'", raw)})
			continue
		}
		switch unquotedCount(raw, ':') {
		case 0:
			if d := unquote(raw); d != "" {
				defaults = append(defaults, d)
			}
		case 1:
			i := unquotedIndex(raw, ':')
			toks.Terms = append(toks.Terms, Term{Key: unquote(raw[:i]), Value: unquote(raw[i+1:])})
		default:
			errs = append(errs, Validation{Field: "q", Detail: fmt.Sprintf("Query element %q can only contain 1 ':'", raw)})
		}
	}
	if len(errs) > 0 {
		return Tokens{}, errs
	}
	toks.Default = strings.Join(defaults, " ")
	return toks, nil
}

// splitUnquoted splits s on sep bytes outside double quotes, dropping empty
// pieces. Quotes are kept.
func splitUnquoted(s string, sep byte) []string {
	var (
		out    []string
		quoted bool
		start  int
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// unquotedCount counts the c bytes of s outside double quotes.
func unquotedCount(s string, c byte) int {
	n, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case c:
			if !quoted {
				n++
			}
		}
	}
	return n
}

// unquotedIndex is the index of the first c byte of s outside double
// quotes, or -1.
func unquotedIndex(s string, c byte) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case c:
			if !quoted {
				return i
			}
		}
	}
	return -1
}

func unquote(s string) string { return strings.ReplaceAll(s, `"`, "") }

// collector gathers value validations in query order, without duplicates.
type collector struct {
	errs []Validation
	seen map[Validation]bool
}

func (c *collector) add(field, format string, args ...any) {
	v := Validation{Field: field, Detail: fmt.Sprintf(format, args...)}
	if c.seen[v] {
		return
	}
	if c.seen == nil {
		c.seen = map[Validation]bool{}
	}
	c.seen[v] = true
	c.errs = append(c.errs, v)
}

func (c *collector) unknown(key string) {
	c.add(key, "%q is not a valid query param", key)
}

func (c *collector) err(message string) error {
	if len(c.errs) == 0 {
		return nil
	}
	return &Error{Message: message, Validations: c.errs}
}

// parseBool sets *dst from a true/false value; an empty value resets it.
func (c *collector) parseBool(t Term, dst **bool) {
	switch t.Value {
	case "":
		*dst = nil
	case "true", "false":
		b := t.Value == "true"
		*dst = &b
	default:
		c.add(t.Key, `Query param %q must be "true" or "false", got %q`, t.Key, t.Value)
	}
}

// parseUUIDs appends the comma-separated UUIDs of t to *dst; an empty value
// adds nothing.
func (c *collector) parseUUIDs(t Term, dst *[]uuid.UUID) {
	if t.Value == "" {
		return
	}
	var ids []uuid.UUID
	for _, s := range strings.Split(t.Value, ",") {
		id, err := uuid.Parse(strings.TrimSpace(s))
		if err != nil {
			c.add(t.Key, "Query param %q must be a comma-separated list of UUIDs: %q is not a valid UUID", t.Key, s)
			return
		}
		ids = append(ids, id)
	}
	*dst = append(*dst, ids...)
}

// parseUUID sets *dst from one UUID; an empty value resets it.
func (c *collector) parseUUID(t Term, dst *uuid.NullUUID) {
	if t.Value == "" {
		*dst = uuid.NullUUID{}
		return
	}
	id, err := uuid.Parse(strings.TrimSpace(t.Value))
	if err != nil {
		c.add(t.Key, "Query param %q must be a valid UUID, got %q", t.Key, t.Value)
		return
	}
	*dst = uuid.NullUUID{UUID: id, Valid: true}
}

// parseTime sets *dst from an RFC 3339 timestamp, in UTC; an empty value
// resets it. The query is lower-cased, so "t" and "z" are accepted as RFC
// 3339 allows.
func (c *collector) parseTime(t Term, dst **time.Time) {
	if t.Value == "" {
		*dst = nil
		return
	}
	ts, err := time.Parse(time.RFC3339, strings.ToUpper(t.Value))
	if err == nil {
		ts = ts.UTC()
		// The offset can push the instant out of the 4-digit years RFC 3339
		// can write in UTC.
		if y := ts.Year(); y < 0 || y > 9999 {
			err = fmt.Errorf("year %d out of range", y)
		}
	}
	if err != nil {
		c.add(t.Key, "Query param %q must be an RFC 3339 timestamp such as \"2006-01-02T15:04:05Z\", got %q", t.Key, t.Value)
		return
	}
	*dst = &ts
}

// renderer builds a canonical query.
type renderer struct{ parts []string }

// str renders key:value when value is not empty.
func (r *renderer) str(key, value string) {
	if value != "" {
		r.parts = append(r.parts, key+":"+quote(value))
	}
}

func (r *renderer) bool(key string, b *bool) {
	if b != nil {
		r.parts = append(r.parts, fmt.Sprintf("%s:%t", key, *b))
	}
}

func (r *renderer) uuids(key string, ids []uuid.UUID) {
	if len(ids) == 0 {
		return
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	r.parts = append(r.parts, key+":"+strings.Join(s, ","))
}

func (r *renderer) time(key string, t *time.Time) {
	if t != nil {
		r.str(key, t.UTC().Format(time.RFC3339Nano))
	}
}

func (r *renderer) String() string { return strings.Join(r.parts, " ") }

// quote wraps a value in double quotes when it holds a space or a ':'.
func quote(v string) string {
	if strings.ContainsAny(v, " :") {
		return `"` + v + `"`
	}
	return v
}
