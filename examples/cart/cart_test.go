package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/actors/node"
	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/resolve"
)

// startCart starts the example's node with cfg adjusted by mutate and the
// given resolvers, stopped when the test ends.
func startCart(t *testing.T, mutate func(*config.Config), resolvers map[string]resolve.Resolver) (*node.Node, *client.Client) {
	t.Helper()
	cfg := Config(t.TempDir())
	mutate(&cfg)
	n, c, err := Start(cfg, resolvers, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return n, c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// concurrentAdditions writes a cart holding base, then has two clients
// that both read it add one item each, with the same context. It returns
// what each of the two clients wrote.
func concurrentAdditions(t *testing.T, c *client.Client, key string, base []string, a, b string) (Cart, Cart) {
	t.Helper()
	ctx := testContext(t)
	if err := Add(ctx, c, key, Cart{Items: base[:len(base)-1]}, "", base[len(base)-1]); err != nil {
		t.Fatal(err)
	}
	seen, obj, err := Read(ctx, c, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range []string{a, b} {
		if err := Add(ctx, c, key, seen, obj.Context, item); err != nil {
			t.Fatalf("adding %s: %v", item, err)
		}
	}
	return Cart{Items: append(slices.Clone(seen.Items), a)}, Cart{Items: append(slices.Clone(seen.Items), b)}
}

// union is the test's own model of what merging carts must give.
func union(carts ...Cart) []string {
	set := map[string]bool{}
	for _, c := range carts {
		for _, item := range c.Items {
			set[item] = true
		}
	}
	var out []string
	for item := range set {
		out = append(out, item)
	}
	slices.Sort(out)
	return out
}

func sorted(items []string) []string {
	out := slices.Clone(items)
	slices.Sort(out)
	return out
}

// storedSiblings tells how many siblings key holds, bypassing read-time
// resolution: a blind write adds one sibling and reports the count. (With
// on_write that write would be resolved itself, so it serves on read only.)
func storedSiblings(t *testing.T, c *client.Client, key string) int {
	t.Helper()
	res, err := c.Put(testContext(t), key, []byte(`{"items":[]}`), &client.WriteOptions{ContentType: contentType})
	if err != nil {
		t.Fatal(err)
	}
	return res.Siblings - 1
}

func TestCart_ConcurrentAdditionsSurvive(t *testing.T) {
	for _, onWrite := range []bool{false, true} {
		t.Run(map[bool]string{false: "resolved on read", true: "resolved on write"}[onWrite], func(t *testing.T) {
			_, c := startCart(t, func(cfg *config.Config) { cfg.Resolution.OnWrite = onWrite }, Resolvers)
			const key = "carts/alice"
			a, b := concurrentAdditions(t, c, key, []string{"bread"}, "milk", "eggs")

			ctx := testContext(t)
			cart, obj, err := Read(ctx, c, key)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if got, want := sorted(cart.Items), union(a, b); !slices.Equal(got, want) {
				t.Fatalf("cart = %q, want the union of both additions %q", got, want)
			}
			if onWrite {
				// The resolution was stored at the write: there is nothing
				// left to resolve on read.
				if obj.ResolvedBy != "" {
					t.Errorf("resolved on read by %q, but on_write stored the resolution already", obj.ResolvedBy)
				}
			} else if obj.ResolvedBy != "cart" {
				t.Errorf("resolved by %q, want cart", obj.ResolvedBy)
			}

			// Writing with the merged read's context supersedes every
			// sibling it covered.
			if err := Add(ctx, c, key, cart, obj.Context, "tea"); err != nil {
				t.Fatal(err)
			}
			final, obj, err := Read(ctx, c, key)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := sorted(final.Items), union(a, b, Cart{Items: []string{"tea"}}); !slices.Equal(got, want) || obj.ResolvedBy != "" {
				t.Errorf("after the write-back: %q (resolved by %q), want %q as one value", got, obj.ResolvedBy, want)
			}
		})
	}
}

// TestCart_OtherKeysKeepSiblings: the resolver applies to its bucket only;
// elsewhere the client still gets every sibling.
func TestCart_OtherKeysKeepSiblings(t *testing.T) {
	_, c := startCart(t, func(*config.Config) {}, Resolvers)
	concurrentAdditions(t, c, "wishlists/alice", []string{"bread"}, "milk", "eggs")
	_, obj, err := Read(testContext(t), c, "wishlists/alice")
	var u *UnresolvedError
	if !errors.As(err, &u) || u.Siblings != 2 || obj.ResolvedBy != "" {
		t.Fatalf("err = %v, want both siblings unresolved outside carts/", err)
	}
}

// TestLWW_DropsAConcurrentAddition documents why lww is lossy: of two
// concurrent additions only one survives. On read the loss is in what the
// client sees (storage still holds both); with on_write it is stored.
func TestLWW_DropsAConcurrentAddition(t *testing.T) {
	for _, onWrite := range []bool{false, true} {
		t.Run(map[bool]string{false: "on read", true: "on write"}[onWrite], func(t *testing.T) {
			_, c := startCart(t, func(cfg *config.Config) {
				cfg.Resolution.Buckets = "carts/=lww"
				cfg.Resolution.OnWrite = onWrite
			}, nil)
			const key = "carts/bob"
			a, b := concurrentAdditions(t, c, key, []string{"bread"}, "milk", "eggs")

			cart, obj, err := Read(testContext(t), c, key)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			got := sorted(cart.Items)
			if !slices.Equal(got, sorted(a.Items)) && !slices.Equal(got, sorted(b.Items)) {
				t.Fatalf("cart = %q, want exactly one client's cart: %q or %q", got, a.Items, b.Items)
			}
			if slices.Equal(got, union(a, b)) {
				t.Fatalf("lww kept both additions: %q", got)
			}
			dropped := "milk"
			if !slices.Contains(got, "eggs") {
				dropped = "eggs"
			}
			t.Logf("lww kept %q and dropped %q", got, dropped)

			if onWrite {
				// The resolution was stored at the second write: the read
				// found one value and had nothing to resolve, so the dropped
				// addition is gone from storage too.
				if obj.ResolvedBy != "" {
					t.Errorf("resolved on read by %q: with on_write storage should hold lww's choice alone", obj.ResolvedBy)
				}
			} else {
				if obj.ResolvedBy != "lww" {
					t.Errorf("resolved by %q, want lww", obj.ResolvedBy)
				}
				if n := storedSiblings(t, c, key); n != 2 {
					t.Errorf("a read changed storage: %d siblings, want both still stored", n)
				}
			}
		})
	}
}

// TestResolverFailures_LoseNothing: resolvers that panic or return garbage
// never cost a write. The read answers with every sibling and says why in
// X-Dht-Resolver-Error; with on_write the writes are acknowledged and the
// siblings stay stored. The client can then merge them itself.
func TestResolverFailures_LoseNothing(t *testing.T) {
	const maxValue = 4096
	failing := map[string]struct {
		r      resolve.Resolver
		reason string
	}{
		"panics": {resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) {
			var carts map[string]Cart
			carts["x"] = Cart{} // a nil-map write: a real bug, not a staged panic message
			return resolve.Resolution{}, nil
		}), resolve.ReasonPanic},
		"oversized": {resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) {
			return resolve.Resolution{Value: make([]byte, maxValue+1), ContentType: contentType}, nil
		}), resolve.ReasonInvalid},
		"bad-content-type": {resolve.Func(func(_ []byte, sibs []resolve.Sibling) (resolve.Resolution, error) {
			return resolve.Resolution{Value: sibs[0].Value, ContentType: "cart; ;"}, nil
		}), resolve.ReasonInvalid},
		"errs": {resolve.Func(func([]byte, []resolve.Sibling) (resolve.Resolution, error) {
			return resolve.Resolution{}, errors.New("cart service unavailable")
		}), resolve.ReasonError},
	}
	for name, f := range failing {
		for _, onWrite := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/on read", true: "/on write"}[onWrite], func(t *testing.T) {
				n, c := startCart(t, func(cfg *config.Config) {
					cfg.Limits.MaxValueBytes = maxValue
					cfg.Resolution.Buckets = "carts/=" + name
					cfg.Resolution.OnWrite = onWrite
				}, map[string]resolve.Resolver{name: f.r})
				const key = "carts/carol"
				a, b := concurrentAdditions(t, c, key, []string{"bread"}, "milk", "eggs")

				if onWrite {
					// The resolver did run at the second write, and failed.
					if got := failures(t, n, name, "write"); got < 1 {
						t.Errorf("%s failed on write %v times, want at least once", name, got)
					}
				}

				ctx := testContext(t)
				_, obj, err := Read(ctx, c, key)
				var u *UnresolvedError
				if !errors.As(err, &u) {
					t.Fatalf("read: err = %v, want the siblings unresolved", err)
				}
				for _, want := range []string{`resolver "` + name + `"`, `bucket "carts/"`, f.reason} {
					if !strings.Contains(obj.ResolverError, want) {
						t.Errorf("X-Dht-Resolver-Error %q lacks %q", obj.ResolverError, want)
					}
				}
				// Both clients' carts are there, exactly as written.
				var got [][]string
				for _, s := range obj.Siblings {
					var cart Cart
					if err := json.Unmarshal(s.Value, &cart); err != nil {
						t.Fatalf("sibling %q is not a cart: %v", s.Value, err)
					}
					got = append(got, cart.Items)
				}
				slices.SortFunc(got, func(x, y []string) int { return strings.Compare(strings.Join(x, ","), strings.Join(y, ",")) })
				want := [][]string{a.Items, b.Items}
				slices.SortFunc(want, func(x, y []string) int { return strings.Compare(strings.Join(x, ","), strings.Join(y, ",")) })
				if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
					t.Fatalf("siblings %q, want %q", got, want)
				}

				// The client resolves them itself, with the context of the
				// 300, and the cart is whole.
				merged, err := Union([]byte(key), toResolve(obj.Siblings))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Put(ctx, key, merged.Value, &client.WriteOptions{Context: obj.Context, ContentType: contentType}); err != nil {
					t.Fatal(err)
				}
				cart, _, err := Read(ctx, c, key)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := sorted(cart.Items), union(a, b); !slices.Equal(g, w) {
					t.Errorf("after the client's merge: %q, want %q", g, w)
				}
			})
		}
	}
}

