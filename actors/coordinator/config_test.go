package coordinator

import (
	"testing"
	"time"

	"github.com/dhtkv/dht/config"
)

func TestFromConfig_Fields(t *testing.T) {
	for _, hints := range []bool{false, true} {
		c := config.Default()
		c.Handoff.Hints = hints
		c.Replication.CoordinateTimeout = 1234 * time.Millisecond
		got := FromConfig(c)
		if got.Hints != hints {
			t.Errorf("handoff.hints=%t: Hints = %t", hints, got.Hints)
		}
		if got.CoordinateTimeout != c.Replication.CoordinateTimeout {
			t.Errorf("replication.coordinate_timeout=%s: CoordinateTimeout = %s", c.Replication.CoordinateTimeout, got.CoordinateTimeout)
		}
		if got.Router != nil || got.Metrics != nil || got.Dispatcher != nil || got.Logger != nil {
			t.Errorf("FromConfig filled a runtime dependency: %+v", got)
		}
	}
}
