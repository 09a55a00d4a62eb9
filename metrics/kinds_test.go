package metrics

import (
	"net/http"
	"testing"
	"time"
)

// TestKinds_LabelValues pins every typed kind to the label value dashboards
// and alerts already query: renaming one is a breaking change.
func TestKinds_LabelValues(t *testing.T) {
	tests := []struct {
		kind labeller
		want string
	}{
		{OpGet, "get"}, {OpPut, "put"}, {OpDelete, "delete"}, {OpOther, "other"},
		{VnodeGet, "get"}, {VnodePut, "put"}, {VnodeMerge, "merge"}, {VnodeMergeBatch, "merge_batch"},
		{VnodeReap, "reap"}, {VnodeHandoffPull, "handoff_pull"},
		{HintStored, "stored"}, {HintRefusedFull, "refused_full"}, {HintRefusedStorage, "refused_storage"}, {HintDelivered, "delivered"},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.want {
			t.Errorf("%T(%d).String() = %q, want %q", tt.kind, tt.kind, got, tt.want)
		}
	}
}

// labeller is any typed kind.
type labeller interface{ String() string }

func TestOpOfMethod_Table(t *testing.T) {
	for method, want := range map[string]Op{
		http.MethodGet: OpGet, http.MethodPut: OpPut, http.MethodDelete: OpDelete,
		http.MethodHead: OpGet, http.MethodPost: OpOther, "BREW": OpOther,
	} {
		if got := OpOfMethod(method); got != want {
			t.Errorf("OpOfMethod(%q) = %v, want %v", method, got, want)
		}
	}
}

// TestMetrics_Helpers checks that the typed helpers land on the same series
// as the label strings they replace.
func TestMetrics_Helpers(t *testing.T) {
	m := New()
	m.ObserveRequest(OpPut, 204, time.Millisecond)
	m.CountVnodeOp(VnodeMergeBatch, ResultOK)
	m.CountHint(HintRefusedFull)
	want := map[string]map[string]string{
		"dht_requests_total":           {"op": "put", "code": "204"},
		"dht_request_duration_seconds": {"op": "put"},
		"dht_vnode_operations_total":   {"kind": "merge_batch", "result": "ok"},
		"dht_hints_total":              {"result": "refused_full"},
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		labels, ok := want[f.GetName()]
		if !ok {
			continue
		}
		delete(want, f.GetName())
		if len(f.GetMetric()) != 1 {
			t.Errorf("%s has %d series, want 1", f.GetName(), len(f.GetMetric()))
			continue
		}
		got := map[string]string{}
		for _, l := range f.GetMetric()[0].GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				t.Errorf("%s{%s=%q}, want %q", f.GetName(), k, got[k], v)
			}
		}
	}
	for name := range want {
		t.Errorf("%s not gathered", name)
	}
}
