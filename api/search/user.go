package search

import (
	"strconv"
	"strings"
	"time"
)

// UserQueryMessage is the message of a 400 for a bad GET /users q.
const UserQueryMessage = "Invalid user search query."

// UserFilter is a parsed GET /users query. Zero values mean "no filter".
type UserFilter struct {
	// Search is the default term: a substring of the username or email.
	Search string
	// Statuses is `status:`, comma-separated active, dormant or suspended.
	Statuses []string
	// Roles is `role:`, comma-separated site role names.
	Roles []string
	// LoginTypes is `login_type:`, comma-separated password, github, oidc,
	// token or none.
	LoginTypes []string
	// LastSeenBefore, LastSeenAfter, CreatedBefore and CreatedAfter are the
	// RFC 3339 bounds of the keys with those names.
	LastSeenBefore, LastSeenAfter *time.Time
	CreatedBefore, CreatedAfter   *time.Time
	// GithubComUserID is `github_com_user_id:`; berth has no GitHub users,
	// so any value but 0 matches nobody.
	GithubComUserID int64
}

var (
	userStatuses   = []string{"active", "dormant", "suspended"}
	userLoginTypes = []string{"password", "github", "oidc", "token", "none"}
)

// ParseUserQuery parses the q of GET /users. A bad query returns an *Error
// with the message UserQueryMessage.
func ParseUserQuery(q string) (UserFilter, error) {
	var f UserFilter
	toks, verrs := Tokenize(q)
	if len(verrs) > 0 {
		return f, &Error{Message: UserQueryMessage, Validations: verrs}
	}
	f.Search = toks.Default
	var c collector
	for _, t := range toks.Terms {
		switch t.Key {
		case "search":
			f.Search = t.Value
		case "status":
			f.Statuses = c.enumList(t, userStatuses)
		case "role":
			f.Roles = list(t.Value)
		case "login_type":
			f.LoginTypes = c.enumList(t, userLoginTypes)
		case "last_seen_before":
			c.parseTime(t, &f.LastSeenBefore)
		case "last_seen_after":
			c.parseTime(t, &f.LastSeenAfter)
		case "created_before":
			c.parseTime(t, &f.CreatedBefore)
		case "created_after":
			c.parseTime(t, &f.CreatedAfter)
		case "github_com_user_id":
			if t.Value == "" {
				f.GithubComUserID = 0
				continue
			}
			n, err := strconv.ParseInt(t.Value, 10, 64)
			if err != nil {
				c.add(t.Key, "Query param %q must be a valid integer, got %q", t.Key, t.Value)
				continue
			}
			f.GithubComUserID = n
		default:
			c.unknown(t.Key)
		}
	}
	if err := c.err(UserQueryMessage); err != nil {
		return UserFilter{}, err
	}
	return f, nil
}

// list splits a comma-separated value, dropping empty elements.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// enumList parses a comma-separated list whose elements must be in allowed.
func (c *collector) enumList(t Term, allowed []string) []string {
	vs := list(t.Value)
	for _, v := range vs {
		ok := false
		for _, a := range allowed {
			ok = ok || v == a
		}
		if !ok {
			c.add(t.Key, "Query param %q has invalid value %q: must be one of %s", t.Key, v, strings.Join(allowed, ", "))
			return nil
		}
	}
	return vs
}

// String renders f as a canonical query that parses back to f.
func (f UserFilter) String() string {
	var r renderer
	r.str("search", f.Search)
	r.str("status", strings.Join(f.Statuses, ","))
	r.str("role", strings.Join(f.Roles, ","))
	r.str("login_type", strings.Join(f.LoginTypes, ","))
	r.time("last_seen_before", f.LastSeenBefore)
	r.time("last_seen_after", f.LastSeenAfter)
	r.time("created_before", f.CreatedBefore)
	r.time("created_after", f.CreatedAfter)
	if f.GithubComUserID != 0 {
		r.str("github_com_user_id", strconv.FormatInt(f.GithubComUserID, 10))
	}
	return r.String()
}
