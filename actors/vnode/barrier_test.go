package vnode_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/wire"
)

// gatedEngine holds the engine's confirmations of asynchronous puts until
// open is closed: the writes land, the vnode just does not know yet.
type gatedEngine struct {
	persistence.Engine
	open chan struct{}
}

func (g *gatedEngine) AsyncPuts() bool { return true }

func (g *gatedEngine) PutAsync(key, value []byte, done func(error)) bool {
	return g.Engine.(persistence.AsyncPutter).PutAsync(key, value, func(err error) {
		go func() { <-g.open; done(err) }()
	})
}

// A scan waits for the writes in flight, so that it sees them, and the
// requests after it wait behind it: the vnode answers in order, without
// blocking its mailbox on the engine.
func TestVnode_ScanWaitsForWritesInFlight(t *testing.T) {
	engine := &gatedEngine{Engine: openSyncBadger(t), open: make(chan struct{})}
	h := startVnode(t, engine)
	answers := make(chan *messages.Envelope, 8)
	collector := h.system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if env, ok := c.Message().(*messages.Envelope); ok {
			answers <- env
		}
	}))
	defer h.system.Root.Stop(collector)
	send := func(id uint64, env *messages.Envelope) {
		env.RequestId = id
		h.system.Root.RequestWithCustomSender(h.pid, env, collector)
	}
	send(1, &messages.Envelope{Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{
		Partition: partition, Key: []byte("k"), Value: &messages.Sibling{Value: []byte("v")},
	}}})
	send(2, &messages.Envelope{Body: &messages.Envelope_HandoffPullRequest{HandoffPullRequest: &messages.HandoffPullRequest{
		Partition: partition, MaxKeys: 10, MaxBytes: 1 << 20,
	}}})
	send(3, &messages.Envelope{Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Partition: partition, Key: []byte("k")}}})
	close(engine.open)

	var got []*messages.Envelope
	for len(got) < 3 {
		select {
		case env := <-answers:
			got = append(got, env)
		case <-time.After(30 * time.Second):
			t.Fatalf("%d answers, want 3: %v", len(got), got)
		}
	}
	for i, env := range got {
		if env.GetRequestId() != uint64(i+1) {
			t.Fatalf("answer %d is to request %d, want %d: %v", i, env.GetRequestId(), i+1, got)
		}
	}
	if e := got[1].GetHandoffPullReply().GetEntries(); len(e) != 1 || string(e[0].GetKey()) != "k" {
		t.Errorf("the pull after the write answered %v, want the key written", got[1])
	}
	obj, err := wire.ObjectFromProto(got[2].GetGetReply().GetObject())
	if err != nil || !values(obj)["v"] {
		t.Errorf("the read after the pull answered %v (%v), want v", got[2], err)
	}
}
