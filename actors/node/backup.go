package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/persistence"
)

// restoredFrom is the metadata key holding the id of the backup a node's
// storage was restored from.
var restoredFrom = persistence.MetaKey("restored_from")

// Backup writes a backup of this node's stored objects to w
// (persistence.WriteBackup): a consistent snapshot of its data, without
// its metadata or hints, which any engine restores.
func (n *Node) Backup(ctx context.Context, w io.Writer) (persistence.BackupStats, error) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	h := persistence.BackupHeader{
		Node: n.cfg.Node.ID, Cluster: n.cfg.Cluster.Name, Partitions: n.cfg.Ring.Partitions, N: n.cfg.Replication.N,
		Engine: n.cfg.Storage.Engine, Created: n.now().UTC(), ID: hex.EncodeToString(id[:]),
	}
	begin := time.Now()
	stats, err := persistence.WriteBackup(w, n.engine, h)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return stats, err
	}
	n.logger.Info("backup written", "id", h.ID, "keys", stats.Keys, "bytes", stats.Bytes, "took", time.Since(begin).Round(time.Millisecond))
	return stats, nil
}

// Restore fills the node's empty data directory from the backup in the
// file from, before the node starts; then the node starts as after a lost
// disk, with a new epoch, and is sent by its peers only what changed since
// the backup (see persistence.WriteBackup). It restores into a directory
// beside the data directory and renames it into place only once the whole
// backup was read and its checksum verified, so a failed restore leaves
// nothing behind. A data directory already restored from the same backup
// is left alone, so that a node started with the same --restore again (a
// restarted pod) starts from its data; one holding anything else is
// refused.
func Restore(cfg config.Config, from string, logger *slog.Logger) error {
	if cfg.Storage.Engine == persistence.EngineMemory || cfg.Node.DataDir == "" {
		return errors.New("node: restore: the memory engine keeps nothing to restore into; use badger or pebble")
	}
	f, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("node: restore: %w", err)
	}
	defer f.Close()
	h, err := persistence.ReadBackupHeader(f)
	if err != nil {
		return fmt.Errorf("node: restore from %s: %w", from, err)
	}
	dir := cfg.Node.DataDir
	if done, err := restoredAlready(cfg, h); err != nil || done {
		if done {
			logger.Info("data directory already restored from this backup; starting from it", "backup", from, "id", h.ID)
		}
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("node: restore: %w", err)
	}
	tmp := filepath.Clean(dir) + ".restoring"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("node: restore: %w", err)
	}
	e, err := persistence.Open(storageOptions(cfg, tmp, logger))
	if err != nil {
		return fmt.Errorf("node: restore: %w", err)
	}
	begin := time.Now()
	_, stats, err := persistence.RestoreBackup(f, e, func(h persistence.BackupHeader) error {
		if h.Partitions != cfg.Ring.Partitions || h.Cluster != cfg.Cluster.Name {
			return fmt.Errorf("node: restore: the backup is of cluster %q with %d partitions, this node's is %q with %d",
				h.Cluster, h.Partitions, cfg.Cluster.Name, cfg.Ring.Partitions)
		}
		return nil
	})
	if err == nil {
		err = e.Put(restoredFrom, []byte(h.ID))
	}
	err = errors.Join(err, e.Close())
	if err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("node: restore from %s: %w", from, err)
	}
	_ = os.Remove(dir) // empty, or absent
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("node: restore: %w", err)
	}
	if h.Node != cfg.Node.ID {
		logger.Warn("restored another node's backup: partitions this node does not own are handed to their owners, then dropped",
			"backup_node", h.Node, "node", cfg.Node.ID)
	}
	logger.Info("restored from backup; the node starts with a new epoch and is sent what changed since",
		"backup", from, "id", h.ID, "taken", h.Created, "from_engine", h.Engine, "keys", stats.Keys, "bytes", stats.Bytes,
		"took", time.Since(begin).Round(time.Millisecond))
	return nil
}

// restoredAlready reports whether the data directory was restored from the
// backup h already; it refuses one that holds anything else.
func restoredAlready(cfg config.Config, h persistence.BackupHeader) (bool, error) {
	dir := cfg.Node.DataDir
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("node: restore: %w", err)
	case len(entries) == 0:
		return false, nil
	}
	e, err := persistence.Open(storageOptions(cfg, dir, slog.New(slog.DiscardHandler)))
	if err != nil {
		return false, fmt.Errorf("node: restore: node.data_dir %s holds something that is not this engine's: %w", dir, err)
	}
	defer e.Close()
	id, err := e.Get(restoredFrom)
	if err == nil && string(id) == h.ID {
		return true, nil
	}
	return false, fmt.Errorf("node: restore: node.data_dir %s already holds data; a restore needs an empty or absent directory (move it away first)", dir)
}

// storageOptions are the engine options of cfg, in dir.
func storageOptions(cfg config.Config, dir string, logger *slog.Logger) persistence.Options {
	return persistence.Options{
		// Synced: a restore is renamed into place as a whole, then trusted.
		Engine: cfg.Storage.Engine, Dir: dir, SyncWrites: true, Profile: cfg.Storage.Profile,
		ValueLogGCInterval: cfg.Storage.ValueLogGCInterval, Logger: logger,
	}
}
