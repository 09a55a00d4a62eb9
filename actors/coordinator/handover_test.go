package coordinator

import (
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/metrics"
)

// TestCoordinator_LateCoordinatorHandsOver: the first owner, a, stores the
// write but answers late (a stopped node, continued later). With a
// coordinate timeout the write goes to b, with the same client context,
// and is answered without waiting for a; a's late coordination then lands
// too. Both carry the request's write id, so wherever they meet they are
// one sibling holding both dots (the lower one, the other as an alias): a
// read of all replicas returns the value once, nothing lost. Without the
// timeout the write waits for a.
//
// The deadline is long and the wait for a measured only against its delay
// (1.5s), far from the coordinate timeout (150ms), so a slow machine does
// not turn the outcome.
func TestCoordinator_LateCoordinatorHandsOver(t *testing.T) {
	const late = 1500 * time.Millisecond
	tests := []struct {
		name              string
		owners            []string
		coordinateTimeout time.Duration
		// bDelay delays b's answers: past the coordinate timeout, b is
		// late as well.
		bDelay time.Duration
		// notEveryMemberKeepsWriteIDs: the node's HandOverAllowed says no.
		notEveryMemberKeepsWriteIDs bool
		wantHandovers               float64
		// wantMinter is the dvv actor whose dot the answered object holds
		// (a 1, b 2, c 3); wantLanded those of every coordination, all
		// held by the one sibling read after.
		wantMinter dvv.Actor
		wantLanded []dvv.Actor
	}{
		{"handed to b, which answers first", []string{"a", "b", "c"}, 150 * time.Millisecond, 0, false, 1, 2, []dvv.Actor{1, 2}},
		// b is late too, and nobody is left: a's late object is the one
		// answered, and b's follows it, collapsing into it.
		{"handed to b, a answers first", []string{"a", "b"}, 150 * time.Millisecond, late + time.Second, false, 1, 1, []dvv.Actor{1, 2}},
		// Each handover adds a dot to the one sibling.
		{"b late too: handed on to c", []string{"a", "b", "c"}, 150 * time.Millisecond, late, false, 2, 3, []dvv.Actor{1, 2, 3}},
		{"no coordinate timeout: the write waits for a", []string{"a", "b", "c"}, 0, 0, false, 0, 1, []dvv.Actor{1}},
		// A member of an earlier release would strip the write id: the
		// node allows no handover meanwhile.
		{"a member without write ids: the write waits for a", []string{"a", "b", "c"}, 150 * time.Millisecond, 0, true, 0, 1, []dvv.Actor{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &fakeReplica{actorID: 1, putDelay: late}
			b := &fakeReplica{actorID: 2, putDelay: tt.bDelay}
			c := &fakeReplica{actorID: 3}
			cl := newCluster(t, map[string]*fakeReplica{"a": a, "b": b, "c": c})
			cl.route = Route{Targets: primaries(tt.owners...)}
			cl.coordinateTimeout, cl.metrics = tt.coordinateTimeout, metrics.New()
			cl.handOverAllowed = func() bool { return !tt.notEveryMemberKeepsWriteIDs }
			req := putRequest("v", 2)
			req.Deadline = time.Now().Add(10 * time.Second)

			began := time.Now()
			reply, pid := cl.run(req, true)
			took := time.Since(began)
			if reply.Err != nil {
				t.Fatalf("put failed after %v: %v", took, reply.Err)
			}
			live := reply.Object.Live()
			if len(live) != 1 || string(live[0].Value) != "v" || live[0].Dot.Actor != tt.wantMinter {
				t.Fatalf("answered %+v, want the one value minted by actor %d", reply.Object, tt.wantMinter)
			}
			waited := took >= late
			if wantWait := tt.wantMinter == 1; waited != wantWait {
				t.Errorf("answered after %v; waited for the late coordinator (%v): %t, want %t", took, late, waited, wantWait)
			}
			if got := counter(t, cl.metrics.CoordinatorHandovers); got != tt.wantHandovers {
				t.Errorf("dht_coordinator_handovers_total = %v, want %v", got, tt.wantHandovers)
			}

			// Every late answer is in (or given up on): read all three.
			cl.awaitForgotten(pid)
			read, _ := cl.run(Request{Op: OpGet, Key: []byte("k"), Params: quorum.Params{N: 3, R: len(tt.owners)}}, false)
			if read.Err != nil {
				t.Fatalf("read of all replicas: %v", read.Err)
			}
			// Every coordination landed, as one sibling of the value.
			live = read.Object.Live()
			if len(live) != 1 || string(live[0].Value) != "v" {
				t.Fatalf("read %+v, want the written value once", read.Object)
			}
			var landed []dvv.Actor
			for _, d := range append([]dvv.Dot{live[0].Dot}, live[0].Aliases...) {
				landed = append(landed, d.Actor)
			}
			if !slices.Equal(landed, tt.wantLanded) {
				t.Errorf("the sibling holds dots of %v, want %v: %+v", landed, tt.wantLanded, read.Object)
			}
			// A write handed over is marked so, for its ghost's cap.
			if got, want := live[0].HandedOver, tt.wantHandovers > 0; got != want {
				t.Errorf("the sibling's HandedOver = %t, want %t (handovers %v)", got, want, tt.wantHandovers)
			}
			// The answered dot is among them: nothing acknowledged is lost.
			if !slices.Contains(landed, tt.wantMinter) {
				t.Errorf("the acknowledged write (actor %d) is gone: %+v", tt.wantMinter, read.Object)
			}
		})
	}
}

// counter reads a counter's value.
func counter(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
