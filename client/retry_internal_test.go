package client

import (
	"testing"
	"time"
)

func TestRetryPolicy_Wait(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 6, BaseDelay: 100 * time.Millisecond, MaxDelay: 300 * time.Millisecond}
	tests := []struct {
		name            string
		made, endpoints int
		elapsed         time.Duration
		rnd             float64
		want            time.Duration
		ok              bool
	}{
		{"first retry, least jitter", 1, 1, 0, 0, 50 * time.Millisecond, true},
		{"first retry, half jitter", 1, 1, 0, 0.5, 75 * time.Millisecond, true},
		{"second round doubles", 2, 1, 0, 0, 100 * time.Millisecond, true},
		{"capped at MaxDelay", 5, 1, 0, 0, 150 * time.Millisecond, true},
		{"next endpoint at once", 1, 3, 0, 0.5, 0, true},
		{"after a round of three", 3, 3, 0, 0, 50 * time.Millisecond, true},
		{"attempts run out", 6, 1, 0, 0, 0, false},
		{"every endpoint once even past MaxAttempts", 6, 8, 0, 0, 0, true},
		{"no MaxElapsed, no bound", 1, 1, time.Hour, 0, 50 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.wait(tt.made, tt.endpoints, tt.elapsed, tt.rnd)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("wait(%d, %d, %v, %v) = %v, %v, want %v, %v", tt.made, tt.endpoints, tt.elapsed, tt.rnd, got, ok, tt.want, tt.ok)
			}
		})
	}
	bounded := p
	bounded.MaxElapsed = 120 * time.Millisecond
	if _, ok := bounded.wait(1, 1, 100*time.Millisecond, 0); ok {
		t.Error("a wait that ends past MaxElapsed was allowed")
	}
	if _, ok := bounded.wait(1, 1, 60*time.Millisecond, 0); !ok {
		t.Error("a wait that ends within MaxElapsed was refused")
	}
	if _, ok := (RetryPolicy{}).wait(1, 1, 0, 0); ok {
		t.Error("the zero policy retried")
	}
}

func TestRetryable(t *testing.T) {
	for _, f := range []failure{failedUnsent, failedUnavailable, failedUnknown} {
		if !retryable(f, true) {
			t.Errorf("a read is not retried after failure %d", f)
		}
	}
	if !retryable(failedUnsent, false) || !retryable(failedUnavailable, false) {
		t.Error("a write that was not applied is not retried")
	}
	if retryable(failedUnknown, false) {
		t.Error("a write of unknown outcome is retried")
	}
}
