//go:build !linux

package harness

import "syscall"

// sysProcAttr puts a child in its own process group, so that a Ctrl-C at
// the terminal reaches only the harness, which stops the children in order.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
