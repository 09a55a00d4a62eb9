package handoff

import (
	"testing"

	"github.com/dhtkv/dht/internal/transfer"
	"github.com/dhtkv/dht/persistence"
)

func TestCursor_RoundTrip(t *testing.T) {
	for _, c := range []transfer.Cursor{
		{Partition: 0, Since: 1, After: []byte("k")},
		{Partition: 255, Since: 1 << 40, After: []byte{0, 0xff, 'x'}},
		{Partition: 3, Since: 7, After: []byte{}},
	} {
		got, ok := decodeCursor(cursorKey(c.Partition), encodeCursor(c))
		if !ok || got.Partition != c.Partition || got.Since != c.Since || string(got.After) != string(c.After) {
			t.Errorf("decode(encode(%+v)) = %+v, %t", c, got, ok)
		}
	}
}

func TestDecodeCursor_RefusesWhatIsNotOne(t *testing.T) {
	for _, tc := range []struct {
		name       string
		key, value []byte
	}{
		{"short value", cursorKey(1), []byte{1, 2, 3}},
		{"not a partition", persistence.MetaKey("handoff/x"), make([]byte, 8)},
		{"another meta key", persistence.MetaKey("ring_state"), make([]byte, 8)},
	} {
		if c, ok := decodeCursor(tc.key, tc.value); ok {
			t.Errorf("%s: decoded %+v", tc.name, c)
		}
	}
}

// TestActor_PersistAndRestore: what persist saves, restoreCursors gives a
// new machine; a deleted cursor is gone.
func TestActor_PersistAndRestore(t *testing.T) {
	c := newCluster(t, 1, "a")
	a := &handoffActor{cfg: Config{Engine: c.engine, Logger: discard()}, m: transfer.New(transfer.Config{})}
	a.persist(transfer.CursorOp{Cursor: transfer.Cursor{Partition: 5, Since: 9, After: []byte("k7")}})
	a.persist(transfer.CursorOp{Cursor: transfer.Cursor{Partition: 6, Since: 9, After: []byte("k1")}})
	a.persist(transfer.CursorOp{Cursor: transfer.Cursor{Partition: 6}, Delete: true})
	var found []transfer.Cursor
	if err := c.engine.Scan(cursorPrefix, nil, func(k, v []byte) bool {
		if cur, ok := decodeCursor(k, v); ok {
			found = append(found, cur)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Partition != 5 || found[0].Since != 9 || string(found[0].After) != "k7" {
		t.Errorf("stored cursors %+v, want partition 5 since 9 after k7", found)
	}
}
