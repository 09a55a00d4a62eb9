package vnode

import (
	"errors"
	"strings"
	"time"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/resolve"
	"github.com/dhtkv/dht/wire"
)

// resolveOnWrite, the replica machine's Config.Resolve when
// Config.ResolveOnWrite is set, resolves the live siblings a client write left in s with
// the key's resolver (resolution.on_write), and returns the set to store.
//
// It runs only here, where a client write is coordinated, never on a merge:
// replicas resolving the same siblings independently would each mint a dot
// of their own, and their resolutions would become new siblings. The
// resolution is a write in its own right — a fresh dot, with s's whole
// context as its causal past — so it supersedes exactly the siblings this
// replica holds; siblings it has not seen survive the merge elsewhere.
//
// Whatever fails (the resolver, or minting its dot), s comes back as it
// is: the siblings are stored unresolved, and the client write still
// succeeds.
func (v *vnode) resolveOnWrite(key []byte, s dvv.Set, now time.Time) dvv.Set {
	sib, choice, ok, err := wire.Resolve(v.cfg.ResolveOnWrite, key, s)
	if err != nil {
		v.resolverFailed(key, choice, err)
		return s
	}
	if !ok {
		return s
	}
	dot, err := v.cfg.Minter.Next()
	if err == nil {
		sib.Timestamp = now.UnixMilli()
		var out dvv.Set
		if out, err = s.Update(s.Context, sib, dot, 0); err == nil {
			if v.cfg.Metrics != nil {
				v.cfg.Metrics.Resolutions.WithLabelValues(choice.Name, "write").Inc()
			}
			return out
		}
	}
	v.cfg.Logger.Warn("could not store the resolution; the siblings are stored unresolved",
		"resolver", choice.Name, "bucket", choice.Bucket, "key", string(key), "err", err)
	return s
}

func (v *vnode) resolverFailed(key []byte, choice resolve.Choice, err error) {
	reason := resolve.ReasonError
	attrs := []any{"resolver", choice.Name, "bucket", choice.Bucket, "key", string(key), "err", err}
	var re *resolve.Error
	if errors.As(err, &re) {
		reason = re.Reason()
		if len(re.Stack) > 0 {
			attrs = append(attrs, "stack", string(re.Stack))
		}
	}
	if v.cfg.Metrics != nil {
		v.cfg.Metrics.ResolverFailures.WithLabelValues(choice.Name, strings.ToValidUTF8(choice.Bucket, "?"), "write", reason).Inc()
	}
	v.cfg.Logger.Error("resolver failed; the write's siblings are stored unresolved", append(attrs, "reason", reason)...)
}
