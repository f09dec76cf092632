package search_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/search"
)

func TestParseTemplateQuery(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		q    string
		want search.TemplateFilter
	}{
		{name: "empty", q: ""},
		{name: "exact_name", q: "exact_name:Docker", want: search.TemplateFilter{ExactName: "docker"}},
		{name: "name", q: "name:dock", want: search.TemplateFilter{Name: "dock"}},
		{name: "display_name", q: `display_name:"My Docker"`, want: search.TemplateFilter{DisplayName: "my docker"}},
		{name: "exact_display_name", q: `exact_display_name:"My Docker"`, want: search.TemplateFilter{ExactDisplayName: "my docker"}},
		{name: "organization", q: "organization:coder", want: search.TemplateFilter{Organization: "coder"}},
		{name: "deprecated true", q: "deprecated:true", want: search.TemplateFilter{Deprecated: ptr(true)}},
		{name: "deprecated false", q: "deprecated:false", want: search.TemplateFilter{Deprecated: ptr(false)}},
		{name: "ids", q: "ids:" + id1.String() + "," + id2.String(), want: search.TemplateFilter{IDs: []uuid.UUID{id1, id2}}},
		{name: "ids repeated", q: "ids:" + id1.String() + " ids:" + id2.String(), want: search.TemplateFilter{IDs: []uuid.UUID{id1, id2}}},
		{name: "author", q: "author:alice", want: search.TemplateFilter{AuthorUsername: "alice"}},
		{name: "author me", q: "author:me", want: search.TemplateFilter{AuthorUsername: search.Me}},
		{name: "author_id", q: "author_id:" + id1.String(), want: search.TemplateFilter{AuthorID: uuid.NullUUID{UUID: id1, Valid: true}}},
		{name: "author_id nil uuid", q: "author_id:" + uuid.Nil.String(), want: search.TemplateFilter{AuthorID: uuid.NullUUID{Valid: true}}},
		{name: "author_id empty", q: `author_id:` + id1.String() + ` author_id:""`, want: search.TemplateFilter{}},
		{name: "deleted", q: "deleted:true", want: search.TemplateFilter{Deleted: ptr(true)}},
		{name: "has-ai-task", q: "has-ai-task:false", want: search.TemplateFilter{HasAITask: ptr(false)}},
		{name: "has_external_agent", q: "has_external_agent:true", want: search.TemplateFilter{HasExternalAgent: ptr(true)}},
		{name: "last wins", q: "name:a name:b deleted:true deleted:false", want: search.TemplateFilter{Name: "b", Deleted: ptr(false)}},

		// default term
		{name: "default is display_name", q: "docker", want: search.TemplateFilter{DisplayName: "docker"}},
		{name: "default joined", q: "My Docker deprecated:false tpl", want: search.TemplateFilter{DisplayName: "my docker tpl", Deprecated: ptr(false)}},
		{name: "default slash is plain", q: "a/b", want: search.TemplateFilter{DisplayName: "a/b"}},
		{name: "display_name beats default", q: "display_name:x docker", want: search.TemplateFilter{DisplayName: "x"}},

		{
			name: "all keys",
			q: `exact_name:a name:b display_name:c exact_display_name:d organization:e deprecated:true ids:` + id1.String() +
				` author:me author_id:` + id2.String() + ` deleted:false has-ai-task:true has_external_agent:false`,
			want: search.TemplateFilter{
				ExactName: "a", Name: "b", DisplayName: "c", ExactDisplayName: "d", Organization: "e", Deprecated: ptr(true),
				IDs: []uuid.UUID{id1}, AuthorUsername: "me", AuthorID: uuid.NullUUID{UUID: id2, Valid: true},
				Deleted: ptr(false), HasAITask: ptr(true), HasExternalAgent: ptr(false),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := search.ParseTemplateQuery(tc.q)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			again, err := search.ParseTemplateQuery(got.String())
			require.NoError(t, err, "String() = %q", got.String())
			require.Equal(t, got, again, "String() = %q", got.String())
		})
	}
}

func TestParseTemplateQueryErrors(t *testing.T) {
	t.Parallel()
	type v = search.Validation
	cases := []struct {
		name string
		q    string
		want []v
	}{
		{name: "starts with colon", q: ":x", want: []v{{"q", `Query element ":x" cannot start or end with ':'`}}},
		{name: "ends with colon", q: "name:", want: []v{{"q", `Query element "name:" cannot start or end with ':'`}}},
		{name: "two colons", q: "name:a:b", want: []v{{"q", `Query element "name:a:b" can only contain 1 ':'`}}},
		{name: "unknown key", q: "owner:me", want: []v{{"owner", `"owner" is not a valid query param`}}},
		{name: "workspace id key", q: "id:" + id1.String(), want: []v{{"id", `"id" is not a valid query param`}}},
		{name: "bad deprecated", q: "deprecated:yes", want: []v{{"deprecated", `Query param "deprecated" must be "true" or "false", got "yes"`}}},
		{name: "bad deleted", q: "deleted:1", want: []v{{"deleted", `Query param "deleted" must be "true" or "false", got "1"`}}},
		{name: "bad has-ai-task", q: "has-ai-task:x", want: []v{{"has-ai-task", `Query param "has-ai-task" must be "true" or "false", got "x"`}}},
		{name: "bad has_external_agent", q: "has_external_agent:x", want: []v{{"has_external_agent", `Query param "has_external_agent" must be "true" or "false", got "x"`}}},
		{name: "bad ids", q: "ids:" + id1.String() + ",x", want: []v{{"ids", `Query param "ids" must be a comma-separated list of UUIDs: "x" is not a valid UUID`}}},
		{name: "bad author_id", q: "author_id:alice", want: []v{{"author_id", `Query param "author_id" must be a valid UUID, got "alice"`}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := search.ParseTemplateQuery(tc.q)
			var serr *search.Error
			require.True(t, errors.As(err, &serr), "error %v", err)
			require.Equal(t, search.TemplateQueryMessage, serr.Message)
			require.Equal(t, tc.want, serr.Validations)
			require.Zero(t, got)
		})
	}
}

func TestTemplateFilterString(t *testing.T) {
	t.Parallel()
	f := search.TemplateFilter{
		ExactName: "a", Name: "b c", DisplayName: "d:e", Deprecated: ptr(true), IDs: []uuid.UUID{id1, id2},
		AuthorUsername: "me", AuthorID: uuid.NullUUID{UUID: id3, Valid: true}, HasAITask: ptr(false),
	}
	require.Equal(t, `exact_name:a name:"b c" display_name:"d:e" deprecated:true ids:`+id1.String()+","+id2.String()+
		` author:me author_id:`+id3.String()+` has-ai-task:false`, f.String())
	require.Empty(t, search.TemplateFilter{}.String())
}
