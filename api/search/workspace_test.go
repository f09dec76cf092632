package search_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/search"
)

var (
	id1 = uuid.MustParse("11111111-1111-4111-8111-111111111111")
	id2 = uuid.MustParse("22222222-2222-4222-8222-222222222222")
	id3 = uuid.MustParse("33333333-3333-4333-8333-333333333333")
)

func TestParseWorkspaceQuery(t *testing.T) {
	t.Parallel()
	ts := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tsNano := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	cases := []struct {
		name string
		q    string
		want search.WorkspaceFilter
	}{
		{name: "empty", q: ""},
		{name: "blank", q: "  "},

		// owner
		{name: "owner", q: "owner:alice", want: search.WorkspaceFilter{OwnerUsername: "alice"}},
		{name: "owner me kept literal", q: "owner:me", want: search.WorkspaceFilter{OwnerUsername: search.Me}},
		{name: "owner lower-cased", q: "owner:Alice", want: search.WorkspaceFilter{OwnerUsername: "alice"}},
		{name: "owner last wins", q: "owner:alice owner:bob", want: search.WorkspaceFilter{OwnerUsername: "bob"}},
		{name: "owner empty resets", q: `owner:alice owner:""`, want: search.WorkspaceFilter{}},

		// name
		{name: "name", q: "name:dev", want: search.WorkspaceFilter{Name: "dev"}},
		{name: "name quoted", q: `name:"my dev"`, want: search.WorkspaceFilter{Name: "my dev"}},

		// default term
		{name: "default is name", q: "dev", want: search.WorkspaceFilter{Name: "dev"}},
		{name: "default joined", q: "my dev", want: search.WorkspaceFilter{Name: "my dev"}},
		{name: "default owner/name", q: "alice/dev", want: search.WorkspaceFilter{OwnerUsername: "alice", Name: "dev"}},
		{name: "default owner/name quoted", q: `"Alice/dev"`, want: search.WorkspaceFilter{OwnerUsername: "alice", Name: "dev"}},
		{name: "default owner/name joined", q: "alice/my dev", want: search.WorkspaceFilter{OwnerUsername: "alice", Name: "my dev"}},
		{name: "default owner only", q: "alice/", want: search.WorkspaceFilter{OwnerUsername: "alice"}},
		{name: "default name only", q: "/dev", want: search.WorkspaceFilter{Name: "dev"}},
		{name: "default two slashes is a name", q: "a/b/c", want: search.WorkspaceFilter{Name: "a/b/c"}},
		{name: "default with keys", q: "alice/dev status:running", want: search.WorkspaceFilter{OwnerUsername: "alice", Name: "dev", Status: "running"}},
		{name: "explicit owner beats default", q: "alice/dev owner:bob", want: search.WorkspaceFilter{OwnerUsername: "bob", Name: "dev"}},
		{name: "explicit name beats default before it", q: "name:x dev", want: search.WorkspaceFilter{Name: "x"}},

		// template
		{name: "template", q: "template:docker", want: search.WorkspaceFilter{Template: "docker"}},
		{name: "template quoted", q: `template:"My Tpl"`, want: search.WorkspaceFilter{Template: "my tpl"}},

		// status
		{name: "status pending", q: "status:pending", want: search.WorkspaceFilter{Status: "pending"}},
		{name: "status starting", q: "status:starting", want: search.WorkspaceFilter{Status: "starting"}},
		{name: "status running", q: "status:Running", want: search.WorkspaceFilter{Status: "running"}},
		{name: "status stopping", q: "status:stopping", want: search.WorkspaceFilter{Status: "stopping"}},
		{name: "status stopped", q: "status:stopped", want: search.WorkspaceFilter{Status: "stopped"}},
		{name: "status failed", q: "status:failed", want: search.WorkspaceFilter{Status: "failed"}},
		{name: "status canceling", q: "status:canceling", want: search.WorkspaceFilter{Status: "canceling"}},
		{name: "status canceled", q: "status:canceled", want: search.WorkspaceFilter{Status: "canceled"}},
		{name: "status deleting", q: "status:deleting", want: search.WorkspaceFilter{Status: "deleting"}},
		{name: "status deleted", q: "status:deleted", want: search.WorkspaceFilter{Status: "deleted"}},
		{name: "status last wins", q: "status:running status:stopped", want: search.WorkspaceFilter{Status: "stopped"}},
		{name: "status empty", q: `status:""`, want: search.WorkspaceFilter{}},

		// outdated, dormant
		{name: "outdated true", q: "outdated:true", want: search.WorkspaceFilter{Outdated: ptr(true)}},
		{name: "outdated false", q: "outdated:FALSE", want: search.WorkspaceFilter{Outdated: ptr(false)}},
		{name: "outdated empty", q: `outdated:""`, want: search.WorkspaceFilter{}},
		{name: "outdated last wins", q: "outdated:true outdated:false", want: search.WorkspaceFilter{Outdated: ptr(false)}},
		{name: "dormant true", q: "dormant:true", want: search.WorkspaceFilter{Dormant: true}},
		{name: "dormant false matches all", q: "dormant:false", want: search.WorkspaceFilter{}},
		{name: "dormant last wins", q: "dormant:true dormant:false", want: search.WorkspaceFilter{}},

		// id
		{name: "id", q: "id:" + id1.String(), want: search.WorkspaceFilter{IDs: []uuid.UUID{id1}}},
		{name: "id upper-case", q: "ID:AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE", want: search.WorkspaceFilter{IDs: []uuid.UUID{uuid.MustParse("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")}}},
		{name: "id list", q: "id:" + id1.String() + "," + id2.String(), want: search.WorkspaceFilter{IDs: []uuid.UUID{id1, id2}}},
		{name: "id list with spaces", q: `id:"` + id1.String() + ", " + id2.String() + `"`, want: search.WorkspaceFilter{IDs: []uuid.UUID{id1, id2}}},
		{name: "id repeated accumulates", q: "id:" + id1.String() + " id:" + id2.String() + "," + id3.String(), want: search.WorkspaceFilter{IDs: []uuid.UUID{id1, id2, id3}}},
		{name: "id empty", q: `id:""`, want: search.WorkspaceFilter{}},

		// organization
		{name: "organization name", q: "organization:coder", want: search.WorkspaceFilter{Organization: "coder"}},
		{name: "organization id", q: "organization:" + id1.String(), want: search.WorkspaceFilter{Organization: id1.String()}},

		// last_used_*
		{name: "last_used_after", q: `last_used_after:"2024-01-02T03:04:05Z"`, want: search.WorkspaceFilter{LastUsedAfter: &ts}},
		{name: "last_used_before", q: `last_used_before:"2024-01-02T03:04:05Z"`, want: search.WorkspaceFilter{LastUsedBefore: &ts}},
		{name: "last_used offset to UTC", q: `last_used_after:"2024-01-02T08:34:05+05:30"`, want: search.WorkspaceFilter{LastUsedAfter: &ts}},
		{name: "last_used fraction", q: `last_used_before:"2024-01-02T03:04:05.123456Z"`, want: search.WorkspaceFilter{LastUsedBefore: &tsNano}},
		{name: "last_used both", q: `last_used_after:"2024-01-02T03:04:05Z" last_used_before:"2024-01-02T03:04:05.123456Z"`, want: search.WorkspaceFilter{LastUsedAfter: &ts, LastUsedBefore: &tsNano}},
		{name: "last_used empty", q: `last_used_after:""`, want: search.WorkspaceFilter{}},

		// param
		{name: "param name", q: "param:region", want: search.WorkspaceFilter{Params: []search.ParamFilter{{Name: "region"}}}},
		{name: "param name=value", q: "param:region=eu", want: search.WorkspaceFilter{Params: []search.ParamFilter{{Name: "region", Value: "eu", HasValue: true}}}},
		{name: "param value with =", q: "param:token=a=b", want: search.WorkspaceFilter{Params: []search.ParamFilter{{Name: "token", Value: "a=b", HasValue: true}}}},
		{name: "param quoted and trimmed", q: `param:" my param = a b "`, want: search.WorkspaceFilter{Params: []search.ParamFilter{{Name: "my param", Value: "a b", HasValue: true}}}},
		{name: "param value with colon", q: `param:"url=http://x"`, want: search.WorkspaceFilter{Params: []search.ParamFilter{{Name: "url", Value: "http://x", HasValue: true}}}},
		{name: "param repeated", q: "param:a param:b=1", want: search.WorkspaceFilter{Params: []search.ParamFilter{{Name: "a"}, {Name: "b", Value: "1", HasValue: true}}}},
		{name: "param empty", q: `param:""`, want: search.WorkspaceFilter{}},

		// keys with no data behind them
		{name: "has-agent false", q: "has-agent:false", want: search.WorkspaceFilter{}},
		{name: "has-agent true", q: "has-agent:true", want: search.WorkspaceFilter{MatchNothing: true}},
		{name: "has-agent status", q: "has-agent:connected", want: search.WorkspaceFilter{MatchNothing: true}},
		{name: "has-ai-task true", q: "has-ai-task:true", want: search.WorkspaceFilter{MatchNothing: true}},
		{name: "has-ai-task false", q: "has-ai-task:false", want: search.WorkspaceFilter{}},
		{name: "has_external_agent true", q: "has_external_agent:true", want: search.WorkspaceFilter{MatchNothing: true}},
		{name: "has_external_agent false", q: "has_external_agent:false", want: search.WorkspaceFilter{}},
		{name: "shared true", q: "shared:true", want: search.WorkspaceFilter{MatchNothing: true}},
		{name: "shared false", q: "shared:false", want: search.WorkspaceFilter{}},
		{name: "shared_with_user", q: "shared_with_user:bob", want: search.WorkspaceFilter{MatchNothing: true}},
		{name: "shared_with_user false", q: "shared_with_user:false", want: search.WorkspaceFilter{}},
		{name: "shared_with_group", q: "shared_with_group:org/devs", want: search.WorkspaceFilter{MatchNothing: true}},
		{name: "shared_with_group false", q: "shared_with_group:false", want: search.WorkspaceFilter{}},
		{name: "no-data empty", q: `shared:""`, want: search.WorkspaceFilter{}},
		{name: "no-data last wins per key", q: "shared:true shared:false", want: search.WorkspaceFilter{}},
		{name: "no-data any key", q: "shared:false has-agent:x", want: search.WorkspaceFilter{MatchNothing: true}},

		// everything
		{
			name: "all keys",
			q: `owner:me name:dev template:docker status:running outdated:true dormant:true id:` + id1.String() +
				` organization:coder last_used_after:"2024-01-02T03:04:05Z" last_used_before:"2024-01-02T03:04:05.123456Z" param:a=1 has-agent:false`,
			want: search.WorkspaceFilter{
				OwnerUsername: "me", Name: "dev", Template: "docker", Status: "running", Outdated: ptr(true), Dormant: true,
				IDs: []uuid.UUID{id1}, Organization: "coder", LastUsedAfter: &ts, LastUsedBefore: &tsNano,
				Params: []search.ParamFilter{{Name: "a", Value: "1", HasValue: true}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := search.ParseWorkspaceQuery(tc.q)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			again, err := search.ParseWorkspaceQuery(got.String())
			require.NoError(t, err, "String() = %q", got.String())
			require.Equal(t, got, again, "String() = %q", got.String())
		})
	}
}

func TestParseWorkspaceQueryErrors(t *testing.T) {
	t.Parallel()
	type v = search.Validation
	cases := []struct {
		name string
		q    string
		want []v
	}{
		{name: "starts with colon", q: ":running", want: []v{{"q", `Query element ":running" cannot start or end with ':'`}}},
		{name: "ends with colon", q: "status:", want: []v{{"q", `Query element "status:" cannot start or end with ':'`}}},
		{name: "two colons", q: "status:running:now", want: []v{{"q", `Query element "status:running:now" can only contain 1 ':'`}}},
		{name: "tokenizer errors skip key checks", q: "bogus:1 a:b:c", want: []v{{"q", `Query element "a:b:c" can only contain 1 ':'`}}},
		{name: "unknown key", q: "bogus:1", want: []v{{"bogus", `"bogus" is not a valid query param`}}},
		{name: "unknown key once", q: "Bogus:1 bogus:2", want: []v{{"bogus", `"bogus" is not a valid query param`}}},
		{name: "template key on workspaces", q: "ids:" + id1.String(), want: []v{{"ids", `"ids" is not a valid query param`}}},
		{name: "deleted is not a workspace key", q: "deleted:true", want: []v{{"deleted", `"deleted" is not a valid query param`}}},
		{name: "bad status", q: "status:bogus", want: []v{{"status", `Query param "status" has invalid value: "bogus" is not a valid workspace status (pending, starting, running, stopping, stopped, failed, canceling, canceled, deleting or deleted)`}}},
		{name: "bad status before good", q: "status:bogus status:running", want: []v{{"status", `Query param "status" has invalid value: "bogus" is not a valid workspace status (pending, starting, running, stopping, stopped, failed, canceling, canceled, deleting or deleted)`}}},
		{name: "bad dormant", q: "dormant:maybe", want: []v{{"dormant", `Query param "dormant" must be "true" or "false", got "maybe"`}}},
		{name: "bool is strict", q: "outdated:1", want: []v{{"outdated", `Query param "outdated" must be "true" or "false", got "1"`}}},
		{name: "bad id", q: "id:nope", want: []v{{"id", `Query param "id" must be a comma-separated list of UUIDs: "nope" is not a valid UUID`}}},
		{name: "empty id in list", q: "id:" + id1.String() + ",", want: []v{{"id", `Query param "id" must be a comma-separated list of UUIDs: "" is not a valid UUID`}}},
		{name: "bad last_used_after", q: `last_used_after:"yesterday"`, want: []v{{"last_used_after", `Query param "last_used_after" must be an RFC 3339 timestamp such as "2006-01-02T15:04:05Z", got "yesterday"`}}},
		{name: "date-only last_used_before", q: `last_used_before:2024-01-02`, want: []v{{"last_used_before", `Query param "last_used_before" must be an RFC 3339 timestamp such as "2006-01-02T15:04:05Z", got "2024-01-02"`}}},
		{name: "time out of UTC range", q: `last_used_before:"0000-01-01T00:00:00+01:00"`, want: []v{{"last_used_before", `Query param "last_used_before" must be an RFC 3339 timestamp such as "2006-01-02T15:04:05Z", got "0000-01-01t00:00:00+01:00"`}}},
		{name: "param empty name", q: "param:=x", want: []v{{"param", `Query param "param" has invalid value "=x": the parameter name is empty; use param:<name> or param:<name>=<value>`}}},
		{name: "param terms bounded", q: strings.Repeat("param:p ", search.MaxParamTerms) + "param:q", want: []v{{"param", `Query param "param" may appear at most 16 times`}}},
		{name: "param empty value", q: "param:a=", want: []v{{"param", `Query param "param" has invalid value "a=": the value after '=' is empty; omit the '=' to match on the parameter name alone`}}},
		{
			name: "all value errors in order",
			q:    "zzz:1 status:x dormant:y aaa:2",
			want: []v{
				{"zzz", `"zzz" is not a valid query param`},
				{"status", `Query param "status" has invalid value: "x" is not a valid workspace status (pending, starting, running, stopping, stopped, failed, canceling, canceled, deleting or deleted)`},
				{"dormant", `Query param "dormant" must be "true" or "false", got "y"`},
				{"aaa", `"aaa" is not a valid query param`},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := search.ParseWorkspaceQuery(tc.q)
			var serr *search.Error
			require.True(t, errors.As(err, &serr), "error %v", err)
			require.Equal(t, search.WorkspaceQueryMessage, serr.Message)
			require.Equal(t, tc.want, serr.Validations)
			require.Zero(t, got)
		})
	}
}

func TestWorkspaceFilterString(t *testing.T) {
	t.Parallel()
	ts := time.Date(2024, 1, 2, 3, 4, 5, 120000000, time.UTC)
	cases := []struct {
		name string
		f    search.WorkspaceFilter
		want string
	}{
		{name: "zero", want: ""},
		{name: "owner/name", f: search.WorkspaceFilter{OwnerUsername: "alice", Name: "dev"}, want: "owner:alice name:dev"},
		{name: "quoting", f: search.WorkspaceFilter{Name: "my dev", Template: "a:b"}, want: `name:"my dev" template:"a:b"`},
		{name: "bools", f: search.WorkspaceFilter{Outdated: ptr(false), Dormant: true}, want: "outdated:false dormant:true"},
		{name: "ids", f: search.WorkspaceFilter{IDs: []uuid.UUID{id1, id2}}, want: "id:" + id1.String() + "," + id2.String()},
		{name: "time", f: search.WorkspaceFilter{LastUsedAfter: &ts}, want: `last_used_after:"2024-01-02T03:04:05.12Z"`},
		{
			name: "params",
			f:    search.WorkspaceFilter{Params: []search.ParamFilter{{Name: "a"}, {Name: "b", Value: "x y", HasValue: true}}},
			want: `param:a param:"b=x y"`,
		},
		{name: "match nothing", f: search.WorkspaceFilter{MatchNothing: true}, want: "has-agent:true"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.f.String())
		})
	}
}
