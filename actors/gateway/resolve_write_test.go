package gateway_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/dhtkv/dht/actors/gateway"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/resolve"
)

// TestGateway_ResolveOnWrite: with on_write the coordinating vnode stores
// the resolution, so the write itself reports one sibling and a read has
// nothing left to resolve; the write's context covers the resolution.
func TestGateway_ResolveOnWrite(t *testing.T) {
	t.Parallel()
	n, _ := startResolvingNode(t, func(c *config.Config) {
		c.Resolution.Buckets = "lww/=lww"
		c.Resolution.OnWrite = true
	}, nil)
	ctx := n.mustPut(t, "lww/k", "base", "")
	n.mustPut(t, "lww/k", "a", ctx)
	second := n.put(t, "lww/k", "b", ctx)
	if second.status != http.StatusNoContent || second.header.Get(gateway.SiblingsHeader) != "1" {
		t.Fatalf("second concurrent PUT = %d with %s %q, want 204 and 1 sibling stored",
			second.status, gateway.SiblingsHeader, second.header.Get(gateway.SiblingsHeader))
	}
	resp := n.get(t, "lww/k")
	if resp.status != http.StatusOK || (string(resp.body) != "a" && string(resp.body) != "b") || resp.header.Get(gateway.ResolvedByHeader) != "" {
		t.Fatalf("GET = %d %q resolved by %q, want a or b, stored resolved", resp.status, resp.body, resp.header.Get(gateway.ResolvedByHeader))
	}
	// The writer's own context covers the resolution: its next write
	// replaces it.
	n.mustPut(t, "lww/k", "c", second.header.Get(gateway.ContextHeader))
	n.wantValue(t, "lww/k", "c")

	// Outside the bucket writes keep their siblings.
	concurrentPair(t, n, "other", "a", "b")
	if values, _ := decodeSiblings(t, n.get(t, "other")); len(values) != 2 {
		t.Errorf("outside the lww bucket: %q, want both siblings", values)
	}
}

// TestGateway_FailingResolverOnWrite: the write is acknowledged, the
// siblings stay stored, and the failure is logged with key and bucket and
// counted on the write path.
func TestGateway_FailingResolverOnWrite(t *testing.T) {
	t.Parallel()
	panics := resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) { panic("boom") })
	n, logs := startResolvingNode(t, func(c *config.Config) {
		c.Resolution.Buckets = "p/=panics"
		c.Resolution.OnWrite = true
	}, map[string]resolve.Resolver{"panics": panics})
	ctx := n.mustPut(t, "p/k", "base", "")
	n.mustPut(t, "p/k", "a", ctx)
	second := n.put(t, "p/k", "b", ctx)
	if second.status != http.StatusNoContent || second.header.Get(gateway.SiblingsHeader) != "2" {
		t.Fatalf("second concurrent PUT = %d with %s %q, want 204 and both siblings stored",
			second.status, gateway.SiblingsHeader, second.header.Get(gateway.SiblingsHeader))
	}
	if len(logs.matching("ERROR", "resolver failed", "key=p/k", "bucket=p/", "resolver=panics", "reason=panic")) == 0 {
		t.Error("the failure on write was not logged with key, bucket, resolver and reason")
	}
	families, err := n.node.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := false
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if f.GetName() != "dht_resolver_failures_total" {
				continue
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == "path" && l.GetValue() == "write" && m.GetCounter().GetValue() >= 1 {
					counted = true
				}
			}
		}
	}
	if !counted {
		t.Error("no dht_resolver_failures_total on the write path")
	}
	values, _ := decodeSiblings(t, n.get(t, "p/k"))
	slices.Sort(values)
	if !slices.Equal(values, []string{"a", "b"}) {
		t.Errorf("stored siblings %q, want a and b", values)
	}
}
