package search_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/search"
)

func ptr[T any](v T) *T { return &v }

func TestTokenize(t *testing.T) {
	t.Parallel()
	type term = search.Term
	cases := []struct {
		name  string
		q     string
		terms []term
		def   string
	}{
		{name: "empty", q: ""},
		{name: "only spaces", q: "   "},
		{name: "one key", q: "owner:me", terms: []term{{"owner", "me"}}},
		{name: "lower-cased", q: "Owner:Alice Template:DOCKER", terms: []term{{"owner", "alice"}, {"template", "docker"}}},
		{name: "extra spaces", q: "  owner:me   name:ws  ", terms: []term{{"owner", "me"}, {"name", "ws"}}},
		{name: "repeated key", q: "id:a id:b", terms: []term{{"id", "a"}, {"id", "b"}}},
		{name: "quoted value", q: `template:"my tpl"`, terms: []term{{"template", "my tpl"}}},
		{name: "quoted value with colon", q: `last_used_after:"2024-01-02T03:04:05Z"`, terms: []term{{"last_used_after", "2024-01-02t03:04:05z"}}},
		{name: "quoted key", q: `"owner":me`, terms: []term{{"owner", "me"}}},
		{name: "quotes mid-token", q: `na"me:w"s`, def: "name:ws"},
		{name: "empty quoted value", q: `name:""`, terms: []term{{"name", ""}}},
		{name: "unbalanced quote runs to end", q: `name:"a b c`, terms: []term{{"name", "a b c"}}},
		{name: "tab does not split", q: "name:a\tb", terms: []term{{"name", "a\tb"}}},
		{name: "default term", q: "ws", def: "ws"},
		{name: "default terms joined", q: "my  big ws", def: "my big ws"},
		{name: "default around keys", q: "my owner:me ws", terms: []term{{"owner", "me"}}, def: "my ws"},
		{name: "quoted default", q: `"a b" c`, def: "a b c"},
		{name: "quoted colon is default", q: `"owner:me"`, def: "owner:me"},
		{name: "empty quoted default dropped", q: `"" ws`, def: "ws"},
		{name: "owner/name default", q: "alice/ws", def: "alice/ws"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			toks, verrs := search.Tokenize(tc.q)
			require.Empty(t, verrs)
			require.Equal(t, tc.terms, toks.Terms)
			require.Equal(t, tc.def, toks.Default)
		})
	}
}

func TestTokenizeErrors(t *testing.T) {
	t.Parallel()
	startEnd := func(tok string) search.Validation {
		return search.Validation{Field: "q", Detail: `Query element "` + tok + `" cannot start or end with ':'`}
	}
	oneColon := func(tok string) search.Validation {
		return search.Validation{Field: "q", Detail: `Query element "` + tok + `" can only contain 1 ':'`}
	}
	cases := []struct {
		name string
		q    string
		want []search.Validation
	}{
		{name: "starts with colon", q: ":me", want: []search.Validation{startEnd(":me")}},
		{name: "ends with colon", q: "owner:", want: []search.Validation{startEnd("owner:")}},
		{name: "lone colon", q: ":", want: []search.Validation{startEnd(":")}},
		{name: "lower-cased in message", q: "OWNER:", want: []search.Validation{startEnd("owner:")}},
		{name: "ends with colon after quote", q: `"owner":`, want: []search.Validation{startEnd(`\"owner\":`)}},
		{name: "start/end wins over count", q: "a:b:", want: []search.Validation{startEnd("a:b:")}},
		{name: "two colons", q: "a:b:c", want: []search.Validation{oneColon("a:b:c")}},
		{name: "double colon", q: "a::b", want: []search.Validation{oneColon("a::b")}},
		{name: "unquoted time", q: "last_used_after:2024-01-02T03:04:05Z", want: []search.Validation{oneColon("last_used_after:2024-01-02t03:04:05z")}},
		{name: "quotes kept in message", q: `a:"b":c`, want: []search.Validation{oneColon(`a:\"b\":c`)}},
		{
			name: "every bad token reported", q: "ok:1 :x y:z:w",
			want: []search.Validation{startEnd(":x"), oneColon("y:z:w")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			toks, verrs := search.Tokenize(tc.q)
			require.Equal(t, tc.want, verrs)
			require.Zero(t, toks)
		})
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	err := &search.Error{Message: search.WorkspaceQueryMessage, Validations: []search.Validation{
		{Field: "q", Detail: "one"}, {Field: "status", Detail: "two"},
	}}
	require.Equal(t, "Invalid workspace search query. q: one; status: two", err.Error())
	require.Equal(t, "Invalid template search query.", (&search.Error{Message: search.TemplateQueryMessage}).Error())
}
