package terraform

import "syscall"

// sysProcAttr puts Terraform in its own process group. On Linux a worker
// that dies (kill -9) also interrupts its Terraform rather than leaving it
// to change infrastructure nobody tracks.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGINT}
}
