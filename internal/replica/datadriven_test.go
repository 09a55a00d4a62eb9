package replica

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestReplica_Scenarios runs the stories in testdata/: events in, effects
// out, one per line. go test ./internal/replica -run Scenarios -rewrite
// rewrites the expected output after a deliberate change.
//
// Commands (to= names the requester; now= is milliseconds after t0):
//
//	new [async] [cache=bytes]      a fresh machine over an empty store
//	put to key value [ctx] [early] [max] [now] [ttl] [delete]
//	get to key | merge to key set [ctx] [ts] | merge-batch to entries
//	reap to key set [ctx] [ts] [now] | drop to gen
//
// A set is value@actor:counter[!expiry],…; "~" is a tombstone, and !N a
// value that expires N ms after t0. ttl= is a put's TTL in ms, put
// precondition if-none-match-any makes it If-None-Match: *.
//
//	pull to [after] max-keys max-bytes | tombstones to cutoff [limit]
//	bucket-keys to key (its bucket) | merkle to level parents
//	done id [err]                  the engine answers async write id
//	store key value|corrupt        write the store behind the machine's back
//	fail what=reads|writes|mint [off]   inject failures, or stop
//	state                          generation, writes pending, keys, store
//
// Synchronous writes are carried out at once against the store (failing
// while writes fail), and their outcome stepped, as the vnode does; async
// ones wait for done.
func TestReplica_Scenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var h *scenario
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "new" {
				h = newScenario(d.HasArg("async"), intArg(d, "cache", 1<<20))
				return h.flush()
			}
			if h == nil {
				d.Fatalf(t, "%s before new", d.Cmd)
			}
			if err := h.step(d); err != nil {
				return "error: " + err.Error()
			}
			return h.flush()
		})
	})
}

type scenario struct {
	m      *Machine[string]
	store  *memStore
	minter *fakeMinter
	log    *discard
	async  map[uint64]Write
	// deferred are the requests the machine deferred, as the vnode keeps
	// them, replayed on Resume.
	deferred   []func() Effects[string]
	failWrites bool
	out        strings.Builder
}

func newScenario(async bool, cache int) *scenario {
	h := &scenario{store: newMemStore(), minter: &fakeMinter{next: 100}, log: &discard{}, async: map[uint64]Write{}}
	h.m = New[string](Config{Partition: 7, Store: h.store, Codec: jsonCodec{}, Minter: h.minter, Logger: h.log,
		Async: async, CacheBytes: cache})
	h.carry(h.m.Start())

	return h
}

func (h *scenario) flush() string {
	if h.log.last != "" {
		fmt.Fprintf(&h.out, "log: %s\n", h.log.last)
		h.log.last = ""
	}
	s := h.out.String()
	h.out.Reset()
	if s == "" {
		return "ok\n"
	}
	return s
}

func strArg(d *datadriven.TestData, key string) string {
	if a, ok := d.Arg(key); ok && len(a.Vals) > 0 {
		return strings.Join(a.Vals, ",")
	}
	return ""
}

func intArg(d *datadriven.TestData, key string, def int) int {
	s := strArg(d, key)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(fmt.Sprintf("%s=%s: %v", key, s, err))
	}
	return n
}

func (h *scenario) step(d *datadriven.TestData) error {
	to := strArg(d, "to")
	key := []byte(strArg(d, "key"))
	now := t0.Add(time.Duration(intArg(d, "now", 0)) * time.Millisecond)
	switch d.Cmd {
	case "put":
		ctx, err := parseVV(strArg(d, "ctx"))
		if strArg(d, "ctx") == "" {
			ctx, err = nil, nil
		}
		if err != nil {
			return err
		}
		req := PutRequest{Key: key, Context: ctx, MaxSiblings: intArg(d, "max", 0), Early: d.HasArg("early"),
			TTL: time.Duration(intArg(d, "ttl", 0)) * time.Millisecond}
		if d.HasArg("if-none-match-any") {
			req.Precondition.IfNoneMatch = &TagTest{Any: true}
		}
		req.Value.Value = []byte(strArg(d, "value"))
		req.Value.Tombstone = d.HasArg("delete")
		h.request(func() Effects[string] { return h.m.Put(to, req, now) })
	case "get":
		h.request(func() Effects[string] { return h.m.Get(to, key) })
	case "merge", "reap":
		s, err := parseSet(strArg(d, "set"), strArg(d, "ctx"), int64(intArg(d, "ts", 0)))
		if err != nil {
			return err
		}
		if d.Cmd == "merge" {
			h.request(func() Effects[string] { return h.m.Merge(to, key, s) })
		} else {
			h.request(func() Effects[string] { return h.m.Reap(to, key, s, now) })
		}
	case "merge-batch":
		var entries []Entry
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			k, sibs, _ := strings.Cut(line, " ")
			if k == "-" {
				k = ""
			}
			s, err := parseSet(sibs, "", 0)
			entries = append(entries, Entry{Key: []byte(k), Object: s, Err: err})
		}
		h.request(func() Effects[string] { return h.m.MergeBatch(to, entries) })
	case "drop":
		gen := uint64(intArg(d, "gen", 0))
		h.request(func() Effects[string] { return h.m.Drop(to, gen) })
	case "pull":
		after, maxKeys, maxBytes := []byte(strArg(d, "after")), intArg(d, "max-keys", 0), intArg(d, "max-bytes", 0)
		h.request(func() Effects[string] { return h.m.HandoffPull(to, after, maxKeys, maxBytes) })
	case "tombstones":
		cutoff, limit := int64(intArg(d, "cutoff", 0)), intArg(d, "limit", 0)
		h.request(func() Effects[string] { return h.m.Tombstones(to, cutoff, limit) })
	case "bucket-keys":
		// The bucket of key, so that the story need not know the hash.
		buckets := []int{h.m.tree.Bucket(key)}
		h.request(func() Effects[string] { return h.m.BucketKeys(to, buckets) })
	case "merkle":
		level, parents := intArg(d, "level", 0), []int{intArg(d, "parent", 0)}
		h.request(func() Effects[string] { return h.m.MerkleLevel(to, level, parents) })
	case "done":
		id := uint64(intArg(d, "id", 0))
		var err error
		if e := strArg(d, "err"); e != "" {
			err = fmt.Errorf("%s", e)
		} else if w, ok := h.async[id]; ok {
			h.store.data[string(w.Key)] = w.Value
		}
		delete(h.async, id)
		h.carry(h.m.WriteDone(id, err))

	case "store":
		v := []byte(strArg(d, "value"))
		if d.HasArg("corrupt") {
			v = []byte("not json")
		}
		h.store.data[string(key)] = v
	case "fail":
		on := !d.HasArg("off")
		switch strArg(d, "what") {
		case "reads":
			h.store.failReads = on
		case "writes":
			h.failWrites = on
		case "mint":
			h.minter.fail = on
		}
	case "state":
		h.state()
	default:
		return fmt.Errorf("unknown command %q", d.Cmd)
	}
	return nil
}
