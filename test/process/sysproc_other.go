//go:build !linux

package process

import "syscall"

// sysProcAttr has no portable parent-death signal outside Linux; a test
// binary that dies without running its cleanups may leave dhtd running.
func sysProcAttr() *syscall.SysProcAttr { return nil }
