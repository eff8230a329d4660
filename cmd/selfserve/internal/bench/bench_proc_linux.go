package bench

import "syscall"

// childAttr makes a child process die with the bench, even when the bench is
// killed before it can stop its children.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
