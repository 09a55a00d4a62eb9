package vnode

import "time"

// adopt is the vnode's message to itself to take another step of adopting
// the keys its ancestors hold of its partition (partitionStore.adoptStep).
// Steps go through the mailbox, between requests, so a large partition's
// adoption never holds up its reads and writes for long.
type adopt struct{}

// adoptRetry is how long a step that failed on storage waits to try again.
const adoptRetry = time.Second

// adopt takes one adoption step and asks for the next while keys remain.
// A write of the partition is never in flight here: while it inherits,
// the vnode writes synchronously (putAsync).
func (v *vnode) adopt() {
	if !v.store.in.pending() {
		return
	}
	if _, err := v.store.adoptStep(); err != nil {
		v.cfg.Logger.Error("adopting the keys of the partitions this one split from; retrying", "err", err)
		root, self := v.root, v.self
		time.AfterFunc(adoptRetry, func() { root.Send(self, adopt{}) })
		return
	}
	if v.store.in.pending() {
		v.root.Send(v.self, adopt{})
		return
	}
	v.cfg.Logger.Info("partition adopted its keys from the partitions it split from", "keys", v.store.in.adopted)
}
