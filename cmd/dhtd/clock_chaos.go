//go:build chaos

package main

import (
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// dataClock, in a build with the chaos tag only (the fault-injection suite,
// never a release), skews the clock the node stamps data with by the
// duration written in the file DHT_CHAOS_CLOCK_FILE names ("90s", "-2m"),
// re-read every 100ms so the harness can bump it while the node runs. An
// absent or unreadable file means no skew.
func dataClock() func() time.Time {
	path := os.Getenv("DHT_CHAOS_CLOCK_FILE")
	if path == "" {
		return nil
	}
	var offset atomic.Int64
	read := func() {
		raw, err := os.ReadFile(path)
		if err != nil {
			offset.Store(0)
			return
		}
		d, err := time.ParseDuration(strings.TrimSpace(string(raw)))
		if err != nil {
			return // keep the last good offset while the file is rewritten
		}
		offset.Store(int64(d))
	}
	read()
	go func() {
		for range time.Tick(100 * time.Millisecond) {
			read()
		}
	}()
	return func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
}
