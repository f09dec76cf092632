//go:build !linux

package terraform

import "syscall"

// sysProcAttr puts Terraform in its own process group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
