package metrics

import (
	"testing"

	"github.com/dhtkv/dht/buildinfo"
)

func TestNew_BuildInfo(t *testing.T) {
	m := New()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := buildinfo.Read()
	for _, f := range families {
		if f.GetName() != "dht_build_info" {
			continue
		}
		if len(f.GetMetric()) != 1 {
			t.Fatalf("dht_build_info has %d series, want 1", len(f.GetMetric()))
		}
		s := f.GetMetric()[0]
		if v := s.GetGauge().GetValue(); v != 1 {
			t.Fatalf("dht_build_info = %v, want 1", v)
		}
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["version"] != want.Version || labels["commit"] != want.Commit || labels["goversion"] != want.GoVersion {
			t.Fatalf("labels %v, want %+v", labels, want)
		}
		return
	}
	t.Fatal("no dht_build_info in the registry")
}
