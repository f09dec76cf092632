package search_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/search"
)

// Seeds beyond these live in testdata/fuzz/<FuzzName>/ and run in every
// `go test`.

func FuzzWorkspaceQuery(f *testing.F) {
	for _, q := range []string{
		"", "owner:me", "alice/dev status:running", `template:"my tpl" outdated:false`,
		"id:11111111-1111-4111-8111-111111111111,22222222-2222-4222-8222-222222222222",
		`last_used_after:"2024-01-02T03:04:05.5+05:30"`, `param:"a b=c:d" param:x`, "has-agent:true dormant:true",
		"a:b:c", ":x", `"a:b"`, `name:"`,
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got, err := search.ParseWorkspaceQuery(q)
		if err != nil {
			checkError(t, err, search.WorkspaceQueryMessage)
			return
		}
		s := got.String()
		again, err := search.ParseWorkspaceQuery(s)
		require.NoError(t, err, "q=%q String()=%q", q, s)
		require.Equal(t, got, again, "q=%q String()=%q", q, s)
		require.Equal(t, s, again.String(), "q=%q", q)
	})
}

func FuzzTemplateQuery(f *testing.F) {
	for _, q := range []string{
		"", "docker", "exact_name:docker deprecated:true", `display_name:"My Tpl" author:me`,
		"ids:11111111-1111-4111-8111-111111111111 author_id:22222222-2222-4222-8222-222222222222",
		"deleted:true has-ai-task:false has_external_agent:true", "a:b:c", "x:", "bogus:1",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got, err := search.ParseTemplateQuery(q)
		if err != nil {
			checkError(t, err, search.TemplateQueryMessage)
			return
		}
		s := got.String()
		again, err := search.ParseTemplateQuery(s)
		require.NoError(t, err, "q=%q String()=%q", q, s)
		require.Equal(t, got, again, "q=%q String()=%q", q, s)
		require.Equal(t, s, again.String(), "q=%q", q)
	})
}

func FuzzUserQuery(f *testing.F) {
	for _, q := range []string{
		"", "alice", "status:active,suspended role:owner", `login_type:password last_seen_after:"2024-01-02T03:04:05Z"`,
		"created_before:2024-01-02T03:04:05+05:30 github_com_user_id:7", "status:bogus", "role:a,,b", "x:", "bogus:1",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got, err := search.ParseUserQuery(q)
		if err != nil {
			checkError(t, err, search.UserQueryMessage)
			return
		}
		s := got.String()
		again, err := search.ParseUserQuery(s)
		require.NoError(t, err, "q=%q String()=%q", q, s)
		require.Equal(t, got, again, "q=%q String()=%q", q, s)
		require.Equal(t, s, again.String(), "q=%q", q)
	})
}

// checkError asserts that a parse error is a well-formed *search.Error.
func checkError(t *testing.T, err error, message string) {
	t.Helper()
	var serr *search.Error
	require.True(t, errors.As(err, &serr), "error %T %v", err, err)
	require.Equal(t, message, serr.Message)
	require.NotEmpty(t, serr.Validations)
	for _, v := range serr.Validations {
		require.NotEmpty(t, v.Detail)
	}
}
