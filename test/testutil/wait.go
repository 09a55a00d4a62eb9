package testutil

import (
	"testing"
	"time"
)

// Eventually calls check every interval until it returns nil or timeout
// passes, and then fails the test with check's last error. It is how a test
// waits for a cluster to converge: by retrying a condition, never by
// sleeping a fixed time.
func Eventually(t testing.TB, timeout, interval time.Duration, check func() error) {
	t.Helper()
	if err := Wait(timeout, interval, check); err != nil {
		t.Fatalf("still failing after %v: %v", timeout, err)
	}
}

// Wait is Eventually without a test: it returns check's last error when
// timeout passes first, for harnesses that report rather than fail.
func Wait(timeout, interval time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil || !time.Now().Before(deadline) {
			return err
		}
		time.Sleep(interval)
	}
}
