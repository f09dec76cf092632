package sdk_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/api/sdk"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the test values")

// Fixed values keep the golden files stable.
var (
	t0      = time.Date(2025, 3, 1, 10, 4, 5, 123456000, time.UTC)
	t1      = t0.Add(2 * time.Second)
	t2      = t0.Add(7*time.Second + 250*time.Microsecond)
	orgID   = uuid.MustParse("7c60d51f-b44e-4682-87d6-449835ea4de6")
	userID  = uuid.MustParse("9377d689-01fb-4abf-8450-3368d2c1924f")
	fileID  = uuid.MustParse("8a0cfb4f-ddc9-436d-91bb-75133c583767")
	jobID   = uuid.MustParse("453bd7d7-5355-4d6d-a38e-d9e7eb218c3f")
	tplID   = uuid.MustParse("c6d67e98-83ea-49f0-8812-e4abae2b68bc")
	tvID    = uuid.MustParse("0ba39c92-1f1b-4c32-aa3e-9925d7713eb1")
	wsID    = uuid.MustParse("0967198e-ec7b-4c6b-b4d3-f71244cadbe9")
	buildID = uuid.MustParse("badaf2eb-96c5-4050-9f1d-db2d39ca5478")
	workerA = uuid.MustParse("ae5fa6f7-c55b-40c1-b40a-b36ac467652b")
	resID   = uuid.MustParse("4d5215ed-38bb-48ed-879a-fdb9ca58522f")
	agentID = uuid.MustParse("2b1e3b65-2c04-4fa2-a2d7-467901e98978")
)

func ptr[T any](v T) *T { return &v }

// pendingImportJob is a job nobody has claimed: no started, completed or
// canceled timestamps.
func pendingImportJob() sdk.ProvisionerJob {
	return sdk.ProvisionerJob{
		ID:             jobID,
		CreatedAt:      t0,
		Status:         sdk.ProvisionerJobPending,
		FileID:         fileID,
		Tags:           map[string]string{"scope": "organization", "owner": ""},
		QueuePosition:  1,
		QueueSize:      1,
		OrganizationID: orgID,
		InitiatorID:    userID,
		Input:          sdk.ProvisionerJobInput{TemplateVersionID: ptr(tvID)},
		Type:           sdk.ProvisionerJobTypeTemplateVersionImport,
		Metadata: sdk.ProvisionerJobMetadata{
			TemplateVersionName: "eager_turing4",
		},
	}
}

// finishedBuildJob is a build job with every optional field set.
func finishedBuildJob() sdk.ProvisionerJob {
	return sdk.ProvisionerJob{
		ID:               jobID,
		CreatedAt:        t0,
		StartedAt:        ptr(t1),
		CompletedAt:      ptr(t2),
		CanceledAt:       ptr(t2),
		Error:            "required template variables need values: region",
		ErrorCode:        sdk.RequiredTemplateVariables,
		Status:           sdk.ProvisionerJobFailed,
		WorkerID:         ptr(workerA),
		WorkerName:       "worker-a",
		FileID:           fileID,
		Tags:             map[string]string{"scope": "organization", "owner": ""},
		OrganizationID:   orgID,
		InitiatorID:      userID,
		Input:            sdk.ProvisionerJobInput{WorkspaceBuildID: ptr(buildID)},
		Type:             sdk.ProvisionerJobTypeWorkspaceBuild,
		AvailableWorkers: []uuid.UUID{workerA},
		Metadata: sdk.ProvisionerJobMetadata{
			TemplateVersionName: "v1",
			TemplateID:          tplID,
			TemplateName:        "docker",
			TemplateDisplayName: "Docker",
			TemplateIcon:        "/icon/docker.png",
			WorkspaceID:         ptr(wsID),
			WorkspaceName:       "dev",
		},
		LogsOverflowed: true,
	}
}

