package quorum

import (
	"time"

	"github.com/dhtkv/dht/internal/dvv"
)

// BlindDelete decides a delete sent without a context, as Riak does with a
// delete that carries no vector clock: the coordinator first reads the key
// (a Get at the request's R and PR) and deletes what that read saw. read is
// that Get's answer, read at now: a value expired by then is not live. It returns the context to write the tombstone with,
// the read's merged context, when the read found a live value; found is
// false when it found none (never written, or only tombstones), and then
// nothing is written and the client is answered not found. err is the
// read's failure (nothing was written either).
//
// A write concurrent with the delete, one the read did not see, survives it
// as a sibling, as with any delete made with a context.
func BlindDelete(read GetResult, now time.Time) (ctx dvv.VersionVector, found bool, err error) {
	if read.Err != nil {
		return nil, false, read.Err
	}
	if len(read.Object.At(now).Live()) == 0 {
		return nil, false, nil
	}
	return read.Object.Context, true, nil
}
