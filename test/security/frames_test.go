package security

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/cluster/remoteguard"
	"github.com/dhtkv/dht/messages"
	"github.com/dhtkv/dht/test/testutil"
)

// batchesFlag sizes the fuzzing; the seed comes from the shared -seed flag
// (test/testutil).
var batchesFlag = flag.Int("security.batches", 10000, "mutated message batches TestSecurity_RemotePortSurvivesMalformedFrames sends per cluster")

// fuzzWorkers is how many mutated batches are in flight at once.
const fuzzWorkers = 8

// TestSecurity_RemotePortSurvivesMalformedFrames sends, to every node of a
// plaintext cluster and of a cluster with mutual TLS (as a peer holding a
// valid member certificate, at that member's own address), the four
// frame shapes that crash an unguarded protoactor remote (a ListProcesses
// call, an unknown type name, an index out of range, an unknown
// serializer) and then -security.batches seeded mutations of a valid
// batch. Every node must still run and serve afterwards: /healthz 200, a
// w=3 write and an r=3 read through it.
func TestSecurity_RemotePortSurvivesMalformedFrames(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts clusterOptions
	}{
		{"plaintext", clusterOptions{}},
		{"mutual_tls", clusterOptions{mutualTLS: true, contextSecret: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			c := startCluster(t, mode.opts)
			peers := c.fuzzPeers(t)
			c.crashShapes(t, peers)
			c.checkAllServing("shapes")
			c.fuzzBatches(t, peers, testutil.Seed(t), *batchesFlag)
			c.checkAllServing("fuzz")
		})
	}
}

// fuzzPeer is how the suite speaks to one node's remote port: a gRPC
// connection and the address its ConnectRequest claims.
type fuzzPeer struct {
	node    string
	target  string // the node's actor address
	claimed string
	conn    *grpc.ClientConn
}

// fuzzPeers opens one connection to each node. In plaintext the suite
// claims an address of its own on 127.0.0.1, the IP it connects from;
// with mutual TLS it holds the next node's certificate and claims that
// node's address, as a compromised or buggy member would.
func (c *cluster) fuzzPeers(t *testing.T) []fuzzPeer {
	t.Helper()
	var out []fuzzPeer
	for i, id := range nodeIDs {
		p := fuzzPeer{node: id, target: c.remote[id], claimed: "127.0.0.1:1"}
		var creds credentials.TransportCredentials
		if c.opts.mutualTLS {
			as := nodeIDs[(i+1)%len(nodeIDs)]
			cert := c.nodeCreds[as].tlsCertificate(t)
			creds = credentials.NewTLS(peerTLS(&cert))
			p.claimed = c.remote[as]
		}
		conn, err := dialRemote(p.target, creds)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		p.conn = conn
		out = append(out, p)
	}
	return out
}

// probeEnvelope is the valid batch's payload: a read of one key, harmless
// wherever it lands.
func probeEnvelope() *messages.Envelope {
	const key = "sec/fuzz/probe"
	return &messages.Envelope{
		RequestId: 7, DeadlineUnixMs: time.Now().Add(time.Minute).UnixMilli(),
		Body: &messages.Envelope_GetRequest{GetRequest: &messages.GetRequest{Partition: partitionOf(key), Key: []byte(key)}},
	}
}

// validBatch is a well-formed batch from p to a vnode of p's node.
func (p fuzzPeer) validBatch() *remote.MessageBatch {
	return envelopeBatch(probeEnvelope(), p.claimed, p.target, vnodeActorID(partitionOf("sec/fuzz/probe")), false)
}