func testTemplateVersion() sdk.TemplateVersion {
	return sdk.TemplateVersion{
		ID:             tvID,
		OrganizationID: orgID,
		CreatedAt:      t0,
		UpdatedAt:      t0,
		Name:           "eager_turing4",
		Message:        "Uploaded from the CLI",
		Job:            pendingImportJob(),
		Readme:         "# Demo\n",
		CreatedBy:      sdk.MinimalUser{ID: userID, Username: "admin", Name: "Admin", AvatarURL: ""},
		MatchedProvisioners: &sdk.MatchedProvisioners{
			Count:     0,
			Available: 0,
		},
	}
}

func testTemplate() sdk.Template {
	return sdk.Template{
		ID:                      tplID,
		CreatedAt:               t0,
		UpdatedAt:               t1,
		OrganizationID:          orgID,
		OrganizationName:        "coder",
		OrganizationDisplayName: "Coder",
		OrganizationIcon:        "",
		Name:                    "docker",
		DisplayName:             "Docker",
		Provisioner:             sdk.ProvisionerTypeEcho,
		ActiveVersionID:         tvID,
		ActiveUserCount:         1,
		WorkspaceOwnerCount:     1,
		BuildTimeStats: sdk.TemplateBuildTimeStats{
			Start: sdk.TransitionStats{P50: ptr[int64](123), P95: ptr[int64](146)},
		},
		Description:                    "A template",
		Icon:                           "/icon/docker.png",
		DefaultTTLMillis:               int64(8 * time.Hour / time.Millisecond),
		ActivityBumpMillis:             int64(time.Hour / time.Millisecond),
		AutostopRequirement:            sdk.TemplateAutostopRequirement{DaysOfWeek: []string{}, Weeks: 1},
		AutostartRequirement:           sdk.TemplateAutostartRequirement{DaysOfWeek: []string{"monday", "tuesday"}},
		CreatedByID:                    userID,
		CreatedByName:                  "admin",
		AllowUserAutostart:             true,
		AllowUserAutostop:              true,
		AllowUserCancelWorkspaceJobs:   false,
		FailureTTLMillis:               0,
		TimeTilDormantMillis:           0,
		TimeTilDormantAutoDeleteMillis: 0,
		MaxPortShareLevel:              sdk.WorkspaceAgentPortShareLevelOwner,
		CORSBehavior:                   sdk.CORSBehaviorSimple,
		UseClassicParameterFlow:        true,
	}
}

func testWorkspace() sdk.Workspace {
	job := finishedBuildJob()
	job.CanceledAt, job.Error, job.ErrorCode, job.Status = nil, "", "", sdk.ProvisionerJobSucceeded
	return sdk.Workspace{
		ID:                      wsID,
		CreatedAt:               t0,
		UpdatedAt:               t0,
		OwnerID:                 userID,
		OwnerName:               "admin",
		OrganizationID:          orgID,
		OrganizationName:        "coder",
		TemplateID:              tplID,
		TemplateName:            "docker",
		TemplateActiveVersionID: tvID,
		LatestBuild: sdk.WorkspaceBuild{
			ID:                  buildID,
			CreatedAt:           t0,
			UpdatedAt:           t2,
			WorkspaceID:         wsID,
			WorkspaceName:       "dev",
			WorkspaceOwnerID:    userID,
			WorkspaceOwnerName:  "admin",
			TemplateVersionID:   tvID,
			TemplateVersionName: "v1",
			BuildNumber:         1,
			Transition:          sdk.WorkspaceTransitionStart,
			InitiatorID:         userID,
			InitiatorUsername:   "admin",
			Job:                 job,
			Reason:              sdk.BuildReasonInitiator,
			Resources: []sdk.WorkspaceResource{{
				ID:                  resID,
				CreatedAt:           t2,
				JobID:               jobID,
				WorkspaceTransition: sdk.WorkspaceTransitionStart,
				Type:                "echo_instance",
				Name:                "dev",
				Agents: []sdk.WorkspaceAgent{{
					ID:                   agentID,
					CreatedAt:            t2,
					UpdatedAt:            t2,
					Status:               sdk.WorkspaceAgentConnecting,
					LifecycleState:       sdk.WorkspaceAgentLifecycleCreated,
					Name:                 "main",
					ResourceID:           resID,
					Architecture:         "amd64",
					EnvironmentVariables: map[string]string{},
					OperatingSystem:      "linux",
					Directory:            "/home/coder",
					Apps:                 []sdk.WorkspaceApp{},
					Subsystems:           []string{},
					Health:               sdk.WorkspaceAgentHealth{Healthy: false, Reason: "agent is not yet connected"},
					DisplayApps:          []sdk.DisplayApp{},
					LogSources:           []sdk.WorkspaceAgentLogSource{},
					Scripts:              []sdk.WorkspaceAgentScript{},
				}},
				Metadata: []sdk.WorkspaceResourceMetadata{{Key: "size", Value: "small"}},
			}},
			Deadline:            ptr(t2.Add(8 * time.Hour)),
			Status:              sdk.WorkspaceStatusRunning,
			MatchedProvisioners: &sdk.MatchedProvisioners{Count: 1, Available: 1, MostRecentlySeen: ptr(t1)},
		},
		Name:             "dev",
		TTLMillis:        ptr(int64(8 * time.Hour / time.Millisecond)),
		LastUsedAt:       t0,
		Health:           sdk.WorkspaceHealth{Healthy: true, FailingAgents: []uuid.UUID{}},
		AutomaticUpdates: sdk.AutomaticUpdatesNever,
		AllowRenames:     true,
	}
}

