package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/resolve"
	"github.com/dhtkv/dht/wire"
)

// Headers of a read that met a server-side resolver (package resolve).
const (
	// ResolvedByHeader names the resolver that merged the key's siblings
	// into the one value served. The context still covers every sibling, so
	// a write made with it supersedes them all.
	ResolvedByHeader = "X-Dht-Resolved-By"
	// ResolvedSiblingsHeader says how many siblings that value resolved.
	ResolvedSiblingsHeader = "X-Dht-Resolved-Siblings"
	// ResolverErrorHeader says why the configured resolver could not
	// resolve the siblings (it panicked, failed, or returned something
	// invalid); the answer then carries them all, unresolved.
	ResolverErrorHeader = "X-Dht-Resolver-Error"
)

// maxResolverErrorHeader bounds ResolverErrorHeader: the message comes from
// user code and may be anything.
const maxResolverErrorHeader = 512

// resolveRead applies the key's resolver to a read's merged object and
// returns what to render. Only the reply changes: the object stored on the
// replicas, and the read repair sent to them, stay the merged siblings. The
// answer keeps the merged context (set by the caller), which covers every
// sibling. A failing resolver leaves obj as it is and says so in a header.
func (g *Gateway) resolveRead(w http.ResponseWriter, key []byte, obj dvv.Set) dvv.Set {
	if g.cfg.Resolver == nil {
		return obj
	}
	sib, choice, ok, err := wire.Resolve(g.cfg.Resolver, key, obj)
	if err != nil {
		reason := resolve.ReasonError
		var re *resolve.Error
		if errors.As(err, &re) {
			reason = re.Reason()
		}
		g.cfg.Metrics.ResolverFailures.WithLabelValues(choice.Name, strings.ToValidUTF8(choice.Bucket, "?"), "read", reason).Inc()
		attrs := []any{"resolver", choice.Name, "bucket", choice.Bucket, "key", string(key), "reason", reason, "err", err}
		if re != nil && len(re.Stack) > 0 {
			attrs = append(attrs, "stack", string(re.Stack))
		}
		g.cfg.Logger.Error("resolver failed; the read is answered with all siblings, unresolved", attrs...)
		w.Header().Set(ResolverErrorHeader, resolverErrorHeader(choice, reason, err))
		return obj
	}
	if !ok {
		return obj
	}
	g.cfg.Metrics.Resolutions.WithLabelValues(choice.Name, "read").Inc()
	w.Header().Set(ResolvedByHeader, choice.Name)
	w.Header().Set(ResolvedSiblingsHeader, strconv.Itoa(len(obj.Live())))
	return dvv.Set{Context: obj.Context, Siblings: []dvv.Sibling{sib}}
}

// resolverErrorHeader renders a resolver failure as one line of printable
// ASCII: the client knows its key, so the key is left out.
func resolverErrorHeader(c resolve.Choice, reason string, err error) string {
	var re *resolve.Error
	if errors.As(err, &re) {
		err = re.Err
	}
	where := "default"
	if c.Bucket != "" {
		where = "bucket " + strconv.Quote(c.Bucket)
	}
	msg := fmt.Sprintf("resolver %q (%s) failed (%s): %v; siblings returned unresolved", c.Name, where, reason, err)
	b := make([]byte, 0, min(len(msg), maxResolverErrorHeader))
	for i := 0; i < len(msg) && len(b) < maxResolverErrorHeader; i++ {
		if c := msg[i]; c >= 0x20 && c < 0x7f {
			b = append(b, c)
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}
