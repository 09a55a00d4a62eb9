package coordinator

import (
	"testing"

	"github.com/dhtkv/dht/config"
)

func TestFromConfig_Fields(t *testing.T) {
	for _, hints := range []bool{false, true} {
		c := config.Default()
		c.Handoff.Hints = hints
		got := FromConfig(c)
		if got.Hints != hints {
			t.Errorf("handoff.hints=%t: Hints = %t", hints, got.Hints)
		}
		if got.Router != nil || got.Metrics != nil || got.Dispatcher != nil || got.Logger != nil {
			t.Errorf("FromConfig filled a runtime dependency: %+v", got)
		}
	}
}
