package node

import (
	"fmt"
	"time"

	"github.com/dhtkv/dht/actors/vnode"
	"github.com/dhtkv/dht/persistence"
)

// openStorage opens the engine under node.data_dir and the dot minter whose
// replica identity lives in it. A fresh minter means a new epoch: this
// node's storage is new (a first start, or a wiped disk).
func (n *Node) openStorage(now func() time.Time) (err error) {
	cfg := n.cfg
	n.engine, err = persistence.Open(persistence.Options{
		Engine:             cfg.Storage.Engine,
		Dir:                cfg.Node.DataDir,
		SyncWrites:         cfg.Storage.SyncWrites,
		Profile:            cfg.Storage.Profile,
		ValueLogGCInterval: cfg.Storage.ValueLogGCInterval,
		Logger:             n.logger.With("component", "storage"),
	})
	if err != nil {
		return err
	}
	minter, fresh, err := vnode.OpenMinter(n.engine, now())
	if err != nil {
		return err
	}
	n.minter = minter
	n.newEpoch.Store(fresh)
	n.logger.Info("storage open", "engine", cfg.Storage.Engine, "dir", cfg.Node.DataDir,
		"sync_writes", cfg.Storage.SyncWrites, "replica_actor", fmt.Sprintf("%x", uint64(minter.Actor())), "new_epoch", fresh)
	return nil
}
