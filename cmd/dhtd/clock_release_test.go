//go:build !chaos

package main

import "testing"

// TestDataClock_ReleaseIgnoresChaosFile: only a build with the chaos tag
// may skew the clock, whatever the environment says.
func TestDataClock_ReleaseIgnoresChaosFile(t *testing.T) {
	t.Setenv("DHT_CHAOS_CLOCK_FILE", t.TempDir()+"/offset")
	if dataClock() != nil {
		t.Fatal("a release build honours DHT_CHAOS_CLOCK_FILE")
	}
}
