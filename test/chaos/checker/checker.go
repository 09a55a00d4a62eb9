package checker

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dhtkv/dht/test/chaos/history"
)

// Finding is one anomaly.
type Finding struct {
	Key string
	// Item is the version ID or set element concerned, if any.
	Item string
	// Op is the index of the history op it was found at, or -1 (final
	// state).
	Op     int64
	Reason string
}

func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.Key)
	if f.Item != "" {
		fmt.Fprintf(&b, " %s", f.Item)
	}
	if f.Op >= 0 {
		fmt.Fprintf(&b, " (op %d)", f.Op)
	}
	b.WriteString(": ")
	b.WriteString(f.Reason)
	return b.String()
}

// Report is the checker's verdict on one run.
type Report struct {
	Keys int
	// Writes (adds and register writes): invoked, acknowledged, definitely
	// failed, indeterminate (including ops the history never completed).
	Attempted, Acknowledged, Failed, Indeterminate int
	// Reads invoked and answered (plain reads only; an add's read is part
	// of the add).
	Reads, ReadsOK int

	Lost       []Finding
	Unexpected []Finding
	Stale      []Finding
	Divergent  []Finding
	// SiblingExcess lists keys whose answers held more siblings than the
	// key had concurrent writes.
	SiblingExcess []Finding
	// FoundNothing lists the reads that answered not-found for a key one
	// of whose writes had been acknowledged before the read was invoked: a
	// false not-found, the answer a replica that lost its data gives. An
	// add's read counts too, once its completion shows that the read
	// answered. It is not part of OK: at R=2 under partitions, kills and
	// pauses, a read may meet only replicas a sloppy quorum's write has
	// not reached yet, and nothing the store promises rules that out. A
	// run whose faults do rule it out requires it empty (the scenario
	// package decides which; see Scenario.NoFalseNotFound).
	FoundNothing []Finding

	// MaxSiblings is the most siblings one answer held (a read, a write's
	// acknowledgement, a final read), on MaxSiblingsKey, whose true
	// concurrency was KeyConcurrency.
	MaxSiblings    int
	MaxSiblingsKey string
	KeyConcurrency int
	// MaxConcurrency is the greatest true concurrency of any key: the most
	// writes none of which was in another's causal past. Approximate is set
	// when a key was too large to compute it exactly; the figure is then an
	// upper bound.
	MaxConcurrency    int
	MaxConcurrencyKey string
	Approximate       bool

	// Converged, ConvergeErr and ConvergeTime are copied from the final
	// state: whether the cluster settled before the final reads.
	Converged    bool
	ConvergeErr  string
	ConvergeTime time.Duration
	// Malformed counts history lines that broke the invoke/complete
	// pairing (a completion without an invoke, an invoke over an open one).
	Malformed int
}

// OK reports whether the run passed: nothing lost, unexpected, stale or
// divergent, sibling counts within concurrency, and the cluster converged.
func (r Report) OK() bool {
	return len(r.Lost) == 0 && len(r.Unexpected) == 0 && len(r.Stale) == 0 &&
		len(r.Divergent) == 0 && len(r.SiblingExcess) == 0 && r.Converged && r.Malformed == 0
}

// LostByKind splits the lost findings by the kind of their key: set
// elements and register writes. The two are lost by different rules (an
// element missing from the final union; a write neither a final sibling
// nor in the causal past of one).
func (r Report) LostByKind() (sets, registers int) {
	for _, f := range r.Lost {
		switch history.KindOf(f.Key) {
		case history.KindSet:
			sets++
		case history.KindRegister:
			registers++
		}
	}
	return sets, registers
}

// CleanButLost reports whether the run's only findings are lost writes:
// nothing unexpected, stale or divergent, sibling counts within
// concurrency, converged and well formed. A self-test whose clients lose
// writes must look like that, so that its losses are the clients' own.
func (r Report) CleanButLost() bool {
	r.Lost = nil
	return r.OK()
}

// Availability is the share of all operations (writes and reads) that were
// acknowledged, in percent.
func (r Report) Availability() float64 {
	total := r.Attempted + r.Reads
	if total == 0 {
		return 0
	}
	return 100 * float64(r.Acknowledged+r.ReadsOK) / float64(total)
}

// version is one write: the value it created.
type version struct {
	id     string
	client int
	// invoke and complete are the history indexes of its ops; complete is
	// -1 while open.
	invoke, complete int64
	status           history.Type // Invoke while open
	ctxIn            string
	// past is the set of versions (indexes into keyState.versions) the
	// write's context covered; nil until computed.
	past    bitset
	pastSet bool
	busy    bool
}

