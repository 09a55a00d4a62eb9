package harness

import (
	"strings"
	"testing"
)

// TestDecodeHandoffWork_MissingRebuildingReadsAsZero: a dhtd that does not
// report handoff.rebuilding (one from before rebuilds) reads as nothing
// rebuilding, and one that does is read; only a node with nothing pending,
// nothing rebuilding and the handoffs settled is idle.
func TestDecodeHandoffWork_MissingRebuildingReadsAsZero(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want HandoffWork
		idle bool
	}{
		{"no rebuilding field", `{"node":"n1","handoff":{"pending":0,"draining":0,"settled":true},"merkle_roots":{"3":11}}`,
			HandoffWork{Settled: true}, true},
		{"rebuilding", `{"handoff":{"pending":7,"rebuilding":5,"settled":false}}`,
			HandoffWork{Pending: 7, Rebuilding: 5}, false},
		{"rebuilding alone", `{"handoff":{"pending":0,"rebuilding":1,"settled":true}}`,
			HandoffWork{Rebuilding: 1, Settled: true}, false},
		{"pending alone", `{"handoff":{"pending":2,"settled":true}}`,
			HandoffWork{Pending: 2, Settled: true}, false},
		{"not settled", `{"handoff":{"pending":0,"rebuilding":0,"settled":false}}`,
			HandoffWork{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeHandoffWork(strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || got.Idle() != tc.idle {
				t.Fatalf("decoded %+v (idle %v), want %+v (idle %v)", got, got.Idle(), tc.want, tc.idle)
			}
		})
	}
	if _, err := decodeHandoffWork(strings.NewReader(`{"handoff":`)); err == nil {
		t.Fatal("a cut body decoded without error")
	}
}
