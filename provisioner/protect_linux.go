package provisioner

import "syscall"

// ProtectProcess makes the calling process non-dumpable, so processes of
// the same user (the Terraform a template runs, and whatever it starts)
// can neither read its /proc/<pid>/environ, mem or fds nor ptrace it: the
// worker's database URL and Temporal settings stay the worker's. Only
// root (CAP_SYS_PTRACE) still can, so a worker running as root should run
// Terraform as another user as well (terraform.Options.User). Programs the
// worker executes are dumpable again (exec resets the flag).
func ProtectProcess() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		return errno
	}
	return nil
}