// source is one way a context token came to be: an acknowledged write
// (own >= 0) or a read that saw observed.
type source struct {
	own      int
	observed []string
}

// observation is one answer that listed siblings.
type observation struct {
	op   int64 // -1 for a final read
	node string
	ids  []string
}

type keyState struct {
	key      string
	kind     history.Kind
	versions []*version
	byID     map[string]int
	sources  map[string][]source
	covers   map[string]bitset
	busyTok  map[string]bool
	observed []observation
	siblings int // most siblings seen in one answer
	// firstAck is the version whose acknowledgement came first in the
	// history, -1 before any: a read invoked after it must find something.
	firstAck int
}

func newKeyState(key string) *keyState {
	return &keyState{key: key, kind: history.KindOf(key), byID: map[string]int{},
		sources: map[string][]source{}, covers: map[string]bitset{}, busyTok: map[string]bool{}, firstAck: -1}
}

// Check decides on a history and the final state read after it.
func Check(ops []history.Op, final history.Final) Report {
	c := &run{keys: map[string]*keyState{}, open: map[int]history.Op{}}
	for _, op := range ops {
		c.apply(op)
	}
	// Operations still open when the history ends may have landed.
	for _, client := range slices.Sorted(maps.Keys(c.open)) {
		inv := c.open[client]
		c.complete(inv, history.Op{Index: -1, Type: history.Indeterminate, Client: client, F: inv.F, Key: inv.Key, Value: inv.Value, CtxIn: inv.CtxIn, Error: "never completed"})
	}
	c.r.Converged, c.r.ConvergeErr, c.r.ConvergeTime = final.Converged, final.ConvergeErr, final.ConvergeTime
	for _, key := range slices.Sorted(maps.Keys(final.Reads)) {
		c.key(key)
	}
	for _, key := range slices.Sorted(maps.Keys(c.keys)) {
		ks := c.keys[key]
		c.checkObservations(ks)
		c.checkFinal(ks, final.Reads[key])
		c.concurrency(ks)
	}
	c.checkRoots(final)
	c.r.Keys = len(c.keys)
	c.r.Unexpected = dedupe(c.r.Unexpected)
	c.r.Stale = dedupe(c.r.Stale)
	return c.r
}

type run struct {
	r    Report
	keys map[string]*keyState
	open map[int]history.Op // client -> its open invoke
}

func (c *run) key(k string) *keyState {
	ks, ok := c.keys[k]
	if !ok {
		ks = newKeyState(k)
		c.keys[k] = ks
	}
	return ks
}

func (c *run) apply(op history.Op) {
	switch op.Type {
	case history.Nemesis:
		return
	case history.Invoke:
		if prev, ok := c.open[op.Client]; ok {
			c.r.Malformed++
			c.complete(prev, history.Op{Index: op.Index, Type: history.Indeterminate, Client: op.Client, F: prev.F, Key: prev.Key, Value: prev.Value, CtxIn: prev.CtxIn, Error: "superseded by the client's next invoke"})
		}
		c.open[op.Client] = op
		if op.IsWrite() {
			c.r.Attempted++
			ks := c.key(op.Key)
			if _, dup := ks.byID[op.Value]; dup || op.Value == "" {
				c.r.Unexpected = append(c.r.Unexpected, Finding{Key: op.Key, Item: op.Value, Op: op.Index, Reason: "a write reuses a version ID (or has none): the history cannot tell its values apart"})
				return
			}
			ks.byID[op.Value] = len(ks.versions)
			ks.versions = append(ks.versions, &version{id: op.Value, client: op.Client, invoke: op.Index, complete: -1, status: history.Invoke, ctxIn: op.CtxIn})
		} else if op.F == history.Read {
			c.r.Reads++
			c.key(op.Key)
		}
	case history.Ok, history.Fail, history.Indeterminate:
		inv, ok := c.open[op.Client]
		if !ok || inv.F != op.F || inv.Key != op.Key {
			c.r.Malformed++
			return
		}
		delete(c.open, op.Client)
		c.complete(inv, op)
		c.checkFoundNothing(inv, op)
	default:
		c.r.Malformed++
	}
}