// crashShapes sends each shape to every node and checks the refusal.
func (c *cluster) crashShapes(t *testing.T, peers []fuzzPeer) {
	t.Helper()
	shapes := []struct {
		name   string
		mutate func(b *remote.MessageBatch)
	}{
		{"unknown type name", func(b *remote.MessageBatch) { b.TypeNames[0] = "no.such.Type" }},
		{"target index out of range", func(b *remote.MessageBatch) { b.Envelopes[0].Target = 5 }},
		{"sender index out of range", func(b *remote.MessageBatch) { b.Envelopes[0].Sender = 9 }},
		{"unknown serializer id", func(b *remote.MessageBatch) { b.Envelopes[0].SerializerId = 77 }},
	}
	tb := newTable("crash shapes (want Unimplemented for the unary call, PermissionDenied for the batches):",
		"node", "shape", "answer", "node running after")
	for _, p := range peers {
		n := c.node(p.node)
		ctx, cancel := context.WithTimeout(context.Background(), streamTimeout)
		_, err := remote.NewRemotingClient(p.conn).ListProcesses(ctx, &remote.ListProcessesRequest{})
		cancel()
		tb.add(p.node, "ListProcesses (unary)", describe(err), n.Running())
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("%s: ListProcesses = %v, want Unimplemented", p.node, err)
		}
		for _, s := range shapes {
			b := p.validBatch()
			s.mutate(b)
			res := sendFrames(p.conn, connectFrame(p.claimed), batchFrame(b))
			tb.add(p.node, s.name, describe(res.err), n.Running())
			if status.Code(res.err) != codes.PermissionDenied {
				t.Errorf("%s, %s: the stream ended with %v, want PermissionDenied", p.node, s.name, res.err)
			}
		}
	}
	// The well-formed batch is accepted: the refusals are the guard's
	// answer to the shape, not to the peer.
	for _, p := range peers {
		res := sendFrames(p.conn, connectFrame(p.claimed), batchFrame(p.validBatch()))
		tb.add(p.node, "the valid batch (control)", describe(res.err), c.node(p.node).Running())
		if !res.connected || res.err != nil {
			t.Errorf("%s: the valid batch: connected %v, ended with %v", p.node, res.connected, res.err)
		}
	}
	tb.log(t)
}

// fuzzOutcome counts how mutated streams ended.
type fuzzOutcome struct {
	accepted, refused, recovered, other int
	undecodable                         int // raw mutations that did not parse, replaced by structured ones
	lastOther                           string
}

// fuzzBatches sends count mutated batches, spread over the nodes, each on
// a stream of its own after a valid ConnectRequest.
func (c *cluster) fuzzBatches(t *testing.T, peers []fuzzPeer, seed uint64, count int) {
	t.Helper()
	before := c.refusedTotals()
	start := time.Now()
	outcomes := make([]fuzzOutcome, len(peers))
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	for range fuzzWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := peers[i%len(peers)]
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				frames, undecodable := mutatedFrames(rng, p, peers)
				res := sendFrames(p.conn, frames...)
				mu.Lock()
				o := &outcomes[i%len(peers)]
				if undecodable {
					o.undecodable++
				}
				switch code := status.Code(res.err); {
				case res.err == nil:
					o.accepted++
				case code == codes.PermissionDenied:
					o.refused++
				case code == codes.Internal:
					o.recovered++
				default:
					o.other++
					o.lastOther = fmt.Sprintf("batch %d: %s", i, describe(res.err))
				}
				mu.Unlock()
			}
		}()
	}
	for i := range count {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)

	after := c.refusedTotals()
	tb := newTable(fmt.Sprintf("%d mutated batches (seed %d) in %v:", count, seed, elapsed.Round(100*time.Millisecond)),
		"node", "sent", "accepted", "refused (PermissionDenied)", "recovered panic (Internal)", "other (reader error)", "raw mutation undecodable", "refused_total Δ", "running")
	for i, p := range peers {
		o := outcomes[i]
		sent := o.accepted + o.refused + o.recovered + o.other
		tb.add(p.node, sent, o.accepted, o.refused, o.recovered, o.other, o.undecodable, after[p.node]-before[p.node], c.node(p.node).Running())
		if o.lastOther != "" {
			t.Logf("%s: last stream that ended otherwise: %s", p.node, o.lastOther)
		}
	}
	tb.log(t)
	for _, n := range c.nodes {
		if !n.Running() {
			t.Errorf("%s died under mutated batches (seed %d)", n.ID(), seed)
		}
	}
}

