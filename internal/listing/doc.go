// Package listing holds the pure logic of key listing (GET /v1/kv?prefix=):
// the coverage plan that walks every partition once, the resumable cursor,
// the merge of several replicas' pages of one partition, and the page
// limit.
//
// A listing walks the partitions in index order, asking each for its live
// keys in key order (a vnode's ordered scan), so that the whole listing is
// in key order within each partition. The gateway drives a Listing:
//
//	l := listing.New(q, cursor, limit)
//	for {
//		req, ok := l.Next()   // which partition, after which key, how many
//		if !ok {
//			break
//		}
//		pages := ask r replicas of req.Partition (listing.Replicas picks them)
//		page := listing.Merge(pages, req.Limit)
//		l.Took(page)          // emit page.Entries
//	}
//	c, more := l.Cursor()    // resume there, or done
//
// The cursor names a partition and the last key returned from it, never a
// node: it stays valid while ownership moves, since whichever replica serves
// the partition next lists the keys after that key. It also names the
// ring's count, and a cursor from before a resize is carried onto the
// grown ring: its partition's children each resume after its key. A listing is not a
// snapshot: keys written or deleted while it runs may or may not appear, but
// a key that stays put the whole time is listed exactly once.
//
// The package does no I/O, reads no clock and starts no goroutine; a
// Listing is not safe for concurrent use.
package listing