// complete records how the operation inv ended.
func (c *run) complete(inv, op history.Op) {
	ks := c.key(inv.Key)
	if op.F == history.Read {
		if op.Type == history.Ok {
			c.r.ReadsOK++
			c.observe(ks, op.Index, op.Node, op.Read)
			ks.sources[op.Ctx] = append(ks.sources[op.Ctx], source{own: -1, observed: op.Read})
		}
		return
	}
	switch op.Type {
	case history.Ok:
		c.r.Acknowledged++
	case history.Fail:
		c.r.Failed++
	default:
		c.r.Indeterminate++
	}
	vi, ok := ks.byID[inv.Value]
	if !ok || ks.versions[vi].invoke != inv.Index {
		return // a duplicate ID, already reported
	}
	v := ks.versions[vi]
	v.status, v.complete = op.Type, op.Index
	if op.CtxIn != "" {
		v.ctxIn = op.CtxIn
	}
	if inv.F == history.Add && op.CtxIn != "" {
		// The add's read answered: it saw op.Read under the context CtxIn.
		c.observe(ks, op.Index, op.Node, op.Read)
		ks.sources[op.CtxIn] = append(ks.sources[op.CtxIn], source{own: -1, observed: op.Read})
	}
	if op.Type == history.Ok {
		ks.sources[op.Ctx] = append(ks.sources[op.Ctx], source{own: vi})
		ks.siblings = max(ks.siblings, op.Siblings)
		if ks.firstAck < 0 {
			ks.firstAck = vi
		}
	}
}

// checkFoundNothing records a false not-found: the read of inv, completed
// by op, found nothing although a write of its key had been acknowledged
// before inv. Only completions the history recorded come here, never the
// checker's own stand-ins for operations that did not complete, which say
// nothing of what a read saw.
//
// The order is the history's: the recorder numbers an invoke before the
// request is sent and a completion after the answer came, so an
// acknowledgement numbered before a read's invoke came before the read
// began, in real time. The workload never deletes, so every acknowledged
// write leaves a value to find; a delete, were one added, would have to
// end that obligation.
func (c *run) checkFoundNothing(inv, op history.Op) {
	if len(op.Read) > 0 || !readAnswered(op) {
		return
	}
	ks := c.key(inv.Key)
	if ks.firstAck < 0 {
		return
	}
	v := ks.versions[ks.firstAck]
	if v.complete >= inv.Index {
		return
	}
	what := "a read"
	if inv.F == history.Add {
		what = "the read of an add"
	}
	c.r.FoundNothing = append(c.r.FoundNothing, Finding{Key: inv.Key, Item: v.id, Op: op.Index,
		Reason: fmt.Sprintf("%s through %s (invoked at op %d) found nothing, though this write of the key was acknowledged at op %d", what, op.Node, inv.Index, v.complete)})
}

// readAnswered reports whether the completion op shows that its read
// answered, so that an empty op.Read means not-found. A plain read says so
// by succeeding. An add writes only after its read answered, so an add
// that was acknowledged or indeterminate read first; a refused add read
// first only if its completion carries the read's context (a not-found
// answer may carry none, and is then not counted: the count errs low,
// never high).
func readAnswered(op history.Op) bool {
	switch op.F {
	case history.Read:
		return op.Type == history.Ok
	case history.Add:
		return op.Type == history.Ok || op.Type == history.Indeterminate || op.CtxIn != ""
	}
	return false
}

func (c *run) observe(ks *keyState, op int64, node string, ids []string) {
	ks.observed = append(ks.observed, observation{op: op, node: node, ids: ids})
	ks.siblings = max(ks.siblings, len(ids))
}

// past returns the versions the write vi's context covered.
func (ks *keyState) past(vi int) bitset {
	v := ks.versions[vi]
	if v.pastSet {
		return v.past
	}
	if v.busy { // a cycle: only a corrupt history has one
		return nil
	}
	v.busy = true
	p := ks.coverage(v.ctxIn).without(vi)
	v.busy, v.past, v.pastSet = false, p, true
	return p
}

// coverage returns the versions a context token covers, as far as the
// history shows.
func (ks *keyState) coverage(tok string) bitset {
	if tok == "" {
		return nil
	}
	if b, ok := ks.covers[tok]; ok {
		return b
	}
	if ks.busyTok[tok] {
		return nil
	}
	ks.busyTok[tok] = true
	var b bitset
	add := func(i int) {
		b.set(i)
		b.orIn(ks.past(i))
	}
	for _, s := range ks.sources[tok] {
		if s.own >= 0 {
			add(s.own)
		}
		for _, id := range s.observed {
			if i, ok := ks.byID[id]; ok {
				add(i)
			}
		}
	}
	delete(ks.busyTok, tok)
	ks.covers[tok] = b
	return b
}

