package terraform_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-dev/berth/internal/testinfra"
	"github.com/berth-dev/berth/provisioner"
	"github.com/berth-dev/berth/provisioner/terraform"
)

const (
	secretsHelperEnv = "BERTH_TEST_SECRETS_HELPER"
	canary           = "postgres://canary-secret@db.invalid/berth"
)

// A template's Terraform cannot read the worker's secrets: not from its
// own environment (an allow-list) and not from /proc/<worker>/environ. The
// worker is a separate process here (this test binary run again with a
// database URL in its initial environment, which is what /proc shows),
// protected as berth worker protects itself: non-dumpable, and Terraform
// as another user when the worker runs as root.
func TestTemplateCannotReadWorkerSecrets(t *testing.T) {
	t.Parallel()
	bin, mirror := testinfra.Terraform(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSecretsHelperProcess$", "-test.v")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), secretsHelperEnv + "=1",
		"DATABASE_URL=" + canary, "BERTH_POSTGRES_URL=" + canary, "AWS_SECRET_ACCESS_KEY=not-allowed",
		"BERTH_TERRAFORM_PATH=" + bin, "BERTH_TERRAFORM_MIRROR=" + mirror,
	}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "peek done", "the template ran: %s", out)
	require.Contains(t, string(out), "own env: []")
	require.NotContains(t, string(out), "canary-secret")
	require.NotContains(t, string(out), "not-allowed")
}

// TestSecretsHelperProcess is the worker of TestTemplateCannotReadWorkerSecrets.
func TestSecretsHelperProcess(t *testing.T) {
	if os.Getenv(secretsHelperEnv) != "1" {
		t.Skip("run by TestTemplateCannotReadWorkerSecrets")
	}
	bin, mirror := testinfra.Terraform(t)
	require.NoError(t, provisioner.ProtectProcess())
	opts := terraform.Options{Binary: bin, Mirror: mirror, ConfigDir: tempDir(t)}
	if os.Geteuid() == 0 {
		opts.User = &terraform.Credential{UID: 65534, GID: 65534}
	}
	p, err := terraform.New(opts)
	require.NoError(t, err)
	defer p.Close()
	dir := tempDir(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`variable "worker_pid" {
  type = string
}
resource "terraform_data" "peek" {
  provisioner "local-exec" {
    command = "echo \"own env: [$DATABASE_URL$BERTH_POSTGRES_URL$AWS_SECRET_ACCESS_KEY]\"; tr '\\0' '\\n' < /proc/${var.worker_pid}/environ; head -c 4096 /proc/${var.worker_pid}/cmdline; echo peek done"
  }
}
`), 0o600))
	s := &sink{}
	ctx := context.Background()
	in := provisioner.PlanInput{Transition: "start", Workspace: meta(), Variables: map[string]string{"worker_pid": strconv.Itoa(os.Getpid())}}
	require.NoError(t, p.Init(ctx, dir, s))
	_, err = p.Plan(ctx, dir, in, s)
	require.NoError(t, err)
	_, err = p.Apply(ctx, dir, in, s)
	require.NoError(t, err)
	var lines []string
	for _, l := range s.logs {
		lines = append(lines, l.Output)
	}
	t.Log(strings.Join(lines, "\n"))
}

// tempDir is a directory another user can enter (t.TempDir's parent is
// the test's own, mode 0700).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "berth-secrets-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
