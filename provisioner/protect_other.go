//go:build !linux

package provisioner

// ProtectProcess does nothing outside Linux; run Terraform as another
// user there (terraform.Options.User).
func ProtectProcess() error { return nil }