// Pools the mutations draw from.
var (
	fuzzTypeNames = []string{"", "no.such.Type", "actor.Stop", "actor.Watch", "actor.Terminated", "actor.PoisonPill",
		"remote.Ping", "actor.DeadLetterResponse", remoteguard.EnvelopeType, "dht.v1.Envelope\x00", "dht.v1.PutRequest"}
	fuzzTargetIDs = []string{"", "node", topologyActorID, "node/hints", "node/entropy", "node/handoff", "node/gateway",
		"node/vnode-99999", "node/vnode-0", "node/vnode--1", "$1", "activator", "eventstream", "\u00ff\u00fe"}
)

// mutatedFrames returns the frames of one fuzzed stream: a valid
// ConnectRequest (left out now and then) and a valid batch from p with
// one to four mutations, drawn from rng. undecodable reports that a raw
// byte mutation produced something protobuf rejects (gRPC would not
// deliver it), which was then replaced by a structured mutation.
func mutatedFrames(rng *rand.Rand, p fuzzPeer, peers []fuzzPeer) (frames []*remote.RemoteMessage, undecodable bool) {
	b := p.validBatch()
	if rng.IntN(4) == 0 {
		// A second, different envelope to mutate too.
		b.Envelopes = append(b.Envelopes, proto.Clone(b.Envelopes[0]).(*remote.MessageEnvelope))
	}
	for range 1 + rng.IntN(4) {
		if !mutate(rng, b, p, peers) {
			undecodable = true
		}
	}
	if rng.IntN(50) == 0 {
		return []*remote.RemoteMessage{batchFrame(b)}, undecodable
	}
	return []*remote.RemoteMessage{connectFrame(p.claimed), batchFrame(b)}, undecodable
}

func smallInt(rng *rand.Rand) int32 {
	switch rng.IntN(10) {
	case 0:
		return int32(rng.Uint32()) // anything, negatives included
	case 1:
		return -1 - rng.Int32N(3)
	default:
		return rng.Int32N(5)
	}
}

