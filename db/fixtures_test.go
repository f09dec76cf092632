package db_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/berth-dev/berth/db"
	"github.com/berth-dev/berth/internal/testinfra"
)

func TestMain(m *testing.M) { os.Exit(testinfra.Main(m)) }

// fixture is a fresh database with the default organization, one user and
// one file, plus helpers that insert more rows.
type fixture struct {
	t     testing.TB
	ctx   context.Context
	db    *bun.DB
	store *db.Store
	org   *db.Organization
	user  *db.User
	file  *db.File
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	bdb := testinfra.DB(t)
	s := db.NewStore(bdb)
	org, err := s.GetDefaultOrganization(t.Context())
	require.NoError(t, err, "the migrations create the default organization")
	f := &fixture{t: t, ctx: t.Context(), db: bdb, store: s, org: org}
	f.user = f.insertUser("alice")
	f.file = f.insertFile(f.user.ID, []byte("template archive"))
	return f
}

// insertOrg adds a non-default organization.
func (f *fixture) insertOrg(name string) *db.Organization {
	f.t.Helper()
	now := db.Now()
	o := &db.Organization{ID: uuid.New(), Name: name, DisplayName: name, CreatedAt: now, UpdatedAt: now}
	_, err := f.db.NewInsert().Model(o).Exec(f.ctx)
	require.NoError(f.t, err, "insert organization")
	return o
}

// insertUser adds a user who is a member of the default organization.
func (f *fixture) insertUser(username string) *db.User {
	f.t.Helper()
	now := db.Now()
	u := &db.User{
		ID: uuid.New(), Email: username + "@example.com", Username: username, HashedPassword: []byte("x"),
		Status: "active", LoginType: "password", RBACRoles: []string{}, CreatedAt: now, UpdatedAt: now, LastSeenAt: now,
	}
	require.NoError(f.t, f.store.InsertUser(f.ctx, u), "insert user")
	require.NoError(f.t, f.store.InsertOrganizationMember(f.ctx, &db.OrganizationMember{
		UserID: u.ID, OrganizationID: f.org.ID, Roles: []string{}, CreatedAt: now, UpdatedAt: now,
	}), "insert organization member")
	return u
}

// insertFile stores data as a tar file created by creator and fails the test
// unless the file is new.
func (f *fixture) insertFile(creator uuid.UUID, data []byte) *db.File {
	f.t.Helper()
	got, created, err := f.store.InsertFile(f.ctx, newFile(creator, data))
	require.NoError(f.t, err, "insert file")
	require.True(f.t, created, "file is new")
	return got
}

func newFile(creator uuid.UUID, data []byte) *db.File {
	sum := sha256.Sum256(data)
	return &db.File{
		ID: uuid.New(), Hash: hex.EncodeToString(sum[:]), CreatedBy: creator, CreatedAt: db.Now(),
		Mimetype: "application/x-tar", Data: data,
	}
}

// tags returns the normalised tag set of a job or daemon with the extra
// tags: the untagged set plus extra.
func tags(extra map[string]string) map[string]string {
	out := db.UntaggedTags()
	maps.Copy(out, extra)
	return out
}

// job builds (without inserting) a pending echo import job in the default
// organization, initiated by the fixture's user.
func (f *fixture) job(mods ...func(*db.ProvisionerJob)) *db.ProvisionerJob {
	now := db.Now()
	input, err := json.Marshal(db.JobInput{TemplateVersionID: uuid.NullUUID{UUID: uuid.New(), Valid: true}})
	require.NoError(f.t, err)
	j := &db.ProvisionerJob{
		ID: uuid.New(), CreatedAt: now, UpdatedAt: now, OrganizationID: f.org.ID, InitiatorID: f.user.ID,
		Provisioner: "echo", StorageMethod: "file", Type: db.JobTypeTemplateVersionImport, Input: input,
		Tags: db.UntaggedTags(), FileID: f.file.ID, TaskQueue: "berth-prov-test",
	}
	for _, m := range mods {
		m(j)
	}
	return j
}

// insertJob inserts a job built by job.
func (f *fixture) insertJob(mods ...func(*db.ProvisionerJob)) *db.ProvisionerJob {
	f.t.Helper()
	j := f.job(mods...)
	require.NoError(f.t, f.store.InsertJob(f.ctx, j), "insert job")
	return j
}

func withTags(extra map[string]string) func(*db.ProvisionerJob) {
	return func(j *db.ProvisionerJob) { j.Tags = tags(extra) }
}

func withCreatedAt(t time.Time) func(*db.ProvisionerJob) {
	return func(j *db.ProvisionerJob) { j.CreatedAt, j.UpdatedAt = t, t }
}

func withProvisioner(p string) func(*db.ProvisionerJob) {
	return func(j *db.ProvisionerJob) { j.Provisioner = p }
}

func withOrg(orgID uuid.UUID) func(*db.ProvisionerJob) {
	return func(j *db.ProvisionerJob) { j.OrganizationID = orgID }
}

// insertDaemon registers a daemon last seen at lastSeen.
func (f *fixture) insertDaemon(orgID uuid.UUID, name string, tagSet map[string]string, lastSeen time.Time, provisioners ...string) *db.ProvisionerDaemon {
	f.t.Helper()
	if len(provisioners) == 0 {
		provisioners = []string{"echo"}
	}
	d := &db.ProvisionerDaemon{
		ID: uuid.New(), OrganizationID: orgID, Name: name, Provisioners: provisioners, Tags: tagSet,
		TaskQueue: "queue-" + name, Version: "v0", APIVersion: "1.0", CreatedAt: lastSeen, LastSeenAt: lastSeen,
	}
	require.NoError(f.t, f.store.UpsertDaemon(f.ctx, d), "upsert daemon")
	return d
}

// getJob reads a job back, failing the test if it is missing.
func (f *fixture) getJob(id uuid.UUID) *db.ProvisionerJob {
	f.t.Helper()
	j, err := f.store.GetJobByID(f.ctx, id)
	require.NoError(f.t, err, "get job")
	return j
}

// logLine is a provisioner line at info level in stage.
func logLine(stage, output string) db.ProvisionerJobLog {
	return db.ProvisionerJobLog{
		CreatedAt: db.Now(), Source: db.LogSourceProvisioner, Level: "info", Stage: stage, Output: output,
	}
}
