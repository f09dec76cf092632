package clitest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
	"github.com/berth-dev/berth/internal/berthtest"
)

// TestProvisionerJobsCLI: coder provisioner jobs list (with its filters)
// and cancel.
func TestProvisionerJobsCLI(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{})
	owner := d.CreateFirstUser(ctx)
	c := newCLI(t, d, owner.Client.SessionToken())
	pushEcho(t, c, "jobs", "v1", `{"version": 1}`)

	// An import that hangs until it is canceled.
	file := berthtest.UploadEcho(ctx, t, owner.Client, `{"version": 1, "steps": {"parse": {"outcome": "hang"}}}`)
	tv, err := owner.Client.CreateTemplateVersion(ctx, owner.OrganizationID, sdk.CreateTemplateVersionRequest{
		FileID: file, StorageMethod: sdk.ProvisionerStorageMethodFile, Provisioner: sdk.ProvisionerTypeEcho, Name: "hangs",
	})
	require.NoError(t, err)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		v, err := owner.Client.TemplateVersion(ctx, tv.ID)
		assert.NoError(ct, err)
		assert.Equal(ct, sdk.ProvisionerJobRunning, v.Job.Status)
	}, time.Minute, 20*time.Millisecond)

	var jobs []sdk.ProvisionerJob
	require.NoError(t, json.Unmarshal([]byte(c.ok(ctx, "provisioner", "jobs", "list", "-o", "json")), &jobs))
	require.Len(t, jobs, 2)
	// The CLI sorts oldest first.
	require.Equal(t, tv.Job.ID, jobs[1].ID)
	require.Equal(t, "hangs", jobs[1].Metadata.TemplateVersionName)
	require.Equal(t, "jobs", jobs[0].Metadata.TemplateName)
	require.Equal(t, "v1", jobs[0].Metadata.TemplateVersionName)

	require.NoError(t, json.Unmarshal([]byte(c.ok(ctx, "provisioner", "jobs", "list", "-s", "succeeded", "-o", "json")), &jobs))
	require.Len(t, jobs, 1)
	require.Equal(t, "v1", jobs[0].Metadata.TemplateVersionName)
	require.Contains(t, c.ok(ctx, "provisioner", "jobs", "list", "--initiator", "owner"), tv.Job.ID.String())

	require.Contains(t, c.ok(ctx, "provisioner", "jobs", "cancel", tv.Job.ID.String()), "Job canceled")
	v := berthtest.WaitJob(ctx, t, owner.Client, tv.ID)
	require.Equal(t, sdk.ProvisionerJobCanceled, v.Job.Status)
}

// TestOrganizationMembersCLI: coder organizations members list, add,
// edit-roles and remove.
func TestOrganizationMembersCLI(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := berthtest.New(t, berthtest.Options{NoWorker: true})
	owner := d.CreateFirstUser(ctx)
	c := newCLI(t, d, owner.Client.SessionToken())
	c.ok(ctx, "users", "create", "--username", "bob", "--email", "bob@example.com", "--full-name", "Bob")

	require.Contains(t, c.ok(ctx, "organizations", "members", "list"), "bob")
	c.ok(ctx, "organizations", "members", "edit-roles", "bob", "organization-admin")
	ms, err := owner.Client.OrganizationMembers(ctx, "coder")
	require.NoError(t, err)
	require.Len(t, ms, 2)
	require.Equal(t, "bob", ms[0].Username)
	require.Equal(t, []sdk.SlimRole{{Name: "organization-admin", DisplayName: "Organization Admin", OrganizationID: owner.OrganizationID.String()}}, ms[0].Roles)

	c.ok(ctx, "organizations", "members", "remove", "bob")
	require.NotContains(t, c.ok(ctx, "organizations", "members", "list"), "bob")
	c.ok(ctx, "organizations", "members", "add", "bob")
	require.Contains(t, c.ok(ctx, "organizations", "members", "list"), "bob")
}
