package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/dhtkv/dht/internal/merkle"
)

// Repair is what anti-entropy did for nodes coming back: for each partition
// a returning node holds, one Merkle exchange against a replica that stayed
// up, then the listings of the differing buckets.
type Repair struct {
	// Exchanges is how many (node, partition) pairs were compared.
	Exchanges int
	// Missed is how many key versions the returning nodes lacked (the
	// distinct keys written to their partitions during the outage, per
	// returning replica); Found how many the exchanges named. The Merkle
	// tree misses none, so they are equal.
	Missed, Found int
	// DescentBytes is what the descents sent (8 bytes per hash received,
	// 4 per parent asked); ListingBytes the peers' listings of the
	// differing buckets (each key and its value hash); DataBytes the values
	// pulled.
	DescentBytes, ListingBytes, DataBytes int64
}

// repairModel holds the keys the repair model tracks, the same in every
// partition, and two trees over them: stale (every key at its old value)
// and fresh, which takes a partition's writes during an exchange and is put
// back afterwards (a Merkle write is undone by subtracting).
type repairModel struct {
	keys    [][]byte
	oldHash uint64 // value hash before the outage
	newHash uint64 // value hash of a key written during it
	stale   *merkle.Tree
	fresh   *merkle.Tree
	// written marks the keys fresh holds at their new value.
	written []bool
	listed  []merkle.KeyVersion
	theirs  []merkle.KeyVersion
}

func newRepairModel(keys int) *repairModel {
	m := &repairModel{
		keys:    make([][]byte, keys),
		written: make([]bool, keys),
		oldHash: merkle.ValueHash([]byte("before")),
		newHash: merkle.ValueHash([]byte("during")),
	}
	shape := merkle.DefaultShape()
	var err error
	if m.stale, err = merkle.NewTree(shape.Fanout, shape.Depth); err != nil {
		panic(err) // the default shape is valid
	}
	if m.fresh, err = merkle.NewTree(shape.Fanout, shape.Depth); err != nil {
		panic(err)
	}
	for i := range m.keys {
		m.keys[i] = []byte(fmt.Sprintf("key-%06d", i))
		m.stale.Put(m.keys[i], m.oldHash, 0, false)
		m.fresh.Put(m.keys[i], m.oldHash, 0, false)
	}
	return m
}

// repair models the writes the nodes in down missed while out for elapsed,
// and runs the Merkle exchange that finds them.
func (s *Sim) repair(elapsed time.Duration, down []string) Repair {
	if s.repairModel == nil {
		s.repairModel = newRepairModel(s.cfg.KeysPerPartition)
	}
	m := s.repairModel
	isDown := make(map[string]bool, len(down))
	for _, id := range down {
		isDown[id] = true
	}
	var r Repair
	perPartition := float64(s.cfg.WritesPerSecond) * elapsed.Seconds() / float64(s.partitions())
	valueBytes := s.cfg.DataBytes / int64(s.partitions()) / int64(len(m.keys))
	written := m.written
	var changed []int
	for _, ids := range s.plan.Table.Replicas {
		stale := 0
		for _, id := range ids {
			if isDown[id] {
				stale++
			}
		}
		if stale == 0 || stale == len(ids) {
			// Nobody up to compare with (and nobody took the writes).
			continue
		}
		// The writes of p during the outage: the whole part of the rate,
		// and one more with the probability of the fractional part.
		writes := int(perPartition)
		if s.rng.Float64() < perPartition-math.Floor(perPartition) {
			writes++
		}
		changed = changed[:0]
		for range writes {
			k := s.rng.IntN(len(m.keys))
			if !written[k] {
				written[k] = true
				changed = append(changed, k)
				m.fresh.Put(m.keys[k], m.newHash, m.oldHash, true)
			}
		}
		found, descent, listing := m.exchange()
		r.Exchanges += stale
		r.Missed += stale * len(changed)
		r.Found += stale * found
		r.DescentBytes += int64(stale) * descent
		r.ListingBytes += int64(stale) * listing
		r.DataBytes += int64(stale*found) * valueBytes
		for _, k := range changed {
			written[k] = false
			m.fresh.Put(m.keys[k], m.oldHash, m.newHash, true)
		}
	}
	return r
}

// exchange runs one descent of stale against fresh, lists the differing
// buckets on both sides and diffs them: how many keys differ, and the bytes
// of the descent and of the peer's listing.
func (m *repairModel) exchange() (found int, descent, listing int64) {
	ex, err := merkle.NewExchange(m.stale, m.fresh.Shape())
	if err != nil {
		panic(err) // both trees have the default shape
	}
	for !ex.Done() {
		req := ex.Request()
		theirs, err := m.fresh.Level(req.Level, req.Parents)
		if err != nil {
			panic(err)
		}
		if err := ex.Receive(theirs); err != nil {
			panic(err)
		}
	}
	st := ex.Stats()
	descent = int64(8*st.HashesReceived + 4*st.ParentsSent)
	if len(ex.Buckets()) == 0 {
		return 0, descent, 0
	}
	in := m.stale.KeyFilter(ex.Buckets())
	m.listed, m.theirs = m.listed[:0], m.theirs[:0]
	for i, k := range m.keys {
		if !in(k) {
			continue
		}
		// The listings a storage scan filtered by KeyFilter would give:
		// the model keeps no storage, it knows which keys were written.
		theirs := m.oldHash
		if m.written[i] {
			theirs = m.newHash
		}
		m.listed = append(m.listed, merkle.KeyVersion{Key: k, ValueHash: m.oldHash})
		m.theirs = append(m.theirs, merkle.KeyVersion{Key: k, ValueHash: theirs})
		listing += int64(len(k) + 8)
	}
	missingHere, _, differing := merkle.DiffBuckets(m.listed, m.theirs)
	return len(missingHere) + len(differing), descent, listing
}
