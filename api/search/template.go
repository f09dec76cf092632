package search

import (
	"github.com/google/uuid"
)

// TemplateFilter is a parsed GET /templates query. Zero values mean "no
// filter". Strings are lower-case, as the whole query is.
type TemplateFilter struct {
	// ExactName is `exact_name:`: the name, case-insensitive.
	ExactName string
	// Name is `name:`: a fuzzy (case-insensitive substring) name match.
	Name string
	// DisplayName is `display_name:` or the default term: a fuzzy display
	// name match.
	DisplayName string
	// ExactDisplayName is `exact_display_name:`, case-insensitive.
	ExactDisplayName string
	// Organization is `organization:`, an ID or name for the caller to
	// resolve.
	Organization string
	// Deprecated is `deprecated:`. The API hides deprecated templates unless
	// it is true.
	Deprecated *bool
	// IDs is `ids:`, comma-separated; repeated keys add to the list.
	IDs []uuid.UUID
	// AuthorUsername is `author:`, a username or the literal Me ("me").
	AuthorUsername string
	// AuthorID is `author_id:`.
	AuthorID uuid.NullUUID
	// Deleted is `deleted:`.
	Deleted *bool
	// HasAITask is `has-ai-task:`.
	HasAITask *bool
	// HasExternalAgent is `has_external_agent:`.
	HasExternalAgent *bool
}

// ParseTemplateQuery parses the q of GET /templates. A bad query returns an
// *Error with the message TemplateQueryMessage.
func ParseTemplateQuery(q string) (TemplateFilter, error) {
	var f TemplateFilter
	toks, verrs := Tokenize(q)
	if len(verrs) > 0 {
		return f, &Error{Message: TemplateQueryMessage, Validations: verrs}
	}
	f.DisplayName = toks.Default // before the keys, so display_name: overrides it
	var c collector
	for _, t := range toks.Terms {
		switch t.Key {
		case "exact_name":
			f.ExactName = t.Value
		case "name":
			f.Name = t.Value
		case "display_name":
			f.DisplayName = t.Value
		case "exact_display_name":
			f.ExactDisplayName = t.Value
		case "organization":
			f.Organization = t.Value
		case "deprecated":
			c.parseBool(t, &f.Deprecated)
		case "ids":
			c.parseUUIDs(t, &f.IDs)
		case "author":
			f.AuthorUsername = t.Value
		case "author_id":
			c.parseUUID(t, &f.AuthorID)
		case "deleted":
			c.parseBool(t, &f.Deleted)
		case "has-ai-task":
			c.parseBool(t, &f.HasAITask)
		case "has_external_agent":
			c.parseBool(t, &f.HasExternalAgent)
		default:
			c.unknown(t.Key)
		}
	}
	if err := c.err(TemplateQueryMessage); err != nil {
		return TemplateFilter{}, err
	}
	return f, nil
}

// String renders f as a canonical query that parses back to f.
func (f TemplateFilter) String() string {
	var r renderer
	r.str("exact_name", f.ExactName)
	r.str("name", f.Name)
	r.str("display_name", f.DisplayName)
	r.str("exact_display_name", f.ExactDisplayName)
	r.str("organization", f.Organization)
	r.bool("deprecated", f.Deprecated)
	r.uuids("ids", f.IDs)
	r.str("author", f.AuthorUsername)
	if f.AuthorID.Valid {
		r.str("author_id", f.AuthorID.UUID.String())
	}
	r.bool("deleted", f.Deleted)
	r.bool("has-ai-task", f.HasAITask)
	r.bool("has_external_agent", f.HasExternalAgent)
	return r.String()
}
