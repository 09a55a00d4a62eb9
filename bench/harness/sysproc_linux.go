package harness

import "syscall"

// sysProcAttr puts a child in its own process group, so that a Ctrl-C at
// the terminal reaches only the harness (which stops the children in
// order), and kills it if the harness dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
