package replica

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/merkle"
)

// drainFirst reports whether a scan must wait: it must see every write the
// machine has made, and async ones may not have landed yet. Waiting sets
// the barrier, so that no request overtakes the scan.
func (m *Machine[A]) drainFirst() bool {
	if !m.barrier && m.async > 0 {
		m.barrier = true
	}
	return m.barrier
}

// HandoffPull answers one page of a partition transfer: the stored objects
// of the keys after after, in key order, up to maxKeys keys and maxBytes
// bytes (at least one key). A corrupt record stops the transfer loudly
// rather than skipping a key the receiver would then never get. Answers
// ReplyHandoffPull.
func (m *Machine[A]) HandoffPull(to A, after []byte, maxKeys, maxBytes int) Effects[A] {
	if m.drainFirst() {
		return Effects[A]{Defer: true}
	}
	if maxKeys <= 0 || maxBytes <= 0 {
		return Effects[A]{Reply: errorReply(to, OpHandoffPull, CodeBadRequest, "vnode: handoff pull: max_keys and max_bytes must be positive")}
	}
	var start []byte
	if len(after) > 0 {
		// The smallest key after after: the same bytes and a zero byte.
		start = append(slices.Clip(after), 0)
	}
	pull := Pull{Done: true, Generation: m.generation, TotalKeys: uint64(m.Len())}
	size := 0
	var decodeErr error
	err := m.cfg.Store.Scan(start, func(key, value []byte) bool {
		if len(pull.Entries) >= maxKeys || (len(pull.Entries) > 0 && size+len(key)+len(value) > maxBytes) {
			pull.Done = false
			return false
		}
		set, err := m.cfg.Codec.Decode(value)
		if err != nil {
			decodeErr = fmt.Errorf("vnode: handoff pull: stored %q: %w", key, err)
			return false
		}
		pull.Entries = append(pull.Entries, KeyObject{Key: slices.Clone(key), Object: set})
		size += len(key) + len(value)
		return true
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return Effects[A]{Reply: errorReply(to, OpHandoffPull, CodeStorage, err.Error())}
	}
	return Effects[A]{Reply: Reply[A]{To: to, Op: OpHandoffPull, Kind: ReplyHandoffPull, Pull: pull}}
}

// HandoffPullKeys answers one page of a transfer that compared Merkle trees
// first: the stored objects of keys, in their order, up to maxBytes bytes
// (at least one key answered). A key not stored here is skipped: it was
// reaped or dropped since the comparison listed it, and the receiver needs
// nothing for it. Pull.Answered says how many keys, from the front, the
// page covers; Done is set once it covers them all. Answers
// ReplyHandoffPull.
func (m *Machine[A]) HandoffPullKeys(to A, keys [][]byte, maxBytes int) Effects[A] {
	if m.drainFirst() {
		return Effects[A]{Defer: true}
	}
	if maxBytes <= 0 {
		return Effects[A]{Reply: errorReply(to, OpHandoffPull, CodeBadRequest, "vnode: handoff pull: max_bytes must be positive")}
	}
	pull := Pull{Generation: m.generation, TotalKeys: uint64(m.Len())}
	size := 0
	for _, key := range keys {
		raw, found, err := m.cfg.Store.Get(key)
		if err != nil {
			return Effects[A]{Reply: errorReply(to, OpHandoffPull, CodeStorage, fmt.Sprintf("vnode: handoff pull: read %q: %v", key, err))}
		}
		if found && len(pull.Entries) > 0 && size+len(key)+len(raw) > maxBytes {
			break
		}
		pull.Answered++
		if !found {
			continue
		}
		set, err := m.cfg.Codec.Decode(raw)
		if err != nil {
			return Effects[A]{Reply: errorReply(to, OpHandoffPull, CodeStorage, fmt.Sprintf("vnode: handoff pull: stored %q: %v", key, err))}
		}
		pull.Entries = append(pull.Entries, KeyObject{Key: slices.Clone(key), Object: set})
		size += len(key) + len(raw)
	}
	pull.Done = pull.Answered == len(keys)
	return Effects[A]{Reply: Reply[A]{To: to, Op: OpHandoffPull, Kind: ReplyHandoffPull, Pull: pull}}
}

// BucketKeys lists the stored keys of the given Merkle buckets with their
// value hashes, for anti-entropy. Answers ReplyBucketKeys.
func (m *Machine[A]) BucketKeys(to A, buckets []int) Effects[A] {
	if m.drainFirst() {
		return Effects[A]{Defer: true}
	}
	if m.tree == nil {
		return Effects[A]{Reply: errorReply(to, OpNone, CodeStorage, "vnode: no Merkle tree")}
	}
	in := m.tree.KeyFilter(buckets)
	var versions []KeyVersion
	err := m.cfg.Store.Scan(nil, func(key, value []byte) bool {
		if in(key) {
			versions = append(versions, KeyVersion{Key: slices.Clone(key), Hash: merkle.ValueHash(value)})
		}
		return true
	})
	if err != nil {
		return Effects[A]{Reply: errorReply(to, OpNone, CodeStorage, err.Error())}
	}
	return Effects[A]{Reply: Reply[A]{To: to, Kind: ReplyBucketKeys, Versions: versions}}
}

// Tombstones lists up to limit (all when not positive) keys holding only
// tombstones older than cutoff (dvv.Reapable on this copy alone); records
// that cannot be decoded are skipped. Answers ReplyTombstones.
func (m *Machine[A]) Tombstones(to A, cutoff int64, limit int) Effects[A] {
	if m.drainFirst() {
		return Effects[A]{Defer: true}
	}
	var keys [][]byte
	err := m.cfg.Store.Scan(nil, func(key, value []byte) bool {
		set, err := m.cfg.Codec.Decode(value)
		if err != nil || !dvv.Reapable([]dvv.Set{set}, 1, cutoff) {
			return true
		}
		keys = append(keys, slices.Clone(key))
		return limit <= 0 || len(keys) < limit
	})
	if err != nil {
		return Effects[A]{Reply: errorReply(to, OpNone, CodeStorage, err.Error())}
	}
	return Effects[A]{Reply: Reply[A]{To: to, Kind: ReplyTombstones, Keys: keys}}
}

// MerkleLevel answers the hashes of the children of parents at level of
// the partition's Merkle tree. Answers ReplyMerkle.
func (m *Machine[A]) MerkleLevel(to A, level int, parents []int) Effects[A] {
	if m.barrier {
		return Effects[A]{Defer: true}
	}
	if m.tree == nil {
		return Effects[A]{Reply: errorReply(to, OpNone, CodeStorage, "vnode: no Merkle tree")}
	}
	hashes, err := m.tree.Level(level, parents)
	if err != nil {
		return Effects[A]{Reply: errorReply(to, OpNone, CodeBadRequest, err.Error())}
	}
	return Effects[A]{Reply: Reply[A]{To: to, Kind: ReplyMerkle, Hashes: hashes, Shape: m.tree.Shape(),
		Pull: Pull{Generation: m.generation, TotalKeys: uint64(m.Len())}}}
}

// Drop deletes every key of the partition, unless a write was taken since
// generation (a Pull's): the caller has pushed everything up to then to
// the partition's serving replicas. Answers ReplyDropped.
func (m *Machine[A]) Drop(to A, generation uint64) Effects[A] {
	if m.drainFirst() {
		return Effects[A]{Defer: true}
	}
	if generation != m.generation {
		return Effects[A]{Reply: Reply[A]{To: to, Kind: ReplyDropped}}
	}
	m.lastID++
	m.writes[m.lastID] = pendingWrite[A]{to: to, kind: WriteDropAll}
	return Effects[A]{Write: Write{Kind: WriteDropAll, ID: m.lastID}}
}

// ListMaxBytes bounds the stored bytes of one List page with values, at
// least one key: a page of 10,000 values of 1 MiB must not become one
// remote message of 10 GiB. The page then ends early, not Done, and the
// caller asks for the keys after its last one. It is the handoff's default
// batch size (handoff.transfer_batch_bytes).
const ListMaxBytes = 1 << 20

// List answers one page of key listing: the live keys having prefix that
// sort after after, in key order, up to limit keys, each with its stored
// object when withValues is set (tombstones included, so that the caller
// can merge several replicas' objects). A key whose siblings are all
// tombstones, or expired at now (a TTL), is skipped: a deleted key is not
// listed. A record that cannot
// be decoded fails the page rather than be silently left out. A page with
// values also ends at ListMaxBytes. Pull.Done is set when no matching key
// follows the page. Answers ReplyList.
func (m *Machine[A]) List(to A, prefix, after []byte, limit int, withValues bool, now time.Time) Effects[A] {
	if m.drainFirst() {
		return Effects[A]{Defer: true}
	}
	if limit <= 0 {
		return Effects[A]{Reply: errorReply(to, OpNone, CodeBadRequest, "vnode: list: limit must be positive")}
	}
	start := prefix
	if len(after) > 0 && bytes.Compare(after, prefix) >= 0 {
		// The smallest key after after: the same bytes and a zero byte.
		start = append(slices.Clip(after), 0)
	}
	if len(start) == 0 {
		start = nil
	}
	pull := Pull{Done: true}
	size := 0
	var decodeErr error
	err := m.cfg.Store.Scan(start, func(key, value []byte) bool {
		if !bytes.HasPrefix(key, prefix) {
			// Keys are in order: past the prefix, none can match.
			return false
		}
		set, err := m.cfg.Codec.Decode(value)
		if err != nil {
			decodeErr = fmt.Errorf("vnode: list: stored %q: %w", key, err)
			return false
		}
		if len(set.At(now).Live()) == 0 {
			return true
		}
		if len(pull.Entries) >= limit || (withValues && len(pull.Entries) > 0 && size+len(key)+len(value) > ListMaxBytes) {
			pull.Done = false
			return false
		}
		e := KeyObject{Key: slices.Clone(key)}
		size += len(key)
		if withValues {
			e.Object = set
			size += len(value)
		}
		pull.Entries = append(pull.Entries, e)
		return true
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return Effects[A]{Reply: errorReply(to, OpNone, CodeStorage, err.Error())}
	}
	return Effects[A]{Reply: Reply[A]{To: to, Kind: ReplyList, Pull: pull}}
}
