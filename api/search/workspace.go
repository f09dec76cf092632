package search

import (
	"strings"
	"time"

	"github.com/google/uuid"
)

// WorkspaceFilter is a parsed GET /workspaces query. Zero values mean "no
// filter". Strings are lower-case, as the whole query is.
type WorkspaceFilter struct {
	// OwnerUsername is `owner:`, or the part before the '/' of an
	// owner/name default term. It is kept as the literal Me ("me") for the
	// caller to resolve; an unknown username matches nothing.
	OwnerUsername string
	// Name is `name:` or the default term: a case-insensitive substring.
	Name string
	// Template is `template:`: an exact, case-insensitive template name in
	// any organization.
	Template string
	// Status is `status:`, one of the §4.3 build statuses (see
	// ValidWorkspaceStatus).
	Status string
	// Outdated is `outdated:`; nil does not filter.
	Outdated *bool
	// Dormant is `dormant:true`. dormant:false matches every workspace, so
	// only true filters.
	Dormant bool
	// IDs is `id:`, comma-separated; repeated keys add to the list. A
	// workspace matches when its ID is any of them.
	IDs []uuid.UUID
	// Organization is `organization:`, an organization ID or name for the
	// caller to resolve.
	Organization string
	// LastUsedAfter and LastUsedBefore are `last_used_after:` and
	// `last_used_before:`, RFC 3339, in UTC.
	LastUsedAfter  *time.Time
	LastUsedBefore *time.Time
	// Params are the `param:` terms, in query order; a workspace must match
	// all of them.
	Params []ParamFilter
	// MatchNothing is set when has-agent, has-ai-task, has_external_agent,
	// shared, shared_with_user or shared_with_group has a value other than
	// "false". No data backs those keys: false matches everything, any other
	// value matches nothing.
	MatchNothing bool
}

// ParamFilter is `param:<name>` (the workspace's latest build has the
// parameter) or `param:<name>=<value>` (with that value). Name and Value are
// trimmed of surrounding space.
type ParamFilter struct {
	Name     string
	Value    string
	HasValue bool
}

// ValidWorkspaceStatus reports whether s is a status `status:` accepts.
func ValidWorkspaceStatus(s string) bool {
	switch s {
	case "pending", "starting", "running", "stopping", "stopped",
		"failed", "canceling", "canceled", "deleting", "deleted":
		return true
	}
	return false
}

// ParseWorkspaceQuery parses the q of GET /workspaces. A bad query returns
// an *Error with the message WorkspaceQueryMessage.
func ParseWorkspaceQuery(q string) (WorkspaceFilter, error) {
	var f WorkspaceFilter
	toks, verrs := Tokenize(q)
	if len(verrs) > 0 {
		return f, &Error{Message: WorkspaceQueryMessage, Validations: verrs}
	}
	// The default term first, so that explicit keys override it.
	if owner, name, ok := strings.Cut(toks.Default, "/"); ok && !strings.Contains(name, "/") {
		f.OwnerUsername, f.Name = owner, name
	} else {
		f.Name = toks.Default
	}
	var (
		c       collector
		dormant *bool
		nothing = map[string]bool{} // per key, last value wins
	)
	for _, t := range toks.Terms {
		switch t.Key {
		case "owner":
			f.OwnerUsername = t.Value
		case "name":
			f.Name = t.Value
		case "template":
			f.Template = t.Value
		case "status":
			if t.Value != "" && !ValidWorkspaceStatus(t.Value) {
				c.add(t.Key, "Query param %q has invalid value: %q is not a valid workspace status (pending, starting, running, stopping, stopped, failed, canceling, canceled, deleting or deleted)", t.Key, t.Value)
				continue
			}
			f.Status = t.Value
		case "outdated":
			c.parseBool(t, &f.Outdated)
		case "dormant":
			c.parseBool(t, &dormant)
		case "id":
			c.parseUUIDs(t, &f.IDs)
		case "organization":
			f.Organization = t.Value
		case "last_used_after":
			c.parseTime(t, &f.LastUsedAfter)
		case "last_used_before":
			c.parseTime(t, &f.LastUsedBefore)
		case "param":
			if p, ok := c.parseParam(t); ok {
				if len(f.Params) == MaxParamTerms {
					c.add(t.Key, "Query param %q may appear at most %d times", t.Key, MaxParamTerms)
					continue
				}
				f.Params = append(f.Params, p)
			}
		case "has-agent", "has-ai-task", "has_external_agent", "shared", "shared_with_user", "shared_with_group":
			nothing[t.Key] = t.Value != "" && t.Value != "false"
		default:
			c.unknown(t.Key)
		}
	}
	if err := c.err(WorkspaceQueryMessage); err != nil {
		return WorkspaceFilter{}, err
	}
	f.Dormant = dormant != nil && *dormant
	for _, v := range nothing {
		f.MatchNothing = f.MatchNothing || v
	}
	return f, nil
}

// MaxParamTerms bounds the `param:` terms of one query: each is a
// subquery per listed workspace.
const MaxParamTerms = 16

// parseParam parses a `param:` value; an empty one is no filter.
func (c *collector) parseParam(t Term) (ParamFilter, bool) {
	v := strings.TrimSpace(t.Value)
	if v == "" {
		return ParamFilter{}, false
	}
	name, value, hasValue := strings.Cut(v, "=")
	p := ParamFilter{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value), HasValue: hasValue}
	switch {
	case p.Name == "":
		c.add(t.Key, "Query param %q has invalid value %q: the parameter name is empty; use param:<name> or param:<name>=<value>", t.Key, t.Value)
		return ParamFilter{}, false
	case p.HasValue && p.Value == "":
		c.add(t.Key, "Query param %q has invalid value %q: the value after '=' is empty; omit the '=' to match on the parameter name alone", t.Key, t.Value)
		return ParamFilter{}, false
	}
	return p, true
}

// String renders f as a canonical query that parses back to f.
func (f WorkspaceFilter) String() string {
	var r renderer
	r.str("owner", f.OwnerUsername)
	r.str("name", f.Name)
	r.str("template", f.Template)
	r.str("status", f.Status)
	r.bool("outdated", f.Outdated)
	if f.Dormant {
		r.str("dormant", "true")
	}
	r.uuids("id", f.IDs)
	r.str("organization", f.Organization)
	r.time("last_used_after", f.LastUsedAfter)
	r.time("last_used_before", f.LastUsedBefore)
	for _, p := range f.Params {
		if p.HasValue {
			r.str("param", p.Name+"="+p.Value)
		} else {
			r.str("param", p.Name)
		}
	}
	if f.MatchNothing {
		r.str("has-agent", "true")
	}
	return r.String()
}