// roundTrip checks that v encodes to the golden file and that the golden
// file decodes back to v.
func roundTrip[T any](t *testing.T, name string, v T) map[string]any {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.json")
	got, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))

	var back T
	require.NoError(t, json.Unmarshal(want, &back))
	require.Equal(t, v, back)

	var m map[string]any
	require.NoError(t, json.Unmarshal(want, &m))
	return m
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestProvisionerJobJSON(t *testing.T) {
	t.Parallel()
	t.Run("pending omits unset timestamps", func(t *testing.T) {
		t.Parallel()
		m := roundTrip(t, "provisioner_job_pending", pendingImportJob())
		for _, k := range []string{"started_at", "completed_at", "canceled_at", "worker_id", "worker_name", "available_workers"} {
			require.NotContains(t, m, k)
		}
		require.Equal(t, map[string]any{"template_version_id": tvID.String()}, m["input"])
		require.Equal(t, "00000000-0000-0000-0000-000000000000", m["metadata"].(map[string]any)["template_id"])
		require.NotContains(t, m["metadata"], "workspace_id")
		require.Equal(t, "2025-03-01T10:04:05.123456Z", m["created_at"])
	})
	t.Run("finished has every key", func(t *testing.T) {
		t.Parallel()
		m := roundTrip(t, "provisioner_job_finished", finishedBuildJob())
		// The keys of the reference ProvisionerJob plus this product's
		// initiator_id, worker_name and logs_overflowed.
		require.Equal(t, []string{
			"available_workers", "canceled_at", "completed_at", "created_at", "error", "error_code",
			"file_id", "id", "initiator_id", "input", "logs_overflowed", "metadata", "organization_id",
			"queue_position", "queue_size", "started_at", "status", "tags", "type", "worker_id", "worker_name",
		}, keys(m))
		require.Equal(t, []string{
			"template_display_name", "template_icon", "template_id", "template_name",
			"template_version_name", "workspace_id", "workspace_name",
		}, keys(m["metadata"].(map[string]any)))
		require.Equal(t, "2025-03-01T10:04:12.123706Z", m["completed_at"])
	})
}

