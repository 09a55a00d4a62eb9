package security

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/test/testutil"
	"github.com/dhtkv/dht/wire"
)

// forgedWrites is how many forged writes each case sends.
const forgedWrites = 64

// forgery makes the i-th forged context token for key from a real one.
type forgery struct {
	name string
	make func(rng *rand.Rand, key, real string, realVV dvv.VersionVector, otherKeyToken string) string
}

// inflated returns vv with every counter raised far beyond anything the
// replicas minted: a context claiming to have seen writes that never
// happened (and will not for a very long time).
func inflated(vv dvv.VersionVector) dvv.VersionVector {
	out := make(dvv.VersionVector, len(vv))
	for i, d := range vv {
		out[i] = dvv.Dot{Actor: d.Actor, Counter: d.Counter + 1<<40}
	}
	return out
}

// invented returns vv plus n actors no replica ever was.
func invented(rng *rand.Rand, vv dvv.VersionVector, n int) dvv.VersionVector {
	out := slices.Clone(vv)
	for range n {
		out = out.With(dvv.Dot{Actor: dvv.Actor(rng.Uint64() | 1), Counter: 1 + rng.Uint64N(1<<20)})
	}
	return out
}

var forgeries = []forgery{
	{"v1 token, valid CRC, counters inflated", func(_ *rand.Rand, key, _ string, vv dvv.VersionVector, _ string) string {
		return wire.EncodeContext([]byte(key), inflated(vv))
	}},
	{"v1 token, valid CRC, 400 invented actors", func(rng *rand.Rand, key, _ string, vv dvv.VersionVector, _ string) string {
		return wire.EncodeContext([]byte(key), invented(rng, vv, 400))
	}},
	{"real token, one bit flipped", func(rng *rand.Rand, _, real string, _ dvv.VersionVector, _ string) string {
		raw, _ := base64.RawURLEncoding.DecodeString(real)
		raw[rng.IntN(len(raw))] ^= byte(1 << rng.IntN(8))
		return base64.RawURLEncoding.EncodeToString(raw)
	}},
	{"real token, last byte cut", func(_ *rand.Rand, _, real string, _ dvv.VersionVector, _ string) string {
		raw, _ := base64.RawURLEncoding.DecodeString(real)
		return base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1])
	}},
	{"v2 token under another cluster's secret", func(_ *rand.Rand, key, _ string, vv dvv.VersionVector, _ string) string {
		return wire.ContextCodec{Secret: []byte("another-cluster-secret-0123456789")}.Encode([]byte(key), inflated(vv))
	}},
	{"v2 format, random MAC", func(rng *rand.Rand, _, real string, _ dvv.VersionVector, _ string) string {
		raw, _ := base64.RawURLEncoding.DecodeString(real)
		copy(raw[len(raw)-16:], randomBytes(rng, 16))
		return base64.RawURLEncoding.EncodeToString(raw)
	}},
	{"real token of another key", func(_ *rand.Rand, _, _ string, _ dvv.VersionVector, other string) string {
		return other
	}},
	{"not base64url", func(rng *rand.Rand, _, _ string, _ dvv.VersionVector, _ string) string {
		return fmt.Sprintf("!!forged+%d/==", rng.IntN(1000))
	}},
}

// TestSecurity_ForgedContexts sends 64 writes with fabricated context
// tokens (valid v1 checksums, altered, truncated and foreign tokens, a
// token of another key) to a key, through every node. With a context
// secret each is refused with 400 bad_context; afterwards the key still
// holds its value, a normal read-modify-write with the real context
// succeeds, and the stored context names no replica that does not exist
// (its token length is reported).
//
// Without a secret, v1 tokens are only checksummed, so the forged ones
// are accepted by design (docs/security.md); what must still hold is that
// they cannot make the key unwritable: a read-modify-write afterwards
// succeeds and the stored context stays bounded.
func TestSecurity_ForgedContexts(t *testing.T) {
	t.Run("context_secret", func(t *testing.T) {
		c := startCluster(t, clusterOptions{mutualTLS: true, https: true, contextSecret: true})
		c.forgedContexts(t, true)
	})
	t.Run("no_secret", func(t *testing.T) {
		c := startCluster(t, clusterOptions{})
		c.forgedContexts(t, false)
		t.Run("next_owner_counter_inflated", func(t *testing.T) { c.inflatedNextOwner(t) })
	})
}

