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
