package workflows

import (
	"sort"

	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Search attributes berth sets on every job workflow. They hold IDs and
// enums only: Temporal stores them unencoded.
var (
	AttrOrganizationID    = temporal.NewSearchAttributeKeyKeyword("OrganizationId")
	AttrTemplateID        = temporal.NewSearchAttributeKeyKeyword("TemplateId")
	AttrTemplateVersionID = temporal.NewSearchAttributeKeyKeyword("TemplateVersionId")
	AttrWorkspaceID       = temporal.NewSearchAttributeKeyKeyword("WorkspaceId")
	AttrJobType           = temporal.NewSearchAttributeKeyKeyword("JobType")
	AttrTransition        = temporal.NewSearchAttributeKeyKeyword("Transition")
	AttrInitiatorID       = temporal.NewSearchAttributeKeyKeyword("InitiatorId")
	AttrProvisionerTags   = temporal.NewSearchAttributeKeyKeywordList("ProvisionerTags")
)

// SearchAttributes is the one list of custom search attributes: it feeds
// the dev server flags, the test infrastructure and the start-up
// registration.
func SearchAttributes() map[string]enums.IndexedValueType {
	return map[string]enums.IndexedValueType{
		AttrOrganizationID.GetName():    enums.INDEXED_VALUE_TYPE_KEYWORD,
		AttrTemplateID.GetName():        enums.INDEXED_VALUE_TYPE_KEYWORD,
		AttrTemplateVersionID.GetName(): enums.INDEXED_VALUE_TYPE_KEYWORD,
		AttrWorkspaceID.GetName():       enums.INDEXED_VALUE_TYPE_KEYWORD,
		AttrJobType.GetName():           enums.INDEXED_VALUE_TYPE_KEYWORD,
		AttrTransition.GetName():        enums.INDEXED_VALUE_TYPE_KEYWORD,
		AttrInitiatorID.GetName():       enums.INDEXED_VALUE_TYPE_KEYWORD,
		AttrProvisionerTags.GetName():   enums.INDEXED_VALUE_TYPE_KEYWORD_LIST,
	}
}

// SearchAttributeFlags returns `temporal server start-dev` flags that
// register every search attribute.
func SearchAttributeFlags() []string {
	names := []string{
		AttrOrganizationID.GetName(), AttrTemplateID.GetName(), AttrTemplateVersionID.GetName(),
		AttrWorkspaceID.GetName(), AttrJobType.GetName(), AttrTransition.GetName(),
		AttrInitiatorID.GetName(), AttrProvisionerTags.GetName(),
	}
	attrs := SearchAttributes()
	flags := make([]string, 0, 2*len(names))
	for _, n := range names {
		t := "Keyword"
		if attrs[n] == enums.INDEXED_VALUE_TYPE_KEYWORD_LIST {
			t = "KeywordList"
		}
		flags = append(flags, "--search-attribute", n+"="+t)
	}
	return flags
}

// DevServerFlags are the dynamic-config flags berth passes to every
// Temporal dev server it starts (STYLE.md T11): without them each task
// hand-off waits for a 50 ms rate-limiter tick, and each history shard runs
// one persistence operation at a time (Temporal's default, a guard for
// Cassandra, whose writes serialize on the shard row anyway; on SQL they
// take the shard row FOR SHARE and run side by side), so with a
// development cluster's few shards every job's start waited for the other
// jobs' writes on its shard.
func DevServerFlags() []string {
	return []string{
		"--dynamic-config-value", "history.shardIOConcurrency=16",
		"--dynamic-config-value", "history.transferProcessorMaxPollRPS=100000",
		"--dynamic-config-value", "history.timerProcessorMaxPollRPS=100000",
		"--dynamic-config-value", "system.enableActivityEagerExecution=true",
		"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
		"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
	}
}

// JobAttrs are the facts about a job that become its search attributes.
type JobAttrs struct {
	OrganizationID    uuid.UUID
	TemplateID        uuid.NullUUID
	TemplateVersionID uuid.NullUUID
	WorkspaceID       uuid.NullUUID
	InitiatorID       uuid.UUID
	JobType           string
	Transition        string
	Tags              map[string]string
}

// SearchAttributes returns the typed search attributes of a job workflow.
func (a JobAttrs) SearchAttributes() temporal.SearchAttributes {
	tags := make([]string, 0, len(a.Tags))
	for k, v := range a.Tags {
		tags = append(tags, k+"="+v)
	}
	sort.Strings(tags)
	upd := []temporal.SearchAttributeUpdate{
		AttrOrganizationID.ValueSet(a.OrganizationID.String()),
		AttrInitiatorID.ValueSet(a.InitiatorID.String()),
		AttrJobType.ValueSet(a.JobType),
		AttrProvisionerTags.ValueSet(tags),
	}
	if a.TemplateID.Valid {
		upd = append(upd, AttrTemplateID.ValueSet(a.TemplateID.UUID.String()))
	}
	if a.TemplateVersionID.Valid {
		upd = append(upd, AttrTemplateVersionID.ValueSet(a.TemplateVersionID.UUID.String()))
	}
	if a.WorkspaceID.Valid {
		upd = append(upd, AttrWorkspaceID.ValueSet(a.WorkspaceID.UUID.String()))
	}
	if a.Transition != "" {
		upd = append(upd, AttrTransition.ValueSet(a.Transition))
	}
	return temporal.NewSearchAttributes(upd...)
}
