package testinfra

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/provisioner/terraform"
)

// Terraform returns the Terraform binary and the provider mirror (holding
// the coder provider) the tests run templates with: $BERTH_TERRAFORM_PATH
// or terraform/tofu on PATH or <repo root>/bin/terraform, and
// $BERTH_TERRAFORM_MIRROR or <repo root>/bin/terraform-providers, both as
// `make terraform` prepares them. Without either, Unavailable is called.
func Terraform(t testing.TB) (binary, mirror string) {
	t.Helper()
	var why reasons
	root := repoRoot()
	binary, err := terraform.FindBinary()
	if err != nil {
		why.add("%v", err)
		if p := filepath.Join(root, "bin", "terraform"); root != "" && isExecutable(p) {
			binary = p
		}
	}
	mirror = os.Getenv("BERTH_TERRAFORM_MIRROR")
	if mirror == "" && root != "" {
		mirror = filepath.Join(root, "bin", "terraform-providers")
	}
	if _, err := os.Stat(filepath.Join(mirror, "registry.terraform.io", "coder", "coder")); err != nil {
		why.add("no coder provider in the mirror %s (run make terraform)", mirror)
		mirror = ""
	}
	if binary == "" || mirror == "" {
		t.Logf("no Terraform:%s", why)
		Unavailable(t, "Terraform with the coder provider")
	}
	return binary, mirror
}