// inflatedNextOwner forges, without a context secret, one v1 context for
// a key that covers its value and claims a far-future counter for the
// replica actor of the key's second owner: the actor that coordinates
// the key's writes once its first owner is down. The write is accepted
// (v1 tokens are only checksummed) and the claim lands in the stored
// context, where dvv.VersionVector.Bounded keeps it, since that actor is
// one the key knows. Then the first owner is killed and a legitimate
// read-modify-write goes through the second owner: it must succeed.
func (c *cluster) inflatedNextOwner(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	r, err := c.client(c.nodes[0]).Ring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const key = "sec/ctx/inflated"
	owners := r.Replicas[partitionOf(key)]
	first, next := c.node(owners[0]), c.node(owners[1])

	// The second owner's replica actor, from the context of a key it
	// coordinates: anyone who can read some key learns it this way.
	probe := ""
	for i := range 10000 {
		k := fmt.Sprintf("sec/ctx/actor-of/%d", i)
		if r.Replicas[partitionOf(k)][0] == next.ID() {
			probe = k
			break
		}
	}
	if probe == "" {
		t.Fatalf("no key among 10,000 whose first owner is %s", next.ID())
	}
	if _, err := c.write(next, probe, "probe", "", 3); err != nil {
		t.Fatal(err)
	}
	po, err := c.read(next, probe, 3)
	if err != nil {
		t.Fatal(err)
	}
	pvv, err := tokenVV(probe, po.Context)
	if err != nil || len(pvv) != 1 {
		t.Fatalf("the context of %s, coordinated by %s: %v, %v; want one actor", probe, next.ID(), pvv, err)
	}
	nextActor := pvv[0].Actor

	if _, err := c.write(first, key, "v0", "", 3); err != nil {
		t.Fatal(err)
	}
	o, err := c.read(first, key, 3)
	if err != nil {
		t.Fatal(err)
	}
	vv, err := tokenVV(key, o.Context)
	if err != nil {
		t.Fatal(err)
	}
	forged := wire.EncodeContext([]byte(key), vv.With(dvv.Dot{Actor: nextActor, Counter: 1 << 62}))
	_, forgedErr := c.write(first, key, "forged", forged, 3)
	stored, err := c.read(first, key, 3)
	if err != nil {
		t.Fatal(err)
	}
	svv, _ := tokenVV(key, stored.Context)

	first.Kill()
	if err := retry(60*time.Second, func() error {
		ms, err := c.members(next)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.ID == first.ID() && m.Status == client.MemberAlive {
				return fmt.Errorf("%s still sees %s alive", next.ID(), first.ID())
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var rmwErr error
	var before *client.Object
	_ = retry(30*time.Second, func() error {
		if before, rmwErr = c.read(next, key, 2); rmwErr != nil {
			return rmwErr
		}
		_, rmwErr = c.write(next, key, "after the first owner died", before.Context, 2)
		if apiErr, ok := errors.AsType[*client.Error](rmwErr); ok && apiErr.Status == 400 {
			return stop(rmwErr)
		}
		return rmwErr
	})
	tb := newTable(fmt.Sprintf("one forged v1 context for %s claiming counter 2^62 for %s's actor %x (no context secret):", key, next.ID(), uint64(nextActor)),
		"forged write", "stored context", "first owner", "RMW through "+next.ID())
	tb.add(describe(forgedErr), svv.String(), first.ID()+" killed", describe(rmwErr))
	tb.log(t)
	if rmwErr != nil {
		t.Errorf("with %s down, a read-modify-write of %s through %s fails after one forged context: %v", first.ID(), key, next.ID(), rmwErr)
	}
}

func (c *cluster) forgedContexts(t *testing.T, signed bool) {
	seed := testutil.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	const key, other = "sec/ctx/key", "sec/ctx/other"
	n1 := c.nodes[0]
	if _, err := c.write(n1, key, "v0", "", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := c.write(n1, other, "other", "", 3); err != nil {
		t.Fatal(err)
	}
	obj, err := c.read(n1, key, 3)
	if err != nil {
		t.Fatal(err)
	}
	real := obj.Context
	realVV, err := tokenVV(key, real)
	if err != nil {
		t.Fatal(err)
	}
	otherObj, err := c.read(n1, other, 3)
	if err != nil {
		t.Fatal(err)
	}

	type tally struct{ badContext, accepted, otherErr int }
	counts := make([]tally, len(forgeries))
	var lastOther error
	for i := range forgedWrites {
		kind := i % len(forgeries)
		token := forgeries[kind].make(rng, key, real, realVV, otherObj.Context)
		_, err := c.write(c.nodes[i%len(c.nodes)], key, fmt.Sprintf("forged %d", i), token, 0)
		apiErr, isAPI := errors.AsType[*client.Error](err)
		switch {
		case err == nil:
			counts[kind].accepted++
		case isAPI && apiErr.Status == 400 && apiErr.Code == "bad_context":
			counts[kind].badContext++
		default:
			counts[kind].otherErr++
			lastOther = err
		}
	}
	tb := newTable(fmt.Sprintf("%d forged-context writes to %s (signed contexts: %v, seed %d):", forgedWrites, key, signed, seed),
		"forgery", "400 bad_context", "accepted", "other error")
	for k, f := range forgeries {
		tb.add(f.name, counts[k].badContext, counts[k].accepted, counts[k].otherErr)
	}
	tb.log(t)
	if lastOther != nil {
		t.Logf("last other error: %v", lastOther)
	}

	// What a legitimate client does next: read, write back with the
	// context it got, read again.
	before, err := c.read(n1, key, 3)
	if err != nil {
		t.Fatalf("read after the forged writes: %v", err)
	}
	res, rmwErr := c.write(n1, key, "v1 after forgeries", before.Context, 3)
	after, err := c.read(n1, key, 3)
	if err != nil {
		t.Fatalf("read after the read-modify-write: %v", err)
	}
	storedVV, vvErr := tokenVV(key, after.Context)
	summary := newTable("afterwards:", "siblings before RMW", "RMW", "values after", "context token bytes", "context entries")
	rmw := "ok"
	if rmwErr != nil {
		rmw = clip(rmwErr.Error(), 90)
	} else {
		rmw = fmt.Sprintf("ok, %d sibling(s)", res.Siblings)
	}
	summary.add(len(before.Siblings), rmw, fmt.Sprintf("%q", clip(fmt.Sprint(values(after)), 60)), len(after.Context), len(storedVV))
	summary.log(t)

	if signed {
		for k, f := range forgeries {
			if counts[k].badContext != forgedWrites/len(forgeries) {
				t.Errorf("%s: %d of %d refused with 400 bad_context (%d accepted, %d other)", f.name,
					counts[k].badContext, forgedWrites/len(forgeries), counts[k].accepted, counts[k].otherErr)
			}
		}
		if !slices.Equal(values(before), []string{"v0"}) {
			t.Errorf("after the refused forgeries the key holds %q, want [v0]", values(before))
		}
	}
	if rmwErr != nil {
		t.Fatalf("a read-modify-write with the real context failed after %d forged writes: the key is unwritable: %v", forgedWrites, rmwErr)
	}
	if !slices.Equal(values(after), []string{"v1 after forgeries"}) {
		t.Errorf("after the read-modify-write the key holds %q, want only the value written", values(after))
	}
	if vvErr != nil {
		t.Fatalf("the stored context: %v", vvErr)
	}
	// Signed: only the replicas' own actors. Unsigned: the bound of
	// dvv.MaxContextEntries on what client contexts bring in, plus the
	// replicas'.
	limit := len(c.nodes)
	if !signed {
		limit = dvv.MaxContextEntries + len(c.nodes)
	}
	if len(storedVV) > limit {
		t.Errorf("the stored context has %d entries, want at most %d", len(storedVV), limit)
	}
}