// failures reads dht_resolver_failures_total for resolver on path (read or
// write) from the node's registry.
func failures(t *testing.T, n *node.Node, resolver, path string) float64 {
	t.Helper()
	families, err := n.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, f := range families {
		if f.GetName() != "dht_resolver_failures_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["resolver"] == resolver && labels["path"] == path {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func toResolve(sibs []client.Sibling) []resolve.Sibling {
	out := make([]resolve.Sibling, len(sibs))
	for i, s := range sibs {
		out[i] = resolve.Sibling{Value: s.Value, ContentType: s.ContentType, Timestamp: s.Timestamp}
	}
	return out
}

// TestUnion is the resolver on its own: order does not matter, duplicates
// collapse, and a sibling that is not a cart is an error.
func TestUnion(t *testing.T) {
	s := func(items ...string) resolve.Sibling {
		b, _ := json.Marshal(Cart{Items: items})
		return resolve.Sibling{Value: b, ContentType: contentType}
	}
	tests := []struct {
		name string
		in   []resolve.Sibling
		want []string
	}{
		{"disjoint", []resolve.Sibling{s("milk"), s("eggs")}, []string{"eggs", "milk"}},
		{"overlapping", []resolve.Sibling{s("bread", "milk"), s("bread", "eggs"), s("eggs")}, []string{"bread", "eggs", "milk"}},
		{"empty carts", []resolve.Sibling{s(), s()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reversed := slices.Clone(tt.in)
			slices.Reverse(reversed)
			for _, order := range [][]resolve.Sibling{tt.in, reversed} {
				res, err := Union(nil, order)
				if err != nil {
					t.Fatal(err)
				}
				var c Cart
				if err := json.Unmarshal(res.Value, &c); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(c.Items, tt.want) || res.ContentType != contentType {
					t.Errorf("Union = %q (%s), want %q", c.Items, res.ContentType, tt.want)
				}
			}
		})
	}
	if _, err := Union(nil, []resolve.Sibling{s("milk"), {Value: []byte("not json")}}); err == nil {
		t.Error("Union accepted a sibling that is not a cart")
	}
}
