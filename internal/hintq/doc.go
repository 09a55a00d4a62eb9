// Package hintq holds the hint queue's decisions as a pure machine: which
// hints to accept and why others are refused, which stored hints go to which
// node on each delivery round, when an unanswered batch counts as lost, and
// what the queue's statistics say. The hints actor (actors/hints) is its
// shell: it owns the engine, the ticker and the messaging, and carries out
// the Effects the machine returns.
//
// The machine keeps only bookkeeping in memory (per target: how many hints,
// how many bytes, the next sequence number, the batch in flight); the hints
// themselves stay in storage, where the shell reads them. A session with the
// machine goes like this, in the style of etcd's raft:
//
//	q := hintq.New(cfg)
//	for each stored hint: q.Load(ref); then carry out q.Loaded()
//	offer:   eff := q.Offer(o); if eff.Persist != nil { persist it; eff = q.Persisted(*eff.Persist, err) }
//	tick:    for each r in q.Tick(now, reach) { for each stored hint h of r.Target { eff, more := q.Consider(r, h, redirect) } ; q.Scanned(r, ok) }
//	answers: q.Acked(req), q.Refused(req)
//	deletes: every Effects.Delete is carried out and reported with q.Deleted
//
// Effects are carried out in order: persist, then delete, then send, then
// reply. Persisting and deleting can fail, and the outcome decides what
// follows (a refusal reason, whether the counts drop), so each comes back as
// an event of its own rather than being assumed.
//
// The machine reads no clock (now is an argument), does no I/O and holds no
// lock. It is single-threaded: one hints actor owns it and feeds it one
// message at a time. Targets are visited in sorted order, so the same events
// always produce the same effects.
package hintq
