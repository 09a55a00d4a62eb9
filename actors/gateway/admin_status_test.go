package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// statusView is a ClusterView showing a given status.
type statusView struct {
	*fakeView
	status StatusInfo
}

func (v statusView) Status() StatusInfo { return v.status }

func TestAdmin_Status(t *testing.T) {
	t.Parallel()
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		status StatusInfo
		want   string
	}{
		{
			name: "handoff under way",
			status: StatusInfo{
				Node:         "node-a",
				HintsPending: map[string]int{"node-c": 2},
				HintsBytes:   10,
				MerkleRoots:  map[uint32]uint64{3: 99},
				Handoff: HandoffStatus{
					Pending:  3,
					Draining: 1,
					Active: []TransferInfo{
						{Partition: 4, Kind: TransferReceive, Peer: "node-b", Keys: 50, TotalKeys: 200, Bytes: 4096, StartedAt: started},
						{Partition: 0, Kind: TransferDrain, Peer: "node-c", Keys: 7, Bytes: 70, StartedAt: started},
					},
					Completed:  12,
					ETASeconds: 90.5,
				},
			},
			want: `{"node":"node-a","hints_pending":{"node-c":2},"hints_bytes":10,"merkle_roots":{"3":"99"},` +
				`"handoff":{"pending":3,"rebuilding":0,"draining":1,"active":[` +
				`{"partition":4,"kind":"receive","peer":"node-b","keys":50,"total_keys":200,"bytes":4096,"started_at":"2026-03-01T12:00:00Z"},` +
				`{"partition":0,"kind":"drain","peer":"node-c","keys":7,"total_keys":0,"bytes":70,"started_at":"2026-03-01T12:00:00Z"}],` +
				`"completed":12,"eta_seconds":90.5,"ring_version":0,"settled":false}}`,
		},
		{
			name:   "idle node",
			status: StatusInfo{Node: "node-a"},
			want: `{"node":"node-a","hints_pending":{},"hints_bytes":0,"merkle_roots":{},` +
				`"handoff":{"pending":0,"rebuilding":0,"draining":0,"active":[],"completed":0,"eta_seconds":0,"ring_version":0,"settled":false}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(adminMux(Config{Cluster: statusView{threeNodes(), tt.status}}), http.MethodGet, "/admin/status", "")
			if rec.Code != http.StatusOK {
				t.Fatalf("GET /admin/status = %d %q, want 200", rec.Code, rec.Body)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.want {
				t.Errorf("body\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
