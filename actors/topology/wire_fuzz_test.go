package topology

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/messages"
)

// FuzzRingStateWithBase: a ring state from a peer, base included, either
// fails to decode or replays without a panic: its plan, and its plan
// after a member leaves and another joins (which is when a base that
// broke claim's invariants would trip its checks), and once resized.
func FuzzRingStateWithBase(f *testing.F) {
	const q, n = 16, 3
	var s ring.State
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		s = s.Join(ring.Member{ID: id, Zone: fmt.Sprintf("z%d", i%3)})
	}
	s = settleAll(q, n, settleAll(q, n, s).Remove("d")).SettleHandoffs().Compact(q, n)
	seed, err := proto.Marshal(stateToProto(Config{Cluster: "c", Partitions: q, N: n}, s))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	resized, err := s.Resize(q, n, 2*q)
	if err != nil {
		f.Fatal(err)
	}
	seed, err = proto.Marshal(stateToProto(Config{Cluster: "c", Partitions: q, N: n}, resized.Join(ring.Member{ID: "f", Zone: "z1"})))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, raw []byte) {
		watchdog := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("slow input: %x", raw)) })
		defer watchdog.Stop()
		var rs messages.RingState
		if proto.Unmarshal(raw, &rs) != nil {
			return
		}
		got, err := stateFromProto(&rs)
		if err != nil {
			return
		}
		pq, pn := int(rs.GetPartitions()), int(rs.GetN())
		if ring.ValidatePartitions(pq) != nil || pq > 64 || pn < 1 || pn > 5 {
			return // the node refuses a ring of another shape first
		}
		ring.NewPlan(pq, pn, got)
		if owners := got.Owners(); len(owners) > 0 {
			ring.NewPlan(pq, pn, got.Remove(owners[0].ID).Join(ring.Member{ID: "newcomer", Zone: "z9"}))
		}
		if r, err := got.SettleHandoffs().Resize(pq, pn, 2*got.Partitions(pq)); err == nil {
			ring.NewPlan(pq, pn, r.Join(ring.Member{ID: "newcomer", Zone: "z9"}))
		}
	})
}
