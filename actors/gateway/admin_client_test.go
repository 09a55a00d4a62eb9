package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/dhtkv/dht/actors/gateway"
	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/events"
	"github.com/dhtkv/dht/metrics"
)

// adminNode is a ClusterView and ClusterAdmin of a two-node cluster in
// which node-b is down: what the client tests below need of a node.
type adminNode struct{ handoff gateway.HandoffStatus }

func (n *adminNode) Members() []gateway.MemberInfo {
	return []gateway.MemberInfo{
		{ID: "node-a", Status: gateway.MemberAlive, Owner: true, Self: true},
		{ID: "node-b", Status: gateway.MemberDown, Owner: true},
	}
}
func (n *adminNode) Ring() gateway.RingInfo { return gateway.RingInfo{} }
func (n *adminNode) Status() gateway.StatusInfo {
	return gateway.StatusInfo{Node: "node-a", Handoff: n.handoff}
}
func (n *adminNode) Join() error { return nil }
func (n *adminNode) Decommission(node string) error {
	if node != "node-a" && node != "node-b" {
		return fmt.Errorf("decommission %s: %w", node, gateway.ErrUnknownNode)
	}
	return nil
}
func (n *adminNode) Resize(q int) error {
	if q&(q-1) != 0 {
		return fmt.Errorf("%d is not a power of two: %w", q, gateway.ErrInvalid)
	}
	return nil
}
func (n *adminNode) ForceRemove(node string) error {
	if node == "node-a" {
		return fmt.Errorf("node-a is alive: %w", gateway.ErrConflict)
	}
	return n.Decommission(node)
}

// adminAPI serves a real gateway's handler with node behind it and returns
// a client for it.
func adminAPI(t *testing.T, node *adminNode, bus *events.Bus) *client.Client {
	t.Helper()
	g := gateway.New(gateway.Config{
		Cluster: node, Admin: node, Events: bus,
		Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAdminAPI_ClientEvents checks the event stream's wire format against
// package client's decoder: the history, then live events, decoded as they
// were published.
func TestAdminAPI_ClientEvents(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bus := events.New("node-a", 8, events.WithClock(func() time.Time { return epoch }))
	c := adminAPI(t, &adminNode{}, bus)
	bus.Publish(events.Event{Kind: events.MemberFail, Subject: "node-b", Detail: "no ack"})

	recent, err := c.RecentEvents(t.Context())
	want := []events.Event{{Seq: 1, Time: epoch, Node: "node-a", Kind: events.MemberFail, Subject: "node-b", Detail: "no ack"}}
	if err != nil || !reflect.DeepEqual(recent, want) {
		t.Fatalf("RecentEvents = %+v, %v; want %+v", recent, err, want)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got []events.Event
	err = c.Events(ctx, true, func(e events.Event) error {
		got = append(got, e)
		if e.Seq == 1 {
			// Subscribed, since the replay arrived: publish a live one.
			bus.Publish(events.Event{Kind: events.HandoffFinish, Subject: "node-b", Partition: new(uint32(0)), Detail: "a \"quoted\"\nline"})
			return nil
		}
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Events = %v, want context.Canceled once the live event came", err)
	}
	want = append(want, events.Event{Seq: 2, Time: epoch, Node: "node-a", Kind: events.HandoffFinish, Subject: "node-b", Partition: new(uint32(0)), Detail: "a \"quoted\"\nline"})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("streamed\n%+v\nwant\n%+v", got, want)
	}
}

// TestAdminAPI_ClientOps checks the ownership changes and the status's
// handoff section between a real gateway and package client.
func TestAdminAPI_ClientOps(t *testing.T) {
	t.Parallel()
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	node := &adminNode{handoff: gateway.HandoffStatus{
		Pending: 2, Draining: 1, Completed: 5, ETASeconds: 30,
		Active: []gateway.TransferInfo{{Partition: 3, Kind: gateway.TransferDrain, Peer: "node-b", Keys: 10, TotalKeys: 40, Bytes: 100, StartedAt: started}},
	}}
	c := adminAPI(t, node, nil)

	if got, err := c.Join(t.Context()); err != nil || *got != (client.Accepted{Node: "node-a", Action: "join"}) {
		t.Errorf("Join = %+v, %v; want node-a accepted", got, err)
	}
	if got, err := c.Decommission(t.Context(), "node-b"); err != nil || *got != (client.Accepted{Node: "node-b", Action: "decommission"}) {
		t.Errorf("Decommission = %+v, %v; want node-b accepted", got, err)
	}
	var e *client.Error
	if _, err := c.Decommission(t.Context(), "node-x"); !errors.As(err, &e) || e.Status != 404 || e.Code != "unknown_node" {
		t.Errorf("Decommission of an unknown node = %v, want 404 unknown_node", err)
	}
	if _, err := c.ForceRemove(t.Context(), "node-a"); !errors.As(err, &e) || e.Status != 409 || e.Code != "conflict" {
		t.Errorf("ForceRemove of an alive node = %v, want 409 conflict", err)
	}
	if err := c.Events(t.Context(), false, func(events.Event) error { return nil }); !errors.As(err, &e) || e.Status != 503 {
		t.Errorf("Events without a bus = %v, want 503", err)
	}

	st, err := c.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := client.Handoff{Pending: 2, Draining: 1, Completed: 5, ETASeconds: 30,
		Active: []client.Transfer{{Partition: 3, Kind: client.TransferDrain, Peer: "node-b", Keys: 10, TotalKeys: 40, Bytes: 100, StartedAt: started}}}
	if !reflect.DeepEqual(st.Handoff, want) {
		t.Errorf("Status handoff = %+v, want %+v", st.Handoff, want)
	}
}
