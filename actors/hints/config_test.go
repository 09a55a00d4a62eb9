package hints

import (
	"testing"
	"time"

	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/internal/hintq"
)

func TestFromConfig_FillsTheHandoffBounds(t *testing.T) {
	c := config.Default()
	c.Handoff.MaxHints, c.Handoff.MaxHintBytes, c.Handoff.DeliverInterval = 7, 1234, 3*time.Second
	got := FromConfig(c)
	if got.MaxHints != 7 || got.MaxBytes != 1234 || got.Interval != 3*time.Second {
		t.Errorf("FromConfig: max hints %d, max bytes %d, interval %v; want 7, 1234, 3s", got.MaxHints, got.MaxBytes, got.Interval)
	}
	if got.Engine != nil || got.Alive != nil || got.VnodePID != nil || got.Redirect != nil || got.Stats != nil || got.BatchSize != 0 {
		t.Errorf("FromConfig filled a runtime dependency or the batch size: %+v", got)
	}
}

// TestHintResults_SameLabels checks that every result the machine counts is
// recorded under the label dht_hints_total has always used for it.
func TestHintResults_SameLabels(t *testing.T) {
	for _, r := range []hintq.Result{hintq.ResultStored, hintq.ResultRefusedFull, hintq.ResultRefusedStorage, hintq.ResultDelivered} {
		m, ok := hintResults[r]
		if !ok || m.String() != string(r) {
			t.Errorf("result %q is counted as %q, want the same label", r, m)
		}
	}
}