// checkObservations looks at every answer during the run: values never
// written, seen before written, of refused writes, or superseded values
// next to what superseded them.
func (c *run) checkObservations(ks *keyState) {
	seen := map[string]bool{}
	for _, o := range ks.observed {
		for _, id := range o.ids {
			i, ok := ks.byID[id]
			switch {
			case !ok:
				c.unexpected(ks, seen, id, o.op, fmt.Sprintf("a read through %s saw a value no client wrote", o.node))
			case ks.versions[i].invoke > o.op:
				c.unexpected(ks, seen, id, o.op, fmt.Sprintf("a read through %s saw it before its write was invoked (op %d)", o.node, ks.versions[i].invoke))
			case ks.versions[i].status == history.Fail:
				c.unexpected(ks, seen, id, o.op, fmt.Sprintf("a read through %s saw a write the server had refused with a definite answer (op %d)", o.node, ks.versions[i].complete))
			}
		}
		c.antichain(ks, o)
	}
}

func (c *run) unexpected(ks *keyState, seen map[string]bool, item string, op int64, reason string) {
	if seen[item] {
		return
	}
	seen[item] = true
	c.r.Unexpected = append(c.r.Unexpected, Finding{Key: ks.key, Item: item, Op: op, Reason: reason})
}

// antichain reports siblings of one answer of which one supersedes another.
func (c *run) antichain(ks *keyState, o observation) {
	for _, a := range o.ids {
		ai, ok := ks.byID[a]
		if !ok {
			continue
		}
		for _, b := range o.ids {
			bi, ok := ks.byID[b]
			if !ok || ai == bi {
				continue
			}
			if ks.past(bi).has(ai) {
				where := "the final read"
				if o.op >= 0 {
					where = "a read"
				}
				c.r.Stale = append(c.r.Stale, Finding{Key: ks.key, Item: a, Op: o.op,
					Reason: fmt.Sprintf("%s through %s returned it next to %s, whose write's context covered it", where, o.node, b)})
			}
		}
	}
}

// checkFinal compares the nodes' final reads and looks for lost,
// unexpected and stale values in them.
func (c *run) checkFinal(ks *keyState, reads map[string]history.FinalRead) {
	if len(reads) == 0 {
		if len(ks.versions) > 0 {
			c.r.Divergent = append(c.r.Divergent, Finding{Key: ks.key, Op: -1, Reason: "no final read of the key"})
		}
		return
	}
	var ids, elems []string
	sigs := map[string][]string{}
	answered := 0
	for _, node := range slices.Sorted(maps.Keys(reads)) {
		r := reads[node]
		if r.Err != "" {
			c.r.Divergent = append(c.r.Divergent, Finding{Key: ks.key, Op: -1, Reason: fmt.Sprintf("%s could not read it: %s", node, r.Err)})
			continue
		}
		answered++
		var nodeIDs, sig []string
		for _, s := range r.Siblings {
			if s.BadValue {
				c.r.Unexpected = append(c.r.Unexpected, Finding{Key: ks.key, Item: s.ID, Op: -1, Reason: fmt.Sprintf("%s's final read returned a value of no format the workload writes", node)})
				continue
			}
			nodeIDs = append(nodeIDs, s.ID)
			ids = append(ids, s.ID)
			elems = append(elems, s.Elems...)
			sig = append(sig, s.ID+"="+strings.Join(s.Elems, ","))
		}
		slices.Sort(sig)
		k := strings.Join(sig, " ")
		sigs[k] = append(sigs[k], node)
		ks.siblings = max(ks.siblings, len(r.Siblings))
		c.antichain(ks, observation{op: -1, node: node, ids: nodeIDs})
	}
	if len(sigs) > 1 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(sigs)) {
			parts = append(parts, fmt.Sprintf("%v: %d siblings", sigs[k], len(strings.Fields(k))))
		}
		c.r.Divergent = append(c.r.Divergent, Finding{Key: ks.key, Op: -1, Reason: "nodes' final reads differ: " + strings.Join(parts, "; ")})
	}
	if answered == 0 {
		return // loss cannot be told; the unreadable key is reported above
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	elems = history.Union(elems)

	present := map[string]bool{}
	var presentIdx []int
	seen := map[string]bool{}
	for _, id := range ids {
		present[id] = true
		i, ok := ks.byID[id]
		switch {
		case !ok:
			c.unexpected(ks, seen, id, -1, "the final read returned a value no client wrote")
			continue
		case ks.versions[i].status == history.Fail:
			c.unexpected(ks, seen, id, -1, fmt.Sprintf("the final read returned a write the server had refused with a definite answer (op %d)", ks.versions[i].complete))
		}
		presentIdx = append(presentIdx, i)
	}
	if ks.kind == history.KindSet {
		for _, e := range elems {
			i, ok := ks.byID[e]
			switch {
			case !ok:
				c.unexpected(ks, seen, e, -1, "the final set holds an element no client added")
			case ks.versions[i].status == history.Fail:
				c.unexpected(ks, seen, e, -1, fmt.Sprintf("the final set holds an element whose add the server had refused with a definite answer (op %d)", ks.versions[i].complete))
			}
		}
	}

	// What the final siblings cover: themselves and their pasts.
	var covered bitset
	for _, i := range presentIdx {
		covered.set(i)
		covered.orIn(ks.past(i))
	}
	has := map[string]bool{}
	for _, e := range elems {
		has[e] = true
	}
	for i, v := range ks.versions {
		if v.status != history.Ok {
			continue
		}
		switch ks.kind {
		case history.KindSet:
			if !has[v.id] {
				c.r.Lost = append(c.r.Lost, Finding{Key: ks.key, Item: v.id, Op: v.complete, Reason: fmt.Sprintf("acknowledged add by client %d missing from the final union of %d elements", v.client, len(elems))})
			}
		default:
			if !covered.has(i) {
				c.r.Lost = append(c.r.Lost, Finding{Key: ks.key, Item: v.id, Op: v.complete, Reason: fmt.Sprintf("acknowledged write by client %d is neither a final sibling nor superseded by one (final: %v)", v.client, ids)})
			}
		}
		// A final sibling in the past of an acknowledged write was
		// superseded and must be gone.
		for _, pi := range presentIdx {
			if pi != i && ks.past(i).has(pi) {
				c.r.Stale = append(c.r.Stale, Finding{Key: ks.key, Item: ks.versions[pi].id, Op: v.complete,
					Reason: fmt.Sprintf("a final sibling, though the acknowledged write %s covered it", v.id)})
			}
		}
	}
}

