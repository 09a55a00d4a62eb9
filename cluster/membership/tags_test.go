package membership

import (
	"testing"

	"github.com/hashicorp/serf/serf"
)

// TestTags_AnnounceCapabilities: this release announces that it keeps
// write ids and knows the settled register, and a peer reads both back; a
// member without a tag (an earlier release) reads as lacking it.
func TestTags_AnnounceCapabilities(t *testing.T) {
	self := Member{ID: "a", Cluster: "c", Partitions: 64, N: 3}
	if got := fromSerf(serf.Member{Name: "a", Tags: tags(self), Status: serf.StatusAlive}); !got.WriteIDs || !got.SettlesHandoffs || !got.CompactsRing {
		t.Fatalf("own tags read back as %+v, want WriteIDs, SettlesHandoffs and CompactsRing", got)
	}
	old := tags(self)
	delete(old, tagWriteIDs)
	delete(old, tagSettlesHandoffs)
	delete(old, tagCompactsRing)
	if got := fromSerf(serf.Member{Name: "b", Tags: old, Status: serf.StatusAlive}); got.WriteIDs || got.SettlesHandoffs || got.CompactsRing {
		t.Fatalf("a member without the tags reads as having the capabilities: %+v", got)
	}
}

// TestTags_ResizesRingAtTheRebalanceLevel: a node that applies resizes
// announces it and a peer reads it back; a member announcing the level
// before resizes carried a rebalance ("1") reads as not resizing, since it
// would ignore the rebalance and compute another table, and so does a
// member without the tag.
func TestTags_ResizesRingAtTheRebalanceLevel(t *testing.T) {
	self := Member{ID: "a", Cluster: "c", Partitions: 64, N: 3, ResizesRing: true}
	if got := fromSerf(serf.Member{Name: "a", Tags: tags(self), Status: serf.StatusAlive}); !got.ResizesRing {
		t.Fatalf("own tags read back as %+v, want ResizesRing", got)
	}
	for _, level := range []string{"1", ""} {
		older := tags(self)
		if level == "" {
			delete(older, tagResizesRing)
		} else {
			older[tagResizesRing] = level
		}
		if got := fromSerf(serf.Member{Name: "b", Tags: older, Status: serf.StatusAlive}); got.ResizesRing {
			t.Fatalf("a member announcing rz=%q reads as resizing the ring", level)
		}
	}
}
