//go:build !chaos

package main

import "time"

// dataClock is the wall clock the node stamps data with. A release build
// uses the real one; see clock_chaos.go for the fault-injection build.
func dataClock() func() time.Time { return nil }
