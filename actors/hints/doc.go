// Package hints holds the hint queue actor: durable hinted handoff.
//
// When a key's replica is down, the coordinator hands the write to another
// node's hint queue along with the intended owner. The queue stores each
// hint in the node's engine (under persistence.HintKey(target, seq)), so
// hints survive a restart of the node keeping them. On every tick it offers
// pending hints, in batches, to each target that gossip sees alive again,
// as ordinary MergeRequests to the target's vnode, and deletes each hint
// once the target acknowledges it. Merging is idempotent, so a hint
// delivered twice (a lost acknowledgement) is harmless. The hints of a
// target force-removed from the ring go to a live serving replica instead,
// as Config.Redirect names it.
//
// The queue is bounded by count and bytes. Past the bound it refuses the
// hint, and the coordinator does not count it toward W: the client learns
// the write has fewer copies rather than being told a comforting lie.
//
// The actor decides nothing: internal/hintq's machine does, and the actor
// converts each message into one of its events (receive.go) and carries out
// the effects it returns: persist, delete, send, reply, metrics and Stats
// (effects.go). The actor owns the engine, the ticker and the messaging;
// like every actor it handles one message at a time, so the machine needs
// no lock. Stats is the one piece read from other goroutines (the admin
// API), hence its mutex.
package hints
