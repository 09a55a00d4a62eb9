package listing

import "slices"

// Request is one step of a listing: ask Partition's replicas for up to
// Limit live keys after After.
type Request struct {
	Partition uint32
	After     []byte
	Limit     int
}

// Listing is the coverage plan of one page of a listing: it walks the
// partitions from a cursor in index order, each once, until the page holds
// its limit or every partition is covered.
type Listing struct {
	q         int
	next      Cursor
	remaining int
	done      bool
}

// New starts a page of at most limit keys at cursor from, in a ring of q
// partitions.
func New(q int, from Cursor, limit int) *Listing {
	return &Listing{q: q, next: from, remaining: limit, done: int(from.Partition) >= q}
}

// Next returns the request to send next, or false when the page is full or
// every partition has been covered.
func (l *Listing) Next() (Request, bool) {
	if l.done || l.remaining <= 0 {
		return Request{}, false
	}
	return Request{Partition: l.next.Partition, After: l.next.After, Limit: l.remaining}, true
}

// Took records the (merged) answer to the request Next returned: the page
// continues in the same partition after its last key when the partition
// has more, else at the next partition.
func (l *Listing) Took(p Page) {
	l.remaining -= len(p.Entries)
	if last := p.resume(); p.More && len(last) > 0 {
		l.next.After = slices.Clone(last)
		return
	}
	// A page that claims more yet holds nothing would loop forever: it
	// can only come from a replica that breaks the contract, and moving
	// on is the one safe way forward.
	next := Cursor{Partition: l.next.Partition + 1}
	if l.next.spans() {
		// A cursor carried over a resize: the partitions of its span
		// resume after its key.
		next.After = l.next.Floor
		if next.Partition < l.next.Through {
			next.Through, next.Floor = l.next.Through, l.next.Floor
		}
	}
	l.next = next
	if int(l.next.Partition) >= l.q {
		l.done = true
	}
}

// Cursor returns where the next page starts, and false when the listing is
// complete.
func (l *Listing) Cursor() (Cursor, bool) {
	if l.done {
		return Cursor{}, false
	}
	return l.next, true
}

// Replicas picks which of a partition's serving replicas (candidates, in
// the ring's preference order) to ask: r of them, preferring self, which
// costs no network hop. spare are the others, in order, to ask in place of
// one that fails.
func Replicas(candidates []string, self string, r int) (ask, spare []string) {
	ordered := make([]string, 0, len(candidates))
	if slices.Contains(candidates, self) {
		ordered = append(ordered, self)
	}
	for _, c := range candidates {
		if c != self {
			ordered = append(ordered, c)
		}
	}
	r = min(max(1, r), len(ordered))
	return ordered[:r], ordered[r:]
}
