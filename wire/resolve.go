package wire

import (
	"bytes"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/resolve"
)

// Resolve runs the resolver sel chooses for key over the live siblings of s.
// ok reports that sib replaces every sibling of s; sib has no dot (the
// caller mints one if it stores it), and its timestamp is the latest of the
// siblings'. Its expiry is that of the newest sibling (the latest timestamp,
// the last in dot order among equals): the value last-write-wins keeps
// lives as long as that write asked, and a merged value as long as the
// latest write that went into it. err is a *resolve.Error from a failing resolver: s must then
// stay as it is. choice says which resolver ran, for logs and metrics.
//
// The resolver gets copies of the values, so that whatever it does to them
// cannot reach a stored or cached object.
func Resolve(sel *resolve.Selector, key []byte, s dvv.Set) (sib dvv.Sibling, choice resolve.Choice, ok bool, err error) {
	choice = sel.Select(key)
	if choice.Keeps() {
		return dvv.Sibling{}, choice, false, nil
	}
	live := s.Live()
	if len(live) < 2 {
		return dvv.Sibling{}, choice, false, nil
	}
	in := make([]resolve.Sibling, len(live))
	var newest, expires int64
	for i, l := range live {
		in[i] = resolve.Sibling{Value: bytes.Clone(l.Value), ContentType: l.ContentType, Timestamp: time.UnixMilli(l.Timestamp).UTC()}
		if l.Timestamp >= newest {
			newest, expires = l.Timestamp, l.ExpiresAt
		}
	}
	res, ok, err := choice.Resolve(key, in)
	if err != nil || !ok {
		return dvv.Sibling{}, choice, false, err
	}
	return dvv.Sibling{Value: res.Value, ContentType: res.ContentType, Tombstone: res.Delete, Timestamp: newest, ExpiresAt: expiresUnlessDeleted(res.Delete, expires)}, choice, true, nil
}

// expiresUnlessDeleted is a resolution's expiry: none for a delete, whose
// tombstone is dead already.
func expiresUnlessDeleted(deleted bool, expires int64) int64 {
	if deleted {
		return 0
	}
	return expires
}
