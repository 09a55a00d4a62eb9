package replica

import (
	"fmt"
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
)

func setOf(value string) dvv.Set {
	return dvv.Set{Siblings: []dvv.Sibling{{Value: []byte(value), Dot: dvv.Dot{Actor: 1, Counter: 1}}}}
}

func cachedValue(t *testing.T, c *objectCache, key string) (string, bool) {
	t.Helper()
	e, ok := c.get([]byte(key))
	if !ok {
		return "", false
	}
	return string(e.set.Siblings[0].Value), true
}

func TestObjectCache_EvictsLeastRecentlyUsed(t *testing.T) {
	const stored = 100
	entry := len("k0") + stored + entryOverhead
	c := newObjectCache(3 * entry)
	for i := range 3 {
		c.put(fmt.Appendf(nil, "k%d", i), setOf(fmt.Sprint(i)), uint64(i), stored)
	}
	// Touch k0, so k1 is now the least recently used.
	if _, ok := cachedValue(t, c, "k0"); !ok {
		t.Fatal("k0 not cached")
	}
	c.put([]byte("k3"), setOf("3"), 3, stored)
	if _, ok := cachedValue(t, c, "k1"); ok {
		t.Error("k1, the least recently used, survived a put over the budget")
	}
	for _, k := range []string{"k0", "k2", "k3"} {
		if _, ok := cachedValue(t, c, k); !ok {
			t.Errorf("%s evicted, want it kept", k)
		}
	}
	if c.used > c.budget {
		t.Errorf("used %d bytes of a %d budget", c.used, c.budget)
	}
}

func TestObjectCache_ReplaceRemoveClear(t *testing.T) {
	c := newObjectCache(1 << 20)
	c.put([]byte("k"), setOf("old"), 1, 10)
	c.put([]byte("k"), setOf("new"), 2, 20)
	if v, _ := cachedValue(t, c, "k"); v != "new" {
		t.Fatalf("after a second put the cache holds %q, want %q", v, "new")
	}
	if e, _ := c.get([]byte("k")); e.hash != 2 {
		t.Errorf("hash = %d, want the second put's 2", e.hash)
	}
	if want := len("k") + 20 + entryOverhead; c.used != want {
		t.Errorf("used = %d after replacing, want %d (the old entry's size released)", c.used, want)
	}
	c.remove([]byte("k"))
	if _, ok := c.get([]byte("k")); ok || c.used != 0 {
		t.Errorf("after remove: cached %v, used %d", ok, c.used)
	}
	c.put([]byte("a"), setOf("a"), 1, 10)
	c.put([]byte("b"), setOf("b"), 1, 10)
	c.clear()
	if c.len() != 0 || c.used != 0 {
		t.Errorf("after clear: %d entries, %d bytes", c.len(), c.used)
	}
}

func TestObjectCache_SkipsObjectsOverBudget(t *testing.T) {
	c := newObjectCache(1000)
	c.put([]byte("big"), setOf("x"), 1, 5000)
	if c.len() != 0 || c.used != 0 {
		t.Fatalf("an object over the whole budget was cached: %d entries, %d bytes", c.len(), c.used)
	}
}

// A nil cache (disabled) is a no-op, so the machine needs no checks.
func TestObjectCache_NilIsDisabled(t *testing.T) {
	var c *objectCache
	c.put([]byte("k"), setOf("v"), 1, 10)
	if _, ok := c.get([]byte("k")); ok {
		t.Fatal("a nil cache returned an entry")
	}
	c.remove([]byte("k"))
	c.clear()
}
