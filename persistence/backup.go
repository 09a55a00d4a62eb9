package persistence

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// A backup is one node's stored objects at one moment, as a stream that any
// engine can restore: the engine's consistent scan (a badger read
// transaction, a pebble iterator, the memory engine's copy-on-write tree)
// written as key/value records. It holds the data keyspace only. The node's
// metadata stays out on purpose: a node restored from a backup must start
// with a new replica identity (a new epoch), or it would mint again the
// dots it minted after the backup was taken, and a reused dot makes a
// replica drop a write as already seen. A new epoch also makes the node
// rebuild its partitions from live replicas, comparing Merkle trees first,
// so it is sent only what changed since the backup. Hints stay out too:
// they are copies for other nodes, which anti-entropy covers.
//
// The stream is:
//
//	magic "DHTBAK01"
//	uvarint len | JSON BackupHeader
//	records: uvarint len(key) | key | uvarint len(value) | value, len(key) > 0
//	uvarint 0 (the end of the records)
//	big-endian uint64 record count | SHA-256 of everything before it
//
// The checksum covers the whole stream, so a truncated or damaged file is
// refused at its end; RestoreBackup writes into an engine the caller
// discards on error.

// backupMagic starts every backup; its last two bytes are the format
// version.
var backupMagic = []byte("DHTBAK01")

// maxBackupHeader bounds the header a restore reads.
const maxBackupHeader = 1 << 20

// BackupHeader says what a backup holds.
type BackupHeader struct {
	// Node, Cluster, Partitions and N are the node's id and its cluster's
	// name and ring shape: a restore checks the shape, since keys are
	// stored by partition.
	Node       string `json:"node"`
	Cluster    string `json:"cluster"`
	Partitions int    `json:"partitions"`
	N          int    `json:"n"`
	// Engine is the engine the backup was taken from; any engine restores
	// it.
	Engine string `json:"engine"`
	// Created is when the snapshot began.
	Created time.Time `json:"created"`
	// ID names this backup; a node records the ID it was restored from, so
	// that starting it again with the same backup does nothing.
	ID string `json:"id"`
}

// BackupStats counts what a backup or a restore moved.
type BackupStats struct {
	Keys  int64
	Bytes int64
}

// ErrBadBackup is wrapped by every error about the backup stream itself
// (not a backup, damaged, truncated).
var ErrBadBackup = errors.New("persistence: bad backup")

// WriteBackup writes a backup of e's data keyspace to w. It returns what it
// wrote; an error leaves w holding a stream that RestoreBackup refuses.
func WriteBackup(w io.Writer, e Engine, h BackupHeader) (BackupStats, error) {
	var stats BackupStats
	sum := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 256<<10)
	head, err := json.Marshal(h)
	if err != nil {
		return stats, err
	}
	var scratch [binary.MaxVarintLen64]byte
	uvarint := func(v uint64) {
		n := binary.PutUvarint(scratch[:], v)
		_, _ = bw.Write(scratch[:n])
	}
	_, _ = bw.Write(backupMagic)
	uvarint(uint64(len(head)))
	_, _ = bw.Write(head)
	var writeErr error
	err = e.Scan([]byte{dataTag}, nil, func(key, value []byte) bool {
		uvarint(uint64(len(key)))
		_, _ = bw.Write(key)
		uvarint(uint64(len(value)))
		if _, writeErr = bw.Write(value); writeErr != nil {
			return false // the reader went away
		}
		stats.Keys++
		stats.Bytes += int64(len(key) + len(value))
		return true
	})
	if err = errors.Join(err, writeErr); err != nil {
		return stats, fmt.Errorf("persistence: backup: %w", err)
	}
	uvarint(0)
	// The trailer is written past the hash: flush what the hash must see
	// first.
	var count [8]byte
	binary.BigEndian.PutUint64(count[:], uint64(stats.Keys))
	_, _ = bw.Write(count[:])
	if err := bw.Flush(); err != nil {
		return stats, fmt.Errorf("persistence: backup: %w", err)
	}
	if _, err := w.Write(sum.Sum(nil)); err != nil {
		return stats, fmt.Errorf("persistence: backup: %w", err)
	}
	return stats, nil
}

// ReadBackupHeader reads the header at the start of a backup stream,
// without its records.
func ReadBackupHeader(r io.Reader) (BackupHeader, error) {
	h, _, err := readHeader(bufio.NewReader(r), sha256.New())
	return h, err
}