func TestTemplateVersionJSON(t *testing.T) {
	t.Parallel()
	m := roundTrip(t, "template_version", testTemplateVersion())
	require.Equal(t, []string{
		"archived", "created_at", "created_by", "has_external_agent", "id", "job", "matched_provisioners",
		"message", "name", "organization_id", "readme", "template_id", "updated_at",
	}, keys(m))
	require.Contains(t, m, "template_id")
	require.Nil(t, m["template_id"], "an unattached version has a null template_id")
	require.Equal(t, map[string]any{"count": 0.0, "available": 0.0, "most_recently_seen": nil}, m["matched_provisioners"])
	require.Equal(t, []string{"avatar_url", "id", "name", "username"}, keys(m["created_by"].(map[string]any)))
	job := m["job"].(map[string]any)
	require.NotContains(t, job, "started_at")

	t.Run("attached", func(t *testing.T) {
		t.Parallel()
		tv := testTemplateVersion()
		tv.TemplateID = uuid.NullUUID{UUID: tplID, Valid: true}
		tv.MatchedProvisioners = nil
		tv.Warnings = []string{"UNSUPPORTED_WORKSPACES"}
		b, err := json.Marshal(tv)
		require.NoError(t, err)
		var got map[string]any
		require.NoError(t, json.Unmarshal(b, &got))
		require.Equal(t, tplID.String(), got["template_id"])
		require.NotContains(t, got, "matched_provisioners")
		require.Equal(t, []any{"UNSUPPORTED_WORKSPACES"}, got["warnings"])
	})
}

func TestTemplateJSON(t *testing.T) {
	t.Parallel()
	m := roundTrip(t, "template", testTemplate())
	require.Equal(t, []string{
		"active_user_count", "active_version_id", "activity_bump_ms", "allow_user_autostart",
		"allow_user_autostop", "allow_user_cancel_workspace_jobs", "autostart_requirement",
		"autostop_requirement", "build_time_stats", "cors_behavior", "created_at", "created_by_id",
		"created_by_name", "default_ttl_ms", "deprecated", "deprecation_message", "description",
		"display_name", "failure_ttl_ms", "icon", "id", "max_port_share_level", "name",
		"organization_display_name", "organization_icon", "organization_id", "organization_name",
		"provisioner", "require_active_version", "time_til_dormant_autodelete_ms", "time_til_dormant_ms",
		"updated_at", "use_classic_parameter_flow", "use_terraform_workspace_cache", "workspace_owner_count",
	}, keys(m))
	require.Equal(t, map[string]any{
		"start":  map[string]any{"p50": 123.0, "p95": 146.0},
		"stop":   map[string]any{"p50": nil, "p95": nil},
		"delete": map[string]any{"p50": nil, "p95": nil},
	}, m["build_time_stats"])

	t.Run("P50 spelling decodes", func(t *testing.T) {
		t.Parallel()
		var s sdk.TransitionStats
		require.NoError(t, json.Unmarshal([]byte(`{"P50":5,"P95":null}`), &s))
		require.Equal(t, sdk.TransitionStats{P50: ptr[int64](5)}, s)
	})
}

func TestWorkspaceJSON(t *testing.T) {
	t.Parallel()
	m := roundTrip(t, "workspace", testWorkspace())
	// The reference Workspace keys; autostart_schedule is omitted while off.
	require.Equal(t, []string{
		"allow_renames", "automatic_updates", "created_at", "deleting_at", "dormant_at",
		"favorite", "health", "id", "last_used_at", "latest_build", "name", "next_start_at",
		"organization_id", "organization_name", "outdated", "owner_avatar_url", "owner_id", "owner_name",
		"template_active_version_id", "template_allow_user_cancel_workspace_jobs", "template_display_name",
		"template_icon", "template_id", "template_name", "template_require_active_version", "ttl_ms",
		"updated_at",
	}, keys(m))
	for _, k := range []string{"deleting_at", "dormant_at", "next_start_at"} {
		require.Nil(t, m[k], k)
	}
	build := m["latest_build"].(map[string]any)
	require.Equal(t, []string{
		"build_number", "created_at", "daily_cost", "deadline", "id", "initiator_id", "initiator_name",
		"job", "matched_provisioners", "max_deadline", "reason", "resources", "status",
		"template_version_id", "template_version_name", "template_version_preset_id", "transition", "updated_at", "workspace_id",
		"workspace_name", "workspace_owner_avatar_url", "workspace_owner_id", "workspace_owner_name",
	}, keys(build))
	require.Nil(t, build["max_deadline"])
	require.NotNil(t, build["deadline"])
	res := build["resources"].([]any)[0].(map[string]any)
	require.Equal(t, []string{
		"agents", "created_at", "daily_cost", "hide", "icon", "id", "job_id", "metadata", "name", "type",
		"workspace_transition",
	}, keys(res))
}

func TestResponseJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(sdk.Response{Message: "Template has been deleted!"})
	require.NoError(t, err)
	require.JSONEq(t, `{"message":"Template has been deleted!"}`, string(b))

	b, err = json.Marshal(sdk.Response{
		Message:     "Validation failed.",
		Detail:      "d",
		Validations: []sdk.ValidationError{{Field: "name", Detail: "required"}},
	})
	require.NoError(t, err)
	require.JSONEq(t, `{"message":"Validation failed.","detail":"d","validations":[{"field":"name","detail":"required"}]}`, string(b))
}

func TestRequestJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
		want string
	}{
		{
			name: "create template omits unset optionals",
			v:    sdk.CreateTemplateRequest{Name: "docker", VersionID: tvID},
			want: `{"name":"docker","template_version_id":"` + tvID.String() + `","disable_everyone_group_access":false,"require_active_version":false}`,
		},
		{
			name: "create template sends explicit false and zero",
			v: sdk.CreateTemplateRequest{
				Name: "docker", VersionID: tvID, AllowUserAutostart: ptr(false), ActivityBumpMillis: ptr[int64](0),
				TimeTilDormantMillis: ptr[int64](1000), TimeTilDormantAutoDeleteMillis: ptr[int64](2000),
			},
			want: `{"name":"docker","template_version_id":"` + tvID.String() + `","allow_user_autostart":false,"activity_bump_ms":0,` +
				`"dormant_ttl_ms":1000,"delete_ttl_ms":2000,"disable_everyone_group_access":false,"require_active_version":false}`,
		},
		{
			name: "create workspace omits zero ids",
			v:    sdk.CreateWorkspaceRequest{TemplateID: tplID, Name: "dev"},
			want: `{"template_id":"` + tplID.String() + `","name":"dev"}`,
		},
		{
			name: "create build",
			v:    sdk.CreateWorkspaceBuildRequest{Transition: sdk.WorkspaceTransitionStop},
			want: `{"transition":"stop"}`,
		},
		{
			name: "create version",
			v: sdk.CreateTemplateVersionRequest{
				StorageMethod: sdk.ProvisionerStorageMethodFile, FileID: fileID, Provisioner: sdk.ProvisionerTypeEcho,
				ProvisionerTags: map[string]string{}, UserVariableValues: []sdk.VariableValue{{Name: "region", Value: "eu"}},
			},
			want: `{"storage_method":"file","file_id":"` + fileID.String() + `","provisioner":"echo","tags":{},` +
				`"user_variable_values":[{"name":"region","value":"eu"}]}`,
		},
		{
			name: "upload response",
			v:    sdk.UploadResponse{ID: fileID},
			want: `{"hash":"` + fileID.String() + `"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tc.v)
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(b))
		})
	}
}

func TestProvisionerJobStatusActive(t *testing.T) {
	t.Parallel()
	for s, want := range map[sdk.ProvisionerJobStatus]bool{
		sdk.ProvisionerJobPending: true, sdk.ProvisionerJobRunning: true, sdk.ProvisionerJobCanceling: true,
		sdk.ProvisionerJobSucceeded: false, sdk.ProvisionerJobCanceled: false, sdk.ProvisionerJobFailed: false,
		sdk.ProvisionerJobUnknown: false,
	} {
		require.Equal(t, want, s.Active(), s)
	}
}
