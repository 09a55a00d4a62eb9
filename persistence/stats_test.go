package persistence_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/dhtkv/dht/persistence"
)

// TestEngine_Stats: every engine reports its size, which grows with what
// it holds (checked after a reopen: badger measures only at open and then
// every minute, and pebble counts its log once flushed), and zero once
// closed.
func TestEngine_Stats(t *testing.T) {
	for _, te := range testEngines {
		if te.variant {
			continue
		}
		t.Run(te.name, func(t *testing.T) {
			dir := t.TempDir()
			e := openEngine(t, te.opts(dir, false))
			rng := rand.New(rand.NewPCG(1, 2))
			b := persistence.NewBatch()
			for i := range 2000 {
				value := make([]byte, 512)
				for j := range value { // incompressible
					value[j] = byte(rng.Uint32())
				}
				b.Put(fmt.Appendf(nil, "key-%05d", i), value)
			}
			if err := e.Write(b); err != nil {
				t.Fatal(err)
			}
			if te.persistent {
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				e = openEngine(t, te.opts(dir, false))
			}
			st := e.(persistence.StatsReporter).Stats()
			if st.DiskBytes < 2000*512 {
				t.Errorf("DiskBytes = %d after writing 2000 values of 512 bytes, want at least %d", st.DiskBytes, 2000*512)
			}
			if st.HasCompactions != (te.name == persistence.EnginePebble) {
				t.Errorf("HasCompactions = %v: only pebble counts compactions", st.HasCompactions)
			}
			if st.HasCompactionBytes != (te.name != persistence.EngineMemory) || st.CompactionBytes < 0 {
				t.Errorf("compaction bytes %d (reported %v): badger and pebble report them, the memory engine does not", st.CompactionBytes, st.HasCompactionBytes)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if st := e.(persistence.StatsReporter).Stats(); st != (persistence.Stats{}) {
				t.Errorf("Stats after Close = %+v, want zero", st)
			}
		})
	}
}
