package replica

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dhtkv/dht/internal/dvv"
)

type rig struct {
	m     *Machine[string]
	store *memStore
}

func newRig(t *testing.T, async bool) *rig {
	t.Helper()
	r := &rig{store: newMemStore()}
	r.m = New[string](Config{Partition: 7, Store: r.store, Codec: jsonCodec{}, Minter: &fakeMinter{next: 100},
		Logger: &discard{}, Async: async, CacheBytes: 1 << 20})
	r.m.Start()
	return r
}

// do carries out eff's writes against the store (async ones at once, when
// land is set) and returns every reply, as the vnode would send them.
func (r *rig) do(eff Effects[string], land bool) []Reply[string] {
	var out []Reply[string]
	for {
		w := eff.Write
		if eff.Reply.Kind != ReplyNone {
			out = append(out, eff.Reply)
		}
		switch w.Kind {
		case WriteNone:
			return out
		case WritePutAsync:
			if !land {
				return out
			}
			fallthrough
		case WritePut:
			r.store.data[string(w.Key)] = w.Value
		case WriteDelete:
			delete(r.store.data, string(w.Key))
		case WriteDropAll:
			clear(r.store.data)
		}
		eff = r.m.WriteDone(w.ID, nil)
	}
}

func (r *rig) put(key, value string, ctx dvv.VersionVector, max int) Reply[string] {
	replies := r.do(r.m.Put("c", PutRequest{Key: []byte(key), Context: ctx, Value: dvv.Sibling{Value: []byte(value)}, MaxSiblings: max}, t0), true)
	return replies[len(replies)-1]
}

func TestMachine_PutVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ctx       dvv.VersionVector
		max       int
		failMint  bool
		wantCode  Code
		wantDot   uint64
		wantWrite bool
	}{
		{name: "a first write mints the next dot", wantDot: 100, wantWrite: true},
		{name: "a context ahead of the minter mints above it", ctx: dvv.NewVersionVector(dvv.Dot{Actor: 1, Counter: 7000}), wantDot: 7001, wantWrite: true},
		{name: "another replica's counter does not move the floor", ctx: dvv.NewVersionVector(dvv.Dot{Actor: 2, Counter: 7000}), wantDot: 100, wantWrite: true},
		{name: "a counter beyond any minted by now is a bad context", ctx: dvv.NewVersionVector(dvv.Dot{Actor: 2, Counter: PlausibleCounter(t0) + 1}), wantCode: CodeBadContext},
		{name: "a counter at the bound is believed", ctx: dvv.NewVersionVector(dvv.Dot{Actor: 2, Counter: PlausibleCounter(t0)}), wantDot: 100, wantWrite: true},
		{name: "a second sibling over max=1 is refused", max: 1, wantCode: CodeTooManySiblings},
		{name: "a mint that fails is a storage error", failMint: true, wantCode: CodeStorage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, false)
			if tc.max > 0 {
				r.put("k", "first", nil, 0)
			}
			r.m.cfg.Minter.(*fakeMinter).fail = tc.failMint
			eff := r.m.Put("c", PutRequest{Key: []byte("k"), Context: tc.ctx, Value: dvv.Sibling{Value: []byte("v")}, MaxSiblings: tc.max}, t0)
			if got := eff.Write.Kind != WriteNone; got != tc.wantWrite {
				t.Fatalf("write %v, want %v (effects %+v)", got, tc.wantWrite, eff)
			}
			replies := r.do(eff, true)
			last := replies[len(replies)-1]
			if last.Code != tc.wantCode {
				t.Fatalf("code %d (%s), want %d", last.Code, last.Message, tc.wantCode)
			}
			if tc.wantCode == CodeNone {
				if d := last.Object.Siblings[len(last.Object.Siblings)-1].Dot; d.Counter != tc.wantDot || d.Actor != 1 {
					t.Errorf("minted %v, want 1:%d", d, tc.wantDot)
				}
				if last.Object.Siblings[0].Timestamp != t0.UnixMilli() {
					t.Errorf("timestamp %d, want now %d", last.Object.Siblings[0].Timestamp, t0.UnixMilli())
				}
			}
		})
	}
}

