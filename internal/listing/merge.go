package listing

import (
	"bytes"
	"slices"

	"github.com/dhtkv/dht/internal/dvv"
)

// Entry is one listed key, with its object when values were asked.
type Entry struct {
	Key    []byte
	Object dvv.Set
}

// Page is one replica's answer for one partition (or the merge of
// several): entries in key order, and More when the partition holds
// matching keys after the last.
type Page struct {
	Entries []Entry
	More    bool
	// Last is the key after which the partition continues when More is
	// set; empty means the last entry's. Merge sets it: a merged page may
	// end on a key it dropped as deleted, and the listing must resume
	// after that key, not before it.
	Last []byte
}

// resume returns the key after which the partition continues.
func (p Page) resume() []byte {
	if len(p.Last) > 0 {
		return p.Last
	}
	if len(p.Entries) == 0 {
		return nil
	}
	return p.Entries[len(p.Entries)-1].Key
}

// Merge joins the pages several replicas gave for the same request into
// one, of at most limit entries: the union of their keys in order, each
// key's objects DVV-merged. A replica that has more keys than it sent
// bounds the merge: past its last key another replica's keys cannot be
// trusted to be all there are, so the merged page stops at the smallest
// last key of any page with More, and says More itself. A key whose
// merged object (when values were asked) holds no live sibling is dropped:
// one replica's delete wins over another's stale copy.
func Merge(pages []Page, limit int) Page {
	if len(pages) == 1 && len(pages[0].Entries) <= limit {
		return pages[0]
	}
	var bound []byte
	bounded, more := false, false
	for _, p := range pages {
		if p.More && len(p.Entries) > 0 {
			last := p.Entries[len(p.Entries)-1].Key
			if !bounded || bytes.Compare(last, bound) < 0 {
				bound = last
			}
			bounded, more = true, true
		}
	}
	var all []Entry
	for _, p := range pages {
		for _, e := range p.Entries {
			if bounded && bytes.Compare(e.Key, bound) > 0 {
				break
			}
			all = append(all, e)
		}
	}
	slices.SortStableFunc(all, func(a, b Entry) int { return bytes.Compare(a.Key, b.Key) })
	out := Page{More: more, Last: bound}
	for _, e := range all {
		if n := len(out.Entries); n > 0 && bytes.Equal(out.Entries[n-1].Key, e.Key) {
			out.Entries[n-1].Object = dvv.Merge(out.Entries[n-1].Object, e.Object)
			continue
		}
		out.Entries = append(out.Entries, e)
	}
	kept := out.Entries[:0]
	for _, e := range out.Entries {
		if !e.Object.IsDeleted() {
			kept = append(kept, e)
		}
	}
	out.Entries = kept
	if len(out.Entries) > limit {
		out.Entries, out.More = out.Entries[:limit], true
		out.Last = out.Entries[limit-1].Key
	}
	return out
}
