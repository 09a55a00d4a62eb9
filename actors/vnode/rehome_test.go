package vnode_test

import (
	"testing"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/messages"
)

func TestParseName(t *testing.T) {
	for _, p := range []uint32{0, 7, 4095} {
		if got, ok := vnode.ParseName(vnode.Name(p)); !ok || got != p {
			t.Errorf("ParseName(Name(%d)) = %d, %v", p, got, ok)
		}
	}
	for _, name := range []string{"", "vnode-", "vnode-x", "vnode--1", "vnode-01", "vnode-99999999999", "gateway", "hints"} {
		if p, ok := vnode.ParseName(name); ok {
			t.Errorf("ParseName(%q) = %d, want no vnode name", name, p)
		}
	}
}

// TestRehome: a request for a vnode this node does not have goes to its
// key's partition on this node's ring when it is for one key and names no
// other ring size; anything else is refused as not ready, with its request
// id, so that the sender need not wait out its deadline.
func TestRehome(t *testing.T) {
	const q = 64
	key := []byte("user/42")
	want := ring.PartitionOf(key, q)
	for name, env := range map[string]*messages.Envelope{
		"get":   {Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Key: key}}},
		"put":   {Body: &messages.Envelope_PutRequest{PutRequest: &messages.PutRequest{Key: key}}},
		"merge": {Body: &messages.Envelope_MergeRequest{MergeRequest: &messages.MergeRequest{Key: key}}},
		"reap":  {Body: &messages.Envelope_ReapRequest{ReapRequest: &messages.ReapRequest{Key: key}}},
	} {
		if to, refusal, ok := vnode.Rehome(env, 100, q); !ok || to != want || refusal != nil {
			t.Errorf("%s: Rehome = %d, %v, %v; want partition %d", name, to, refusal, ok, want)
		}
	}
	for name, env := range map[string]*messages.Envelope{
		"a batch":               {RequestId: 9, Body: &messages.Envelope_MergeBatchRequest{MergeBatchRequest: &messages.MergeBatchRequest{}}},
		"a listing":             {RequestId: 9, Body: &messages.Envelope_ListRequest{ListRequest: &messages.ListRequest{}}},
		"a get without its key": {RequestId: 9, Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{}}},
		"a get of another size": {RequestId: 9, RingPartitions: 128, Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Key: key}}},
	} {
		_, refusal, ok := vnode.Rehome(env, 100, q)
		if ok || refusal.GetRequestId() != 9 || refusal.GetErrorReply().GetCode() != messages.ErrorCode_ERROR_CODE_NOT_READY {
			t.Errorf("%s: Rehome = %v, %v; want a not-ready refusal of request 9", name, refusal, ok)
		}
	}
}
