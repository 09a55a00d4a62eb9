package entropy

import (
	"testing"
	"time"

	"github.com/dhtkv/dht/config"
)

func TestFromConfig_FillsWhatTheConfigDecides(t *testing.T) {
	tests := []struct {
		name        string
		interval    time.Duration
		wantTimeout time.Duration
	}{
		{"a short interval keeps the 30 s floor", time.Second, 30 * time.Second},
		{"a long interval gives three of them", 20 * time.Second, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			c.Node.ID = "n1"
			c.Entropy.Interval = tc.interval
			c.Entropy.MaxKeysPerExchange = 77
			c.Entropy.SweepInterval = 20 * time.Minute
			c.Entropy.TombstoneGrace = 5 * time.Hour
			got := FromConfig(c)
			if got.Self != "n1" || got.Interval != tc.interval || got.SweepInterval != 20*time.Minute || got.MaxKeys != 77 ||
				got.Timeout != tc.wantTimeout || got.Grace != 5*time.Hour {
				t.Fatalf("FromConfig = %+v", got)
			}
			if got.View != nil || got.VnodePID != nil || got.HintsPID != nil || got.Metrics != nil ||
				got.Now != nil || got.OnRepair != nil || got.Logger != nil {
				t.Fatal("FromConfig filled a runtime dependency, which is the node's to fill")
			}
		})
	}
}

func TestRoundTimeout_FitsTheSweep(t *testing.T) {
	for _, tc := range []struct{ interval, sweep, want time.Duration }{
		{200 * time.Millisecond, 10 * time.Minute, 30 * time.Second},
		{20 * time.Second, time.Hour, time.Minute},
		{10 * time.Millisecond, 4 * time.Second, time.Second},
		{time.Second, 4 * time.Second, 3 * time.Second},
		{time.Second, 0, 30 * time.Second},
	} {
		if got := roundTimeout(tc.interval, tc.sweep); got != tc.want {
			t.Errorf("roundTimeout(%v, %v) = %v, want %v", tc.interval, tc.sweep, got, tc.want)
		}
	}
}

func TestMachineConfig_CarriesTheDecidingFields(t *testing.T) {
	cfg := Config{Self: "a", MaxKeys: 5, Timeout: time.Minute, Grace: time.Hour,
		Interval: 200 * time.Millisecond, SweepInterval: 10 * time.Minute}
	m := machineConfig(cfg)
	if m.Self != "a" || m.MaxKeys != 5 || m.Timeout != time.Minute || m.Grace != time.Hour || m.MergeSize == nil ||
		m.SweepInterval != 10*time.Minute || m.MinGap != 200*time.Millisecond {
		t.Fatalf("machineConfig = %+v", m)
	}
	// A failing peer backs off from a second, up to a quarter sweep.
	if m.RetryMin != time.Second || m.RetryMax != 150*time.Second {
		t.Fatalf("backoff %v..%v, want 1s..2m30s", m.RetryMin, m.RetryMax)
	}
}
