package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/internal/listing"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/metrics"
)

// listRouter routes partition p to node "up" when up[p], whose vnode is a
// fake answering one key per partition, else to node "down", whose vnode
// does not exist (its requests time out).
type listRouter struct {
	up   map[uint32]bool
	fake *actor.PID
}

func (r listRouter) Route(p uint32) coordinator.Route {
	node := "down"
	if r.up[p] {
		node = "up"
	}
	return coordinator.Route{Targets: []quorum.Target{{Node: node, Primary: true}}}
}

func (r listRouter) VnodePID(node string, p uint32) *actor.PID {
	if node == "up" {
		return r.fake
	}
	return actor.NewPID("nonhost", "no-such-vnode")
}

func (listRouter) HintsPID(string) *actor.PID { return nil }

func listGateway(t *testing.T, up map[uint32]bool) *Gateway {
	t.Helper()
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(system.Shutdown)
	fake := system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		env, ok := c.Message().(*messages.Envelope)
		if !ok || env.GetListRequest() == nil {
			return
		}
		req := env.GetListRequest()
		reply := &messages.ListReply{}
		if len(req.GetAfterKey()) == 0 {
			reply.Entries = []*messages.KeyObject{{Key: []byte{'a' + byte(req.GetPartition())}}}
		}
		c.Respond(&messages.Envelope{Body: &messages.Envelope_ListReply{ListReply: reply}})
	}))
	g := &Gateway{cfg: Config{Partitions: 4, RequestTimeout: 200 * time.Millisecond, Defaults: quorum.Params{N: 3},
		Limits: Limits{MaxKeyBytes: 1024}, Metrics: metrics.New(),
		Coordinator: coordinator.Config{Router: listRouter{up: up, fake: fake}}}}
	g.root = system.Root
	return g
}

func TestList_APartitionNoReplicaAnswersIs503NamingIt(t *testing.T) {
	g := listGateway(t, map[uint32]bool{1: true, 2: true, 3: true})
	rec := httptest.NewRecorder()
	g.listHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, api.ListPath, nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "partition 0") {
		t.Fatalf("listing with partition 0 down = %d %s, want 503 naming partition 0", rec.Code, rec.Body)
	}
}

func TestList_AFailureAfterKeysEndsThePageAtThatPartition(t *testing.T) {
	g := listGateway(t, map[uint32]bool{0: true, 1: true, 3: true})
	rec := httptest.NewRecorder()
	g.listHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, api.ListPath, nil))
	var page api.ListPage
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("listing = %d %s (%v), want 200 with JSON", rec.Code, rec.Body, err)
	}
	if len(page.Keys) != 2 || page.Keys[0].Key != "a" || page.Keys[1].Key != "b" || !strings.Contains(page.Error, "partition 2") {
		t.Fatalf("page %+v, want a and b, then an error naming partition 2", page)
	}
	c, err := listing.DecodeCursor(page.Cursor, 4)
	if err != nil || c.Partition != 2 || c.After != nil {
		t.Fatalf("cursor %q = %+v, %v; want the start of partition 2", page.Cursor, c, err)
	}
	// Resumed there, the failure is the answer's status.
	rec = httptest.NewRecorder()
	g.listHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, api.ListPath+"?cursor="+page.Cursor, nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("resumed at the failed partition = %d %s, want 503", rec.Code, rec.Body)
	}
}

func TestList_AllPartitionsUpListsOneKeyEach(t *testing.T) {
	g := listGateway(t, map[uint32]bool{0: true, 1: true, 2: true, 3: true})
	rec := httptest.NewRecorder()
	g.listHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, api.ListPath+"?limit=3", nil))
	var page api.ListPage
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Keys) != 3 || page.Cursor == "" || page.Error != "" {
		t.Fatalf("first page %d %s (%v), want 3 keys and a cursor", rec.Code, rec.Body, err)
	}
	rec = httptest.NewRecorder()
	g.listHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, api.ListPath+"?limit=3&cursor="+page.Cursor, nil))
	page = api.ListPage{}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Keys) != 1 || page.Keys[0].Key != "d" || page.Cursor != "" {
		t.Fatalf("second page %d %s (%v), want d and no cursor", rec.Code, rec.Body, err)
	}
}
