package membership

import (
	"testing"

	"github.com/hashicorp/serf/serf"
)

// TestTags_AnnounceWriteIDs: this release announces that it keeps write
// ids, and a peer reads it back; a member without the tag (an earlier
// release) reads as not keeping them.
func TestTags_AnnounceWriteIDs(t *testing.T) {
	self := Member{ID: "a", Cluster: "c", Partitions: 64, N: 3}
	if got := fromSerf(serf.Member{Name: "a", Tags: tags(self), Status: serf.StatusAlive}); !got.WriteIDs {
		t.Fatalf("own tags read back as %+v, want WriteIDs", got)
	}
	old := tags(self)
	delete(old, tagWriteIDs)
	if got := fromSerf(serf.Member{Name: "b", Tags: old, Status: serf.StatusAlive}); got.WriteIDs {
		t.Fatalf("a member without the tag reads as keeping write ids: %+v", got)
	}
}
