package handoff

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/dhtkv/dht/internal/transfer"
	"github.com/dhtkv/dht/persistence"
)

// A receive's progress is kept under cursorKey(p): the placement's since
// (8 bytes, big-endian) and the last key merged. A transfer cut by a
// restart of either side resumes after that key.
var cursorPrefix = persistence.MetaKey("handoff/")

func cursorKey(p uint32) []byte { return persistence.MetaKey(fmt.Sprintf("handoff/%d", p)) }

func encodeCursor(c transfer.Cursor) []byte {
	return append(binary.BigEndian.AppendUint64(nil, c.Since), c.After...)
}

// decodeCursor reads the cursor stored under key; ok is false for a key or
// value that is not one.
func decodeCursor(key, value []byte) (c transfer.Cursor, ok bool) {
	p, err := strconv.ParseUint(string(bytes.TrimPrefix(key, cursorPrefix)), 10, 32)
	if err != nil || !bytes.HasPrefix(key, cursorPrefix) || len(value) < 8 {
		return c, false
	}
	return transfer.Cursor{Partition: uint32(p), Since: binary.BigEndian.Uint64(value), After: bytes.Clone(value[8:])}, true
}

// restoreCursors gives the machine the cursors an earlier run saved.
func (a *handoffActor) restoreCursors() {
	err := a.cfg.Engine.Scan(cursorPrefix, nil, func(key, value []byte) bool {
		if c, ok := decodeCursor(key, value); ok {
			a.m.Restore(c)
		}
		return true
	})
	if err != nil {
		a.cfg.Logger.Warn("reading the handoff cursors; receives start their partitions over", "err", err)
	}
}

// persist saves or deletes a cursor. A failure only costs resumption: the
// transfer goes on.
func (a *handoffActor) persist(op transfer.CursorOp) {
	if op.Delete {
		if err := a.cfg.Engine.Delete(cursorKey(op.Partition)); err != nil {
			a.cfg.Logger.Warn("deleting a finished handoff cursor", "partition", op.Partition, "err", err)
		}
		return
	}
	if err := a.cfg.Engine.Put(cursorKey(op.Partition), encodeCursor(op.Cursor)); err != nil {
		a.cfg.Logger.Warn("persisting a handoff cursor", "partition", op.Partition, "err", err)
	}
}
