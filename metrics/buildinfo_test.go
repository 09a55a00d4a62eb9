package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/dhtkv/dht/buildinfo"
)

func TestNew_BuildInfo(t *testing.T) {
	m := New()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := buildinfo.Read()
	for _, f := range families {
		if f.GetName() != "dht_build_info" {
			continue
		}
		if len(f.GetMetric()) != 1 {
			t.Fatalf("dht_build_info has %d series, want 1", len(f.GetMetric()))
		}
		s := f.GetMetric()[0]
		if v := s.GetGauge().GetValue(); v != 1 {
			t.Fatalf("dht_build_info = %v, want 1", v)
		}
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["version"] != want.Version || labels["commit"] != want.Commit || labels["goversion"] != want.GoVersion {
			t.Fatalf("labels %v, want %+v", labels, want)
		}
		return
	}
	t.Fatal("no dht_build_info in the registry")
}

// TestLatencyBuckets: the top bucket reaches the request timeout, so a
// request answered at the timeout lands in a bucket, not in +Inf.
func TestLatencyBuckets(t *testing.T) {
	for _, tc := range []struct {
		ceiling time.Duration
		top     float64
	}{
		{5 * time.Second, 6.5536},
		{8 * time.Second, 13.1072},
		{100 * time.Millisecond, 1.6384}, // at least 1s
	} {
		b := LatencyBuckets(tc.ceiling)
		if got := b[len(b)-1]; math.Abs(got-tc.top) > 1e-9 || b[len(b)-2] >= tc.ceiling.Seconds() && tc.ceiling >= time.Second {
			t.Errorf("LatencyBuckets(%v) tops at %v (below it %v), want %v", tc.ceiling, got, b[len(b)-2], tc.top)
		}
		if b[0] != 0.0001 {
			t.Errorf("LatencyBuckets(%v) starts at %v, want 100µs", tc.ceiling, b[0])
		}
	}
}
