package persistence

// write is one caller's write as the committer queues it: a single put or
// delete, or a whole batch. It references the caller's buffers, which stay
// untouched because the caller waits for the commit.
type write struct {
	key, value []byte
	del        bool
	batch      *Batch
}

// size is the write's key and value bytes, what a group's limit counts.
func (w write) size() int {
	if w.batch != nil {
		return w.batch.Size()
	}
	return len(w.key) + len(w.value)
}

func (w write) ops() int {
	if w.batch != nil {
		return w.batch.Len()
	}
	return 1
}

// limit bounds one group. A group must fit in one engine transaction, and a
// large one makes every writer in it wait for the whole group's I/O.
type limit struct {
	bytes, ops int
}

// groupLimit returns the group limit for a badger memtable of the given
// size: a third of badger's own transaction limit (15% of the memtable),
// leaving room for its per-entry overhead, and at most 1 MiB so that a
// writer waits for little more than its own write.
func groupLimit(memTableSize int64) limit {
	b := int(memTableSize * 15 / 100 / 3)
	b = min(b, 1<<20)
	return limit{bytes: b, ops: 4096}
}

// AsyncPutter is implemented by engines that can take a durable put
// without blocking the caller on its fsync. A vnode uses it to keep taking
// requests while its writes wait for a shared fsync: with sync_writes on,
// a hot vnode would otherwise take one write per fsync.
type AsyncPutter interface {
	// PutAsync queues a put of value at key and reports true; done is
	// called once, from another goroutine, when the put is as durable as
	// Put would have made it, or failed. The caller must not modify key
	// or value until then. It reports false, doing nothing, when the
	// engine has no such path (sync_writes off: Put does not wait on an
	// fsync); the caller then uses Put.
	PutAsync(key, value []byte, done func(error)) bool
	// AsyncPuts reports whether PutAsync queues puts at all. It does not
	// change over the engine's life, so a caller can plan on it: a vnode
	// announces an object before it is durable only when it will be
	// durable later.
	AsyncPuts() bool
}

type pendingWrite struct {
	w write
	// done receives the outcome; or callback, when set, is called with it.
	done     chan error
	callback func(error)
}

func (p pendingWrite) answer(err error) {
	if p.callback != nil {
		p.callback(err)
		return
	}
	p.done <- err
}

// committer is group commit: writers queue their writes, and one goroutine
// applies everything queued since its last commit as one group, with one
// fsync. While a group's fsync runs, the next group gathers, so the more
// writers wait, the more each fsync carries; a lone writer pays one
// goroutine hand-off over a direct commit.
type committer struct {
	apply func(group []write) error
	limit limit
	queue chan pendingWrite
}

func newCommitter(apply func([]write) error, l limit) *committer {
	return &committer{apply: apply, limit: l, queue: make(chan pendingWrite, 1024)}
}

// commit queues w and waits for its group to be applied. The caller must not
// call it after run has returned.
func (c *committer) commit(w write) error {
	done := make(chan error, 1)
	c.queue <- pendingWrite{w: w, done: done}
	return <-done
}

// commitAsync queues w and returns at once; done is called with the
// outcome from the committer's goroutine, so it must not block for long.
func (c *committer) commitAsync(w write, done func(error)) {
	c.queue <- pendingWrite{w: w, callback: done}
}

// run applies groups until stop is closed. Its owner must close stop only
// once no commit is in flight (the engine's Close waits for its calls).
func (c *committer) run(stop <-chan struct{}) {
	var carried *pendingWrite // the write that did not fit the last group
	group := make([]pendingWrite, 0, 64)
	for {
		group = group[:0]
		if carried != nil {
			group = append(group, *carried)
			carried = nil
		} else {
			select {
			case <-stop:
				return
			case p := <-c.queue:
				group = append(group, p)
			}
		}
		size, ops := group[0].w.size(), group[0].w.ops()
	gather:
		for size < c.limit.bytes && ops < c.limit.ops {
			select {
			case p := <-c.queue:
				if size+p.w.size() > c.limit.bytes || ops+p.w.ops() > c.limit.ops {
					carried = &p
					break gather
				}
				group = append(group, p)
				size += p.w.size()
				ops += p.w.ops()
			default:
				break gather
			}
		}
		c.commitGroup(group)
	}
}

// commitGroup applies group and answers its writers. If the group fails as
// a whole and holds more than one write, each write is applied alone, so
// that one bad write (too large, say) fails only its own caller.
func (c *committer) commitGroup(group []pendingWrite) {
	writes := make([]write, len(group))
	for i, p := range group {
		writes[i] = p.w
	}
	err := c.apply(writes)
	if err != nil && len(group) > 1 {
		for _, p := range group {
			p.answer(c.apply([]write{p.w}))
		}
		return
	}
	for _, p := range group {
		p.answer(err)
	}
}