// mutate applies one random mutation to b; it reports false when a raw
// byte mutation did not decode (b is then mutated structurally instead).
func mutate(rng *rand.Rand, b *remote.MessageBatch, p fuzzPeer, peers []fuzzPeer) bool {
	env := func() *remote.MessageEnvelope {
		if len(b.Envelopes) == 0 {
			b.Envelopes = append(b.Envelopes, &remote.MessageEnvelope{})
		}
		e := b.Envelopes[rng.IntN(len(b.Envelopes))]
		if e == nil {
			e = &remote.MessageEnvelope{}
			b.Envelopes[0] = e
		}
		return e
	}
	switch rng.IntN(16) {
	case 0: // a type name
		name := fuzzTypeNames[rng.IntN(len(fuzzTypeNames))]
		if rng.IntN(4) == 0 {
			name = randomString(rng)
		}
		if len(b.TypeNames) == 0 || rng.IntN(3) == 0 {
			b.TypeNames = append(b.TypeNames, name)
		} else {
			b.TypeNames[rng.IntN(len(b.TypeNames))] = name
		}
	case 1:
		env().TypeId = smallInt(rng)
	case 2:
		env().Target = smallInt(rng)
	case 3:
		env().Sender = smallInt(rng)
	case 4:
		env().SerializerId = smallInt(rng)
	case 5: // a nil PID
		if rng.IntN(2) == 0 && len(b.Targets) > 0 {
			b.Targets[rng.IntN(len(b.Targets))] = nil
		} else if len(b.Senders) > 0 {
			b.Senders[rng.IntN(len(b.Senders))] = nil
		} else {
			b.Senders = append(b.Senders, nil)
		}
	case 6: // a PID elsewhere: another node, this node as sender, nonsense
		addrs := []string{"", "127.0.0.1:1", "10.9.9.9:7070", p.target, p.claimed, randomString(rng)}
		for _, q := range peers {
			addrs = append(addrs, q.target)
		}
		pid := &actor.PID{Address: addrs[rng.IntN(len(addrs))], Id: fuzzTargetIDs[rng.IntN(len(fuzzTargetIDs))]}
		if rng.IntN(2) == 0 {
			b.Targets = append(b.Targets, pid)
		} else {
			b.Senders = append(b.Senders, pid)
		}
	case 7: // a target actor id on this node
		id := fuzzTargetIDs[rng.IntN(len(fuzzTargetIDs))]
		if len(b.Targets) == 0 {
			b.Targets = append(b.Targets, &actor.PID{Address: p.target, Id: id})
		} else if t := b.Targets[rng.IntN(len(b.Targets))]; t != nil {
			t.Id = id
		}
	case 8: // the message bytes: flips, truncation, junk
		e := env()
		d := append([]byte(nil), e.MessageData...)
		switch rng.IntN(4) {
		case 0:
			if len(d) > 0 {
				for range 1 + rng.IntN(4) {
					d[rng.IntN(len(d))] ^= byte(1 << rng.IntN(8))
				}
			}
		case 1:
			if len(d) > 0 {
				d = d[:rng.IntN(len(d))]
			}
		case 2:
			d = append(d, randomBytes(rng, 1+rng.IntN(32))...)
		default:
			d = randomBytes(rng, rng.IntN(64))
		}
		e.MessageData = d
	case 9: // another valid envelope body, from a peer it does not fit
		e := env()
		bodies := []*messages.Envelope{
			{Body: &messages.Envelope_MerkleRequest{MerkleRequest: &messages.MerkleRequest{Partition: rng.Uint32N(partitions * 2), Level: rng.Uint32N(8)}}},
			{Body: &messages.Envelope_BucketKeysRequest{BucketKeysRequest: &messages.BucketKeysRequest{Partition: rng.Uint32N(partitions), Buckets: []uint32{rng.Uint32()}}}},
			{Body: &messages.Envelope_TombstonesRequest{TombstonesRequest: &messages.TombstonesRequest{Partition: rng.Uint32N(partitions), Limit: rng.Uint32N(10)}}},
			{Body: &messages.Envelope_HintsForRequest{HintsForRequest: &messages.HintsForRequest{Partition: rng.Uint32N(partitions), Key: []byte("sec/fuzz/probe")}}},
			{Body: &messages.Envelope_ErrorReply{ErrorReply: &messages.ErrorReply{Code: messages.ErrorCode(rng.Int32()), Message: randomString(rng)}}},
			{Body: &messages.Envelope_RingGossip{RingGossip: &messages.RingGossip{State: &messages.RingState{Cluster: "other", Partitions: 7}}}},
			{},
		}
		data, _ := proto.Marshal(bodies[rng.IntN(len(bodies))])
		e.MessageData = data
	case 10: // duplicate an envelope
		if len(b.Envelopes) > 0 && len(b.Envelopes) < 16 {
			b.Envelopes = append(b.Envelopes, proto.Clone(env()).(*remote.MessageEnvelope))
		}
	case 11: // empty a list
		switch rng.IntN(4) {
		case 0:
			b.TypeNames = nil
		case 1:
			b.Targets = nil
		case 2:
			b.Senders = nil
		default:
			b.Envelopes = append(b.Envelopes, nil)
		}
	case 12: // headers, the guard's own names among them
		e := env()
		e.MessageHeader = &remote.MessageHeader{HeaderData: map[string]string{
			remoteguard.PeerHeader: "n2", remoteguard.PeerAddrHeader: p.target, randomString(rng): randomString(rng)}}
	case 13: // request ids on the PIDs
		e := env()
		e.TargetRequestId, e.SenderRequestId = rng.Uint32(), rng.Uint32()
	case 14: // the whole batch's bytes
		raw, err := proto.Marshal(b)
		if err != nil || len(raw) == 0 {
			return true
		}
		for range 1 + rng.IntN(4) {
			raw[rng.IntN(len(raw))] = byte(rng.UintN(256))
		}
		var out remote.MessageBatch
		if err := proto.Unmarshal(raw, &out); err != nil {
			env().SerializerId = smallInt(rng)
			return false
		}
		proto.Reset(b)
		proto.Merge(b, &out)
	default: // many envelopes, all to the same target
		e := env()
		for range rng.IntN(64) {
			b.Envelopes = append(b.Envelopes, proto.Clone(e).(*remote.MessageEnvelope))
		}
	}
	return true
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

// randomString is random text; valid UTF-8, since gRPC refuses to send a
// proto3 string that is not.
func randomString(rng *rand.Rand) string {
	return strings.ToValidUTF8(string(randomBytes(rng, rng.IntN(24))), "?")
}