// An async machine answers a write once it lands, an early one twice, and
// its reads see writes in flight.
func TestMachine_AsyncAnswers(t *testing.T) {
	for _, early := range []bool{false, true} {
		t.Run(fmt.Sprintf("early=%t", early), func(t *testing.T) {
			r := newRig(t, true)
			eff := r.m.Put("c", PutRequest{Key: []byte("k"), Value: dvv.Sibling{Value: []byte("v")}, Early: early}, t0)
			if eff.Write.Kind != WritePutAsync {
				t.Fatalf("write %v, want an async put", eff.Write.Kind)
			}
			if got := eff.Reply.Kind == ReplyPut && eff.Reply.Minted; got != early {
				t.Fatalf("answered at once: %v, want %v", got, early)
			}
			got := r.do(r.m.Get("g", []byte("k")), false)
			if len(got) != 1 || len(got[0].Object.Siblings) != 1 {
				t.Fatalf("a read with the write in flight: %+v", got)
			}
			if r.m.Pending() != 1 || r.m.Generation() != 1 || r.m.Len() != 1 {
				t.Errorf("pending %d, generation %d, keys %d; want 1, 1, 1", r.m.Pending(), r.m.Generation(), r.m.Len())
			}
			done := r.m.WriteDone(eff.Write.ID, nil)
			if done.Reply.Kind != ReplyPut || done.Reply.HasObject == early || done.Reply.Minted {
				t.Errorf("confirmation %+v: want a put reply, with the object unless early", done.Reply)
			}
			if again := r.m.WriteDone(eff.Write.ID, nil); again.Reply.Kind != ReplyNone {
				t.Errorf("a second report of the same write answered %+v", again.Reply)
			}
		})
	}
}

// A failed async write is forgotten: the cache drops it, and the Merkle
// tree is rebuilt from the store once nothing is in flight.
func TestMachine_FailedAsyncWriteRebuildsTheTree(t *testing.T) {
	r := newRig(t, true)
	first := r.m.Put("c", PutRequest{Key: []byte("k"), Value: dvv.Sibling{Value: []byte("kept")}}, t0)
	r.do(first, true)
	r.m.WriteDone(first.Write.ID, nil)
	rootBefore := r.m.Root()

	lost := r.m.Put("c", PutRequest{Key: []byte("k"), Value: dvv.Sibling{Value: []byte("lost")}}, t0)
	other := r.m.Put("c", PutRequest{Key: []byte("o"), Value: dvv.Sibling{Value: []byte("o")}}, t0)
	eff := r.m.WriteDone(lost.Write.ID, errors.New("disk full"))
	if eff.Reply.Code != CodeStorage || eff.Resume {
		t.Fatalf("failure: %+v; want a storage error and no resume while a write is in flight", eff)
	}
	if d := r.m.Get("g", []byte("k")); !d.Defer {
		t.Fatalf("a read while the failure is unresolved: %+v, want it deferred", d)
	}
	delete(r.store.data, "o") // the second write fails to land too, silently
	eff = r.m.WriteDone(other.Write.ID, nil)
	if !eff.Resume || !eff.Publish {
		t.Fatalf("drained: %+v, want resume and publish", eff)
	}
	if r.m.Root() != rootBefore || r.m.Len() != 1 {
		t.Errorf("root %x with %d keys after the rebuild, want %x with 1 (what is stored)", r.m.Root(), r.m.Len(), rootBefore)
	}
	got := r.do(r.m.Get("g", []byte("k")), false)
	if v := string(got[0].Object.Siblings[0].Value); len(got[0].Object.Siblings) != 1 || v != "kept" {
		t.Errorf("read %v after the failure, want only kept", formatSet(got[0].Object))
	}
}

func TestMachine_ReapVerdicts(t *testing.T) {
	tomb, _ := parseSet("~@2:1", "", 10)
	other, _ := parseSet("~@2:2", "", 10)
	live, _ := parseSet("v@2:1", "", 10)
	for _, tc := range []struct {
		name   string
		stored *dvv.Set
		want   dvv.Set
		reaped bool
	}{
		{"the tombstone checked", &tomb, tomb, true},
		{"another tombstone", &tomb, other, false},
		{"a live value", &live, live, false},
		{"nothing stored", nil, tomb, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, false)
			if tc.stored != nil {
				r.do(r.m.Merge("p", []byte("k"), *tc.stored), true)
			}
			gen := r.m.Generation()
			got := r.do(r.m.Reap("ae", []byte("k"), tc.want, t0), true)
			if len(got) != 1 || got[0].Reaped != tc.reaped {
				t.Fatalf("replies %+v, want reaped=%t", got, tc.reaped)
			}
			if _, stored := r.store.data["k"]; stored == tc.reaped && tc.stored != nil {
				t.Errorf("stored after the reap: %v", stored)
			}
			if tc.reaped != (r.m.Generation() == gen+1) {
				t.Errorf("generation %d → %d", gen, r.m.Generation())
			}
		})
	}
}

