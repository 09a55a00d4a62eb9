package process

import "syscall"

// sysProcAttr makes the kernel kill dhtd when the test binary dies (a test
// timeout panics and exits without running cleanups), so that no daemon
// outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
