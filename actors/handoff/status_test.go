package handoff

import (
	"log/slog"
	"testing"
	"time"

	"github.com/dhtkv/dht/internal/transfer"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestStatus_Behavior(t *testing.T) {
	var s Status
	if s.Checked() {
		t.Fatal("a new status is checked")
	}
	started := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.update(&transfer.Report{Version: 7, Settled: false, Pending: 3, Draining: 1, ETASeconds: 12,
		Active: []transfer.Progress{{Partition: 2, Kind: transfer.Receive, Peer: "b", Keys: 1, TotalKeys: 4, Bytes: 10, StartedAt: started}}})
	s.completed.Add(2)
	v := s.Snapshot()
	want := Progress{Partition: 2, Kind: "receive", Peer: "b", Keys: 1, TotalKeys: 4, Bytes: 10, StartedAt: started}
	if !s.Checked() || v.RingVersion != 7 || v.Pending != 3 || v.Draining != 1 || v.ETASeconds != 12 || v.Completed != 2 ||
		len(v.Active) != 1 || v.Active[0] != want {
		t.Errorf("snapshot %+v", v)
	}
	s.refresh([]transfer.Progress{{Partition: 2, Kind: transfer.Receive, Peer: "b", Keys: 3, TotalKeys: 4}})
	if v := s.Snapshot(); v.Active[0].Keys != 3 || v.Pending != 3 {
		t.Errorf("after refresh %+v, want 3 keys and the rest kept", v)
	}
	v = s.Snapshot()
	v.Active[0].Keys = 99
	if s.Snapshot().Active[0].Keys == 99 {
		t.Error("Snapshot shares its Active slice with the status")
	}
}