func TestMachine_DropChecksTheGeneration(t *testing.T) {
	for _, tc := range []struct {
		name    string
		gen     uint64
		dropped bool
	}{{"current", 2, true}, {"stale", 1, false}, {"ahead", 3, false}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, false)
			r.put("a", "1", nil, 0)
			r.put("b", "2", nil, 0)
			got := r.do(r.m.Drop("h", tc.gen), true)
			if len(got) != 1 || got[0].Dropped.Done != tc.dropped {
				t.Fatalf("replies %+v, want done=%t", got, tc.dropped)
			}
			if want := map[bool]int{true: 0, false: 2}[tc.dropped]; len(r.store.data) != want || r.m.Len() != want {
				t.Errorf("%d stored, %d in the tree; want %d", len(r.store.data), r.m.Len(), want)
			}
			if tc.dropped && got[0].Dropped.Keys != 2 {
				t.Errorf("dropped %d keys, want 2", got[0].Dropped.Keys)
			}
		})
	}
}

func TestMachine_HandoffPullPages(t *testing.T) {
	r := newRig(t, false)
	for _, k := range []string{"a", "b", "c", "d"} {
		r.put(k, "v", nil, 0)
	}
	size := len("a") + len(r.store.data["a"])
	for _, tc := range []struct {
		name              string
		after             string
		maxKeys, maxBytes int
		want              string
		done              bool
	}{
		{"everything", "", 10, 1 << 20, "abcd", true},
		{"by keys", "", 3, 1 << 20, "abc", false},
		{"after a key", "b", 10, 1 << 20, "cd", true},
		{"after the last", "d", 10, 1 << 20, "", true},
		{"by bytes", "", 10, 2 * size, "ab", false},
		{"one key over the byte budget", "", 10, 1, "a", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := r.do(r.m.HandoffPull("h", []byte(tc.after), tc.maxKeys, tc.maxBytes), false)[0]
			keys := ""
			for _, e := range got.Pull.Entries {
				keys += string(e.Key)
			}
			if keys != tc.want || got.Pull.Done != tc.done || got.Pull.TotalKeys != 4 || got.Pull.Generation != 4 {
				t.Errorf("page %q done=%t total=%d generation=%d; want %q done=%t, 4, 4", keys, got.Pull.Done, got.Pull.TotalKeys, got.Pull.Generation, tc.want, tc.done)
			}
		})
	}
}

func TestMachine_HandoffPullKeysAnswersTheListedKeys(t *testing.T) {
	r := newRig(t, false)
	for _, k := range []string{"a", "b", "c", "d"} {
		r.put(k, "v", nil, 0)
	}
	size := len("a") + len(r.store.data["a"])
	for _, tc := range []struct {
		name     string
		keys     string
		maxBytes int
		want     string
		answered int
	}{
		{"the listed keys only", "bd", 1 << 20, "bd", 2},
		{"a key not held is skipped but answered", "bxd", 1 << 20, "bd", 3},
		{"by bytes", "abcd", 2 * size, "ab", 2},
		{"one key over the byte budget", "cd", 1, "c", 1},
		{"absent keys cost no bytes", "xyc", 1, "c", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var keys [][]byte
			for _, k := range tc.keys {
				keys = append(keys, []byte{byte(k)})
			}
			got := r.do(r.m.HandoffPullKeys("h", keys, tc.maxBytes), false)[0]
			entries := ""
			for _, e := range got.Pull.Entries {
				entries += string(e.Key)
			}
			done := tc.answered == len(keys)
			if entries != tc.want || got.Pull.Answered != tc.answered || got.Pull.Done != done || got.Pull.Generation != 4 {
				t.Errorf("page %q answered=%d done=%t generation=%d; want %q, %d, %t, 4",
					entries, got.Pull.Answered, got.Pull.Done, got.Pull.Generation, tc.want, tc.answered, done)
			}
		})
	}
}

func TestMachine_MerkleLevelTellsGenerationAndKeys(t *testing.T) {
	r := newRig(t, false)
	r.put("a", "1", nil, 0)
	r.put("b", "2", nil, 0)
	got := r.do(r.m.MerkleLevel("h", 0, nil), false)[0]
	if got.Kind != ReplyMerkle || got.Pull.Generation != 2 || got.Pull.TotalKeys != 2 {
		t.Fatalf("reply %v generation=%d keys=%d; want a Merkle reply at generation 2 with 2 keys", got.Kind, got.Pull.Generation, got.Pull.TotalKeys)
	}
}

func TestPlausibleCounter_AllowsADayOfSkew(t *testing.T) {
	if got, want := PlausibleCounter(t0), uint64(t0.UnixMilli()+24*3600*1000)*CounterPerMilli; got != want {
		t.Fatalf("PlausibleCounter = %d, want %d", got, want)
	}
}