// RestoreBackup writes the records of the backup read from r into e, in
// batches, and returns its header once the whole stream has been read and
// its checksum verified. On error e holds part of the backup: the caller
// restores into an engine it throws away on failure. check, if not nil,
// is called with the header before any record is written, to refuse a
// backup of another ring shape. A nil e only verifies (VerifyBackup).
func RestoreBackup(r io.Reader, e Engine, check func(BackupHeader) error) (BackupHeader, BackupStats, error) {
	var stats BackupStats
	sum := sha256.New()
	br := bufio.NewReaderSize(r, 256<<10)
	h, tee, err := readHeader(br, sum)
	if err != nil {
		return h, stats, err
	}
	if check != nil {
		if err := check(h); err != nil {
			return h, stats, err
		}
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadBackup, fmt.Sprintf(format, args...))
	}
	batch := NewBatch()
	flush := func() error {
		if batch.Len() == 0 || e == nil {
			return nil
		}
		err := e.Write(batch)
		batch = NewBatch()
		return err
	}
	for {
		klen, err := binary.ReadUvarint(tee)
		if err != nil {
			return h, stats, bad("record %d: %v", stats.Keys+1, err)
		}
		if klen == 0 {
			break
		}
		if klen > 1<<20 {
			return h, stats, bad("record %d: key of %d bytes", stats.Keys+1, klen)
		}
		key := make([]byte, klen)
		if _, err := io.ReadFull(tee, key); err != nil {
			return h, stats, bad("record %d: %v", stats.Keys+1, err)
		}
		if key[0] != dataTag {
			return h, stats, bad("record %d: not a data key", stats.Keys+1)
		}
		vlen, err := binary.ReadUvarint(tee)
		if err != nil || vlen > 1<<30 {
			return h, stats, bad("record %d: value length: %v", stats.Keys+1, err)
		}
		value := make([]byte, vlen)
		if _, err := io.ReadFull(tee, value); err != nil {
			return h, stats, bad("record %d: %v", stats.Keys+1, err)
		}
		if e != nil {
			batch.Put(key, value)
		}
		stats.Keys++
		stats.Bytes += int64(len(key) + len(value))
		if batch.Size() >= 4<<20 || batch.Len() >= 4096 {
			if err := flush(); err != nil {
				return h, stats, fmt.Errorf("persistence: restore: %w", err)
			}
		}
	}
	var count [8]byte
	if _, err := io.ReadFull(tee, count[:]); err != nil {
		return h, stats, bad("trailer: %v", err)
	}
	want := sum.Sum(nil)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil {
		return h, stats, bad("checksum: %v", err)
	}
	if !bytes.Equal(got, want) {
		return h, stats, bad("checksum mismatch: the file is damaged")
	}
	if n := binary.BigEndian.Uint64(count[:]); n != uint64(stats.Keys) {
		return h, stats, bad("%d records, the trailer says %d", stats.Keys, n)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return h, stats, bad("data after the checksum")
	}
	if err := flush(); err != nil {
		return h, stats, fmt.Errorf("persistence: restore: %w", err)
	}
	return h, stats, nil
}

// VerifyBackup reads the whole backup from r and checks it as
// RestoreBackup does, writing nothing.
func VerifyBackup(r io.Reader) (BackupHeader, BackupStats, error) {
	return RestoreBackup(r, nil, nil)
}

// readHeader reads the magic and the header from br, feeding sum, and
// returns a reader of the rest that feeds sum too.
func readHeader(br *bufio.Reader, sum hash.Hash) (BackupHeader, teeByteReader, error) {
	var h BackupHeader
	tee := teeByteReader{r: br, sum: sum}
	magic := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(tee, magic); err != nil || !bytes.Equal(magic, backupMagic) {
		return h, tee, fmt.Errorf("%w: not a dht backup (no %q header)", ErrBadBackup, backupMagic)
	}
	n, err := binary.ReadUvarint(tee)
	if err != nil || n > maxBackupHeader {
		return h, tee, fmt.Errorf("%w: header length: %v", ErrBadBackup, err)
	}
	head := make([]byte, n)
	if _, err := io.ReadFull(tee, head); err != nil {
		return h, tee, fmt.Errorf("%w: header: %v", ErrBadBackup, err)
	}
	if err := json.Unmarshal(head, &h); err != nil {
		return h, tee, fmt.Errorf("%w: header: %v", ErrBadBackup, err)
	}
	return h, tee, nil
}

// teeByteReader reads from r and feeds what it read to sum: the records
// are hashed as they are restored, in one pass.
type teeByteReader struct {
	r   *bufio.Reader
	sum hash.Hash
}

func (t teeByteReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.sum.Write(p[:n])
	return n, err
}

func (t teeByteReader) ReadByte() (byte, error) {
	b, err := t.r.ReadByte()
	if err == nil {
		t.sum.Write([]byte{b})
	}
	return b, err
}