// checkRoots compares the Merkle roots of every partition's replicas. A
// final state without the ring cannot be compared, and says so as a
// finding: a comparison that did not run must not pass.
func (c *run) checkRoots(final history.Final) {
	if len(final.Replicas) == 0 {
		why := "no node answered with the ring"
		if final.RootsErr != "" {
			why += ": " + final.RootsErr
		}
		c.r.Divergent = append(c.r.Divergent, Finding{Key: "merkle roots", Op: -1, Reason: "not compared: " + why})
		return
	}
	for p, nodes := range final.Replicas {
		var first uint64
		var parts []string
		differ := false
		for i, n := range nodes {
			root, ok := final.Roots[n][uint32(p)]
			if !ok {
				c.r.Divergent = append(c.r.Divergent, Finding{Key: fmt.Sprintf("partition %d", p), Op: -1, Reason: fmt.Sprintf("replica %s reports no Merkle root for it", n)})
				differ = false
				parts = nil
				break
			}
			if i == 0 {
				first = root
			} else if root != first {
				differ = true
			}
			parts = append(parts, fmt.Sprintf("%s=%016x", n, root))
		}
		if differ {
			c.r.Divergent = append(c.r.Divergent, Finding{Key: fmt.Sprintf("partition %d", p), Op: -1, Reason: "replicas' Merkle roots differ: " + strings.Join(parts, " ")})
		}
	}
}

// concurrency computes the key's true concurrency and compares its sibling
// counts with it.
func (c *run) concurrency(ks *keyState) {
	var live []int
	for i, v := range ks.versions {
		if v.status != history.Fail {
			live = append(live, i)
		}
	}
	pasts := make([]bitset, len(live))
	for j, i := range live {
		pasts[j] = ks.past(i)
	}
	w, exact := width(live, pasts)
	if !exact {
		c.r.Approximate = true
	}
	if w > c.r.MaxConcurrency {
		c.r.MaxConcurrency, c.r.MaxConcurrencyKey = w, ks.key
	}
	if ks.siblings > c.r.MaxSiblings {
		c.r.MaxSiblings, c.r.MaxSiblingsKey, c.r.KeyConcurrency = ks.siblings, ks.key, w
	}
	if ks.siblings > w {
		c.r.SiblingExcess = append(c.r.SiblingExcess, Finding{Key: ks.key, Op: -1,
			Reason: fmt.Sprintf("an answer held %d siblings, but at most %d of the key's writes were concurrent", ks.siblings, w)})
	}
}

// dedupe keeps the first finding of each key and item.
func dedupe(fs []Finding) []Finding {
	seen := map[[2]string]bool{}
	out := fs[:0]
	for _, f := range fs {
		k := [2]string{f.Key, f.Item}
		if f.Item != "" && seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, f)
	}
	return out
}
