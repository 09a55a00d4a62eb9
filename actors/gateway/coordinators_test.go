package gateway

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/test/testutil"
)

// TestGateway_ReplacesAStoppedCoordinator: a coordinator that stops while
// the gateway runs (its supervisor gave up on it) is replaced by a new one
// in the same place, so that requests handed to that place are answered
// rather than left to their deadline in dead letters.
func TestGateway_ReplacesAStoppedCoordinator(t *testing.T) {
	g, _ := startGateway(t, Config{Events: testBus()})
	var before []*actor.PID
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if p := g.coordinators.Load(); p != nil {
			before = *p
			return nil
		}
		return errors.New("the gateway has not started its coordinators")
	})
	if len(before) == 0 {
		t.Fatal("no coordinators")
	}
	stopped := before[len(before)/2]
	if err := g.root.StopFuture(stopped).Wait(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		after := *g.coordinators.Load()
		switch {
		case len(after) != len(before):
			return fmt.Errorf("%d coordinators, want %d", len(after), len(before))
		case slices.ContainsFunc(after, stopped.Equal):
			return fmt.Errorf("the stopped coordinator %s is still in the list", stopped)
		}
		replacement := after[len(before)/2]
		if _, alive := g.root.ActorSystem().ProcessRegistry.GetLocal(replacement.Id); !alive {
			return fmt.Errorf("the replacement %s is not running", replacement)
		}
		return nil
	})
}
