package security

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/dhtkv/dht/cluster/ring"
)

// TestSecurity_RemotePortRefusesOutsiders attacks a node's remote port in
// a cluster with mutual TLS between nodes, HTTPS with client certificates
// on the API and a context secret. Each attacker tries two streams: a
// MergeRequest that would overwrite a stored key, and ring gossip that
// would remove a member. Without a certificate, with one of another CA,
// with an expired one, the TLS handshake fails; with a valid member
// certificate whose holder claims another member's address, the remote
// guard refuses the stream (dht_remote_refused_total grows). Afterwards
// the key holds its value at r=3 and every node is still an owner. A
// control stream with a member's own credentials and address shows the
// same frames do land when the credentials are right, so the refusals
// come from authentication, not from malformed frames. A cluster-CA
// certificate of a new id at an address of its own (a would-be joiner)
// gets through the guard, and its gossip removing a member is ignored.
func TestSecurity_RemotePortRefusesOutsiders(t *testing.T) {
	// The forged gossip is one that matters: merged from a member, it
	// would remove n3 from a ring of n1, n2 and n3.
	var three ring.State
	for _, id := range nodeIDs {
		three = three.Join(ring.Member{ID: id})
	}
	if ring.Merge(three, three.Admit("n2", removalState("n3"))).Owner("n3") {
		t.Fatal("the forged removal gossip would not remove n3 even from a member; the test below proves nothing")
	}

	c := startCluster(t, clusterOptions{mutualTLS: true, https: true, clientCA: true, contextSecret: true})
	n1 := c.node("n1")
	target := c.remote["n1"]

	const victim, original = "sec/victim", "original value"
	const control, controlOriginal = "sec/control", "control before"
	if _, err := c.write(n1, victim, original, "", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := c.write(n1, control, controlOriginal, "", 3); err != nil {
		t.Fatal(err)
	}
	vicObj, err := c.read(n1, victim, 3)
	if err != nil {
		t.Fatal(err)
	}
	vicVV, err := tokenVV(victim, vicObj.Context)
	if err != nil {
		t.Fatalf("the victim's context: %v", err)
	}
	ctlObj, err := c.read(n1, control, 3)
	if err != nil {
		t.Fatal(err)
	}
	ctlVV, err := tokenVV(control, ctlObj.Context)
	if err != nil {
		t.Fatalf("the control's context: %v", err)
	}
	versionsBefore := map[string]uint64{}
	for _, n := range c.nodes {
		if versionsBefore[n.ID()], err = c.ringVersion(n); err != nil {
			t.Fatal(err)
		}
	}
	refusedBefore := c.refusedTotals()

	// Credentials of the attackers.
	now := time.Now()
	otherCA := newPKI(t, "another-ca")
	foreign := otherCA.issueValid(t, "foreign-n2", "n2").tlsCertificate(t)
	expired := c.pki.issue(t, "expired-n2", "n2", now.Add(-48*time.Hour), now.Add(-time.Hour)).tlsCertificate(t)
	n2Cert := c.nodeCreds["n2"].tlsCertificate(t)
	mallory := c.pki.issueValid(t, "mallory", "mallory").tlsCertificate(t)

	type attacker struct {
		name   string
		cert   *tls.Certificate // nil: no client certificate
		tls    bool             // false: plaintext gRPC
		claims string           // the member whose address the ConnectRequest claims
		// guard is set where the TLS handshake succeeds and the remote
		// guard must refuse the stream.
		guard bool
	}
	attackers := []attacker{
		{name: "no certificate, plaintext gRPC", claims: "n2"},
		{name: "TLS without a client certificate", tls: true, claims: "n2"},
		{name: "certificate of another CA (CN n2)", tls: true, cert: &foreign, claims: "n2"},
		{name: "expired certificate of the cluster CA (CN n2)", tls: true, cert: &expired, claims: "n2"},
		{name: "n2's own certificate", tls: true, cert: &n2Cert, claims: "n3", guard: true},
		{name: "cluster-CA certificate of a new id (mallory)", tls: true, cert: &mallory, claims: "n3", guard: true},
	}

	tb := newTable("attacks on n1's remote port ("+target+"), each with an overwrite of "+victim+" and gossip removing n3:",
		"attacker", "claims", "TLS handshake", "overwrite stream", "gossip stream")
	for _, a := range attackers {
		claimed := c.remote[a.claims]
		handshake := "-"
		if a.tls {
			_, err := tlsProbe(target, peerTLS(a.cert))
			handshake = describe(err)
			if a.guard && err != nil {
				t.Errorf("%s: the TLS handshake failed (%v); a valid certificate should pass it and meet the guard", a.name, err)
			}
			if !a.guard && err == nil {
				t.Errorf("%s: the TLS handshake succeeded", a.name)
			}
		}
		var results [2]streamResult
		for i, frame := range []*remote.RemoteMessage{
			batchFrame(envelopeBatch(overwriteEnvelope(victim, vicVV, "overwritten by "+a.name), claimed, target, vnodeActorID(partitionOf(victim)), false)),
			batchFrame(envelopeBatch(removalGossip("n3"), claimed, target, topologyActorID, true)),
		} {
			var creds credentials.TransportCredentials
			if a.tls {
				creds = credentials.NewTLS(peerTLS(a.cert))
			}
			conn, err := dialRemote(target, creds)
			if err != nil {
				t.Fatal(err)
			}
			results[i] = sendFrames(conn, connectFrame(claimed), frame)
			_ = conn.Close()
		}
		tb.add(a.name, a.claims, handshake, describe(results[0].err), describe(results[1].err))
		for i, r := range results {
			if r.connected || r.err == nil {
				t.Errorf("%s: stream %d was accepted (connected %v, ended with %v)", a.name, i, r.connected, r.err)
				continue
			}
			if a.guard && status.Code(r.err) != codes.PermissionDenied {
				t.Errorf("%s: stream %d ended with %v, want the guard's PermissionDenied", a.name, i, r.err)
			}
		}
	}

	// The control: n2's certificate claiming n2's own address, the
	// overwrite aimed at the control key. It must land.
	conn, err := dialRemote(target, credentials.NewTLS(peerTLS(&n2Cert)))
	if err != nil {
		t.Fatal(err)
	}
	const controlForged = "control overwritten with n2's own credentials"
	ctl := sendFrames(conn, connectFrame(c.remote["n2"]),
		batchFrame(envelopeBatch(overwriteEnvelope(control, ctlVV, controlForged), c.remote["n2"], target, vnodeActorID(partitionOf(control)), false)))
	_ = conn.Close()
	tb.add("control: n2's own certificate", "n2", "ok", describe(ctl.err), "-")
	if !ctl.connected || ctl.err != nil {
		t.Fatalf("control stream with a member's own credentials: connected %v, ended with %v; the refusals above prove nothing", ctl.connected, ctl.err)
	}
	var last []string
	if err := retry(60*time.Second, func() error {
		o, err := c.read(n1, control, 3)
		if err != nil {
			return err
		}
		last = values(o)
		if !slices.Equal(last, []string{controlForged}) {
			return fmt.Errorf("control key holds %q", last)
		}
		return nil
	}); err != nil {
		t.Fatalf("control: the forged merge with member credentials did not land (%v): the attack frames are not ones a node acts on, so their refusal proves nothing", err)
	}

	// A would-be joiner: a cluster-CA certificate of a new id at an
	// address of its own passes the guard (that is how a node joins), but
	// the topology actor admits only its own entry from a non-member
	// (ring.State.Admit), so its gossip removing n3 changes nothing. The
	// barrier gossip behind it on the same stream shows it was handled.
	const joinerAddr = "127.0.0.1:1"
	conn, err = dialRemote(target, credentials.NewTLS(peerTLS(&mallory)))
	if err != nil {
		t.Fatal(err)
	}
	joiner := sendFrames(conn, connectFrame(joinerAddr),
		batchFrame(envelopeBatch(removalGossip("n3"), joinerAddr, target, topologyActorID, false)),
		batchFrame(envelopeBatch(barrierGossip(), joinerAddr, target, topologyActorID, false)))
	_ = conn.Close()
	if !joiner.connected || joiner.err != nil {
		t.Fatalf("a new id's certificate at its own address: connected %v, ended with %v; want the guard to let it in", joiner.connected, joiner.err)
	}
	if err := retry(60*time.Second, func() error {
		if !strings.Contains(n1.Log(), "cluster="+barrierCluster) {
			return errors.New("n1 has not logged the barrier gossip yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("the gossip sent as a would-be joiner was not handled: %v", err)
	}
	tb.add("a would-be joiner (mallory) at its own address", "itself", "ok", "-", describe(joiner.err)+" (stream accepted; gossip handled)")
	tb.log(t)

	// What must not have changed.
	after := newTable("after the attacks:", "node", "victim at r=3", "ring version before", "after", "refused_total Δ", "members (alive owners)")
	for _, n := range c.nodes {
		o, err := c.read(n, victim, 3)
		if err != nil {
			t.Fatalf("%s: read %s: %v", n.ID(), victim, err)
		}
		v, err := c.ringVersion(n)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := c.members(n)
		if err != nil {
			t.Fatal(err)
		}
		var owners []string
		for _, m := range ms {
			if m.Owner && m.Status == "alive" {
				owners = append(owners, m.ID)
			}
		}
		slices.Sort(owners)
		refused, err := c.refusedTotal(n)
		if err != nil {
			t.Fatal(err)
		}
		after.add(n.ID(), fmt.Sprintf("%q", values(o)), versionsBefore[n.ID()], v, refused-refusedBefore[n.ID()], strings.Join(owners, ","))
		if !slices.Equal(values(o), []string{original}) {
			t.Errorf("%s reads %s as %q, want [%q]", n.ID(), victim, values(o), original)
		}
		if v != versionsBefore[n.ID()] {
			t.Errorf("%s: ring version %d, was %d before the attacks", n.ID(), v, versionsBefore[n.ID()])
		}
		if !slices.Equal(owners, nodeIDs) {
			t.Errorf("%s sees alive owners %v, want %v", n.ID(), owners, nodeIDs)
		}
	}
	after.log(t)
	refusedN1, err := c.refusedTotal(n1)
	if err != nil {
		t.Fatal(err)
	}
	// Two guarded attackers with two streams each.
	if grew := refusedN1 - refusedBefore["n1"]; grew < 4 {
		t.Errorf("n1's dht_remote_refused_total grew by %v, want at least 4 (two guarded attackers, two streams each)", grew)
	}
	if lines := strings.Count(n1.Log(), "refused traffic on the remote port"); lines == 0 {
		t.Error("n1's log has no line about the refused streams")
	} else {
		t.Logf("n1's log: %d line(s) about refused remote traffic (rate-limited per peer)", lines)
	}
	c.checkAllServing("outsiders")
}
