package persistence

import "expvar"

// Stats is what an engine reports about its files, for the node's
// metrics: an operator alerts on a disk filling up and watches
// compactions keep pace with writes.
type Stats struct {
	// DiskBytes is the engine's size on disk: badger's LSM tree and value
	// log, pebble's files. The memory engine reports the bytes its keys
	// and values hold.
	DiskBytes int64
	// Compactions counts the compactions the engine ran since it opened,
	// when HasCompactions is set: pebble counts them; badger does not
	// expose a count, and the memory engine has none.
	Compactions    int64
	HasCompactions bool
	// CompactionBytes counts the bytes compactions wrote, when
	// HasCompactionBytes is set: pebble's since it opened; badger's since
	// the process started (badger keeps it process-wide, in expvar).
	CompactionBytes    int64
	HasCompactionBytes bool
}

// StatsReporter is implemented by the engines that report Stats (all of
// this package's). Stats of a closed engine are zero.
type StatsReporter interface {
	Stats() Stats
}

// Stats reports badger's LSM tree and value log sizes, as badger last
// measured them (it refreshes them every minute, so a fresh write shows
// later).
func (e *badgerEngine) Stats() Stats {
	if !e.enter() {
		return Stats{}
	}
	defer e.leave()
	lsm, vlog := e.db.Size()
	st := Stats{DiskBytes: lsm + vlog}
	if m, ok := expvar.Get("badger_write_bytes_compaction").(*expvar.Map); ok {
		m.Do(func(kv expvar.KeyValue) {
			if n, ok := kv.Value.(*expvar.Int); ok {
				st.CompactionBytes += n.Value()
			}
		})
		st.HasCompactionBytes = true
	}
	return st
}

// Stats reports pebble's disk usage and compaction count.
func (e *pebbleEngine) Stats() Stats {
	if !e.enter() {
		return Stats{}
	}
	defer e.leave()
	m := e.db.Metrics()
	total := m.Total()
	return Stats{DiskBytes: int64(m.DiskSpaceUsage()), Compactions: m.Compact.Count, HasCompactions: true,
		CompactionBytes: int64(total.TableBytesCompacted + total.BlobBytesCompacted), HasCompactionBytes: true}
}

// Stats reports the bytes the memory engine's keys and values hold.
func (e *memoryEngine) Stats() Stats {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.mu.tree == nil {
		return Stats{}
	}
	var n int64
	e.mu.tree.Ascend(func(it memItem) bool {
		n += int64(len(it.key) + len(it.value))
		return true
	})
	return Stats{DiskBytes: n}
}
