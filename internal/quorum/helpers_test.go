package quorum_test

import (
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
)

// primary and fallback build targets.
func primary(node string) quorum.Target  { return quorum.Target{Node: node, Primary: true} }
func fallback(node string) quorum.Target { return quorum.Target{Node: node, Primary: false} }

// rebuilding builds a primary that lost its data and receives it again.
func rebuilding(node string) quorum.Target {
	return quorum.Target{Node: node, Primary: true, WriteOnly: true}
}

// history is a small causal history of one key, built with dvv's own Update
// and Merge so that every value is a valid Set:
//
//	v1 ── v2 (a:2)
//	  └── v3 (b:1), concurrent with v2
//	v23 = merge(v2, v3): two siblings
//	v4 supersedes both (written with v23's context)
type history struct {
	empty, v1, v2, v3, v23, v4 dvv.Set
}

func sibling(v string) dvv.Sibling {
	return dvv.Sibling{Value: []byte(v), ContentType: "text/plain", Timestamp: 1}
}

func mustUpdate(t testing.TB, s dvv.Set, ctx dvv.VersionVector, v string, d dvv.Dot) dvv.Set {
	t.Helper()
	out, err := s.Update(ctx, sibling(v), d, 0)
	if err != nil {
		t.Fatalf("Update(%v): %v", d, err)
	}
	if err := out.Validate(); err != nil {
		t.Fatalf("Update(%v) built an invalid set: %v", d, err)
	}
	return out
}

func newHistory(t testing.TB) history {
	t.Helper()
	const a, b = dvv.Actor(1), dvv.Actor(2)
	var h history
	h.v1 = mustUpdate(t, h.empty, nil, "v1", dvv.Dot{Actor: a, Counter: 1})
	h.v2 = mustUpdate(t, h.v1, h.v1.Context, "v2", dvv.Dot{Actor: a, Counter: 2})
	h.v3 = mustUpdate(t, h.v1, h.v1.Context, "v3", dvv.Dot{Actor: b, Counter: 1})
	h.v23 = dvv.Merge(h.v2, h.v3)
	if len(h.v23.Siblings) != 2 {
		t.Fatalf("history: merge of concurrent writes has %d siblings, want 2", len(h.v23.Siblings))
	}
	h.v4 = mustUpdate(t, h.v23, h.v23.Context, "v4", dvv.Dot{Actor: a, Counter: 3})
	return h
}

// all returns every version, the empty one first.
func (h history) all() []dvv.Set { return []dvv.Set{h.empty, h.v1, h.v2, h.v3, h.v23, h.v4} }

func nodes(ts []quorum.Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Node
	}
	return out
}
