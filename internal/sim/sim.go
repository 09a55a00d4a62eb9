package sim

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
)

// Rand is the randomness a Sim draws with: a *math/rand/v2.Rand seeded by
// the caller (pure packages may not import the package, which also offers
// the hidden global source).
type Rand interface {
	IntN(n int) int
	Float64() float64
}

// StepKind is the kind of a Step.
type StepKind int

// The steps. Join, Decommission, ForceRemove, Resize and Halve change the ring; Crash,
// ZoneLoss and Recover only change which nodes are up, as failures do.
const (
	Join StepKind = iota + 1
	Decommission
	Crash
	ForceRemove
	ZoneLoss
	Recover
	// Resize doubles Q (ring.State.Resize) once the plan has settled.
	Resize
	// Halve halves Q once the plan has settled: ring.State.Resize to Q/2
	// aligns the sibling pairs, and once their transfers are done,
	// State.FinishHalving merges them (as the nodes' topology does).
	Halve
)

var stepNames = map[StepKind]string{
	Join: "join", Decommission: "decommission", Crash: "crash",
	ForceRemove: "force-remove", ZoneLoss: "zone-loss", Recover: "recover",
	Resize: "resize", Halve: "halve",
}

func (k StepKind) String() string {
	if s, ok := stepNames[k]; ok {
		return s
	}
	return fmt.Sprintf("step(%d)", int(k))
}

// Step is one change to the simulated cluster. Which node or zone it hits is
// drawn from the Sim's Rand among those it can apply to.
type Step struct {
	Kind StepKind
	// Count is how many nodes a Crash takes down, or how many zones a
	// ZoneLoss; 0 means 1. The other steps ignore it.
	Count int
}

func (st Step) String() string {
	if st.Count > 1 {
		return fmt.Sprintf("%s %d", st.Kind, st.Count)
	}
	return st.Kind.String()
}

// ParseSteps reads steps written as Step.String writes them, separated by
// commas or newlines, "#" starting a comment: "join, join, crash 2, recover".
func ParseSteps(text string) ([]Step, error) {
	var fields []string
	for line := range strings.Lines(text) {
		line, _, _ = strings.Cut(line, "#")
		fields = append(fields, strings.Split(line, ",")...)
	}
	var out []Step
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, count, _ := strings.Cut(f, " ")
		st := Step{}
		for k, n := range stepNames {
			if n == name {
				st.Kind = k
			}
		}
		if st.Kind == 0 {
			return nil, fmt.Errorf("sim: unknown step %q", name)
		}
		if count = strings.TrimSpace(count); count != "" {
			if _, err := fmt.Sscanf(count, "%d", &st.Count); err != nil || st.Count < 1 {
				return nil, fmt.Errorf("sim: step %q: count must be a positive number", f)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// Standard is the scenario of the scale figures: joins joins, a
// decommission, a crash and its recovery, a crash followed by the
// force-removal of the crashed node, one zone lost and recovered, then two.
func Standard(joins int) []Step {
	var out []Step
	for range joins {
		out = append(out, Step{Kind: Join})
	}
	return append(out,
		Step{Kind: Decommission},
		Step{Kind: Crash}, Step{Kind: Recover},
		Step{Kind: Crash}, Step{Kind: ForceRemove},
		Step{Kind: ZoneLoss}, Step{Kind: Recover},
		Step{Kind: ZoneLoss, Count: 2}, Step{Kind: Recover},
	)
}

// Sim is a simulated cluster. See the package doc.
type Sim struct {
	cfg   Config
	rng   Rand
	now   time.Duration
	state ring.State
	plan  ring.Plan

	nextNode  int
	down      map[string]bool
	downSince time.Duration
	// removed holds the force-removed nodes: down for good.
	removed map[string]bool

	// The simulated network: transfers waiting for a receiver or sender
	// slot, those in flight (as events), and the handoffs finished since
	// the plan was last computed.
	waiting  []*transfer
	events   eventQueue
	seq      uint64
	inbound  map[string]int
	outbound map[string]int
	finished []ring.Handoff
	moved    int64

	repairModel *repairModel
}

// transfer is one partition a member is receiving.
type transfer struct {
	node string
	t    ring.Transfer
	src  string
	at   time.Duration // when it finishes, once started
	seq  uint64
}

// New returns a settled cluster of cfg.Nodes members.
func New(cfg Config, rng Rand) (*Sim, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sim{cfg: cfg, rng: rng, down: map[string]bool{}, removed: map[string]bool{}, inbound: map[string]int{}, outbound: map[string]int{}}
	for range cfg.Nodes {
		s.state = s.state.Join(s.newMember())
	}
	// The first members start settled: every placement is recorded as
	// received, as if the cluster had been running for a while.
	s.replan()
	for _, tr := range s.pendingTransfers() {
		s.finished = append(s.finished, ring.Handoff{Member: tr.node, Partition: tr.t.Partition, Since: tr.t.Since})
	}
	s.foldHandoffs()
	if !s.plan.Settled() {
		panic("sim: the initial plan is not settled after recording every transfer")
	}
	return s, nil
}

// State is the current ring state.
func (s *Sim) State() ring.State { return s.state }

// Plan is the current plan.
func (s *Sim) Plan() ring.Plan { return s.plan }

// Now is the simulated time.
func (s *Sim) Now() time.Duration { return s.now }

// Down returns the nodes that are down, sorted.
func (s *Sim) Down() []string {
	out := make([]string, 0, len(s.down))
	for id := range s.down {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (s *Sim) alive(id string) bool { return !s.down[id] && !s.removed[id] }

func (s *Sim) newMember() ring.Member {
	i := s.nextNode
	s.nextNode++
	m := ring.Member{ID: fmt.Sprintf("n%04d", i)}
	if s.cfg.Zones > 0 {
		m.Zone = fmt.Sprintf("z%d", i%s.cfg.Zones)
	}
	return m
}

func (s *Sim) replan() {
	s.plan = ring.NewPlan(s.cfg.Partitions, s.cfg.Quorum.N, s.state)
}

// partitions is the ring's Q now: the configured one until a resize.
func (s *Sim) partitions() int { return s.state.Partitions(s.cfg.Partitions) }

// foldHandoffs records the finished handoffs in the state (one Merge, not a
// CompleteHandoff each: each of those copies every record) and recomputes
// the plan.
func (s *Sim) foldHandoffs() {
	if len(s.finished) == 0 {
		return
	}
	s.state = ring.Merge(s.state, ring.State{Handoffs: s.finished})
	s.finished = nil
	s.replan()
}

// Run applies steps in order and returns their results.
func (s *Sim) Run(steps []Step) []Result {
	out := make([]Result, 0, len(steps))
	for _, st := range steps {
		out = append(out, s.Apply(st))
	}
	return out
}

// Apply makes one change, runs the network until the plan settles (or
// nothing more can move), and measures. A step that finds nothing to apply
// to (a force-removal with no node down) is reported with Skipped set.
func (s *Sim) Apply(st Step) Result {
	res := Result{Step: st}
	prev := s.plan.Table
	owners := len(s.state.Owners())
	changed := false
	switch st.Kind {
	case Join:
		m := s.newMember()
		next, err := s.state.JoinSelf(m, m.ID)
		if err != nil {
			panic(fmt.Sprintf("sim: join %s: %v", m.ID, err))
		}
		s.state, changed = next, true
		res.Nodes = []string{m.ID}
		res.Ideal = float64(s.partitions() * s.cfg.Quorum.N)
		if owners+1 > s.cfg.Quorum.N {
			res.Ideal /= float64(owners + 1)
		} else {
			res.Ideal = float64(s.partitions())
		}
	case Decommission:
		id, ok := s.pick(s.upOwners())
		if !ok || owners == 1 {
			res.Skipped = true
			break
		}
		next, err := s.state.Decommission(id)
		if err != nil {
			panic(fmt.Sprintf("sim: decommission %s: %v", id, err))
		}
		res.Ideal = float64(prev.Counts()[id])
		s.state, changed = next, true
		res.Nodes = []string{id}
	case ForceRemove:
		id, ok := s.pick(s.downOwners())
		up := s.upOwners()
		if !ok || len(up) == 0 {
			res.Skipped = true
			break
		}
		next, err := s.state.ForceRemove(id, up[0], s.alive)
		if err != nil {
			panic(fmt.Sprintf("sim: force-remove %s: %v", id, err))
		}
		res.Ideal = float64(prev.Counts()[id])
		s.state, changed = next, true
		res.Nodes = []string{id}
		// Gone for good: routing keeps seeing it down, but no recovery
		// waits for it.
		delete(s.down, id)
		s.removed[id] = true
	case Crash:
		for range max(st.Count, 1) {
			id, ok := s.pick(s.upOwners())
			if !ok {
				break
			}
			s.markDown(id)
			res.Nodes = append(res.Nodes, id)
		}
		res.Skipped = len(res.Nodes) == 0
	case ZoneLoss:
		zones := s.upZones()
		for range max(st.Count, 1) {
			i, ok := s.pickIndex(len(zones))
			if !ok {
				break
			}
			z := zones[i]
			zones = slices.Delete(zones, i, i+1)
			for _, m := range s.state.Owners() {
				if m.Zone == z && !s.down[m.ID] {
					s.markDown(m.ID)
					res.Nodes = append(res.Nodes, m.ID)
				}
			}
			res.Zones = append(res.Zones, z)
		}
		res.Skipped = len(res.Nodes) == 0
	case Resize:
		// A resize waits for the records to settle, as a node's does;
		// the sim settles them cluster-wide at once.
		if !s.plan.Settled() {
			res.Skipped = true
			break
		}
		next, err := s.state.SettleHandoffs().Resize(s.cfg.Partitions, s.cfg.Quorum.N, 2*s.partitions())
		if err != nil {
			res.Skipped = true // already at ring.MaxPartitions
			break
		}
		s.state, changed = next, true
		// What a resize that lays a new ring over the old one and
		// transfers every partition (Riak's) moves: every replica.
		res.NaiveBytes = s.cfg.DataBytes * int64(s.cfg.Quorum.N)
		res.Ideal = evenSplitIdeal(prev.Counts(), 2, float64(2*prev.Partitions*s.cfg.Quorum.N)/float64(owners))
	case Halve:
		if !s.plan.Settled() || s.partitions()/2 < ring.MinPartitions {
			res.Skipped = true
			break
		}
		next, err := s.state.SettleHandoffs().Resize(s.cfg.Partitions, s.cfg.Quorum.N, s.partitions()/2)
		if err != nil {
			panic(fmt.Sprintf("sim: halve to %d: %v", s.partitions()/2, err))
		}
		s.state, changed = next, true
		res.NaiveBytes = s.cfg.DataBytes * int64(s.cfg.Quorum.N)
		res.Ideal = halvingIdeal(prev)
	case Recover:
		res.Nodes = s.Down()
		if len(res.Nodes) == 0 {
			res.Skipped = true
			break
		}
		s.now = max(s.now, s.downSince+s.cfg.Outage)
		res.Repair = s.repair(s.now-s.downSince, res.Nodes)
		clear(s.down)
	default:
		panic(fmt.Sprintf("sim: unknown step %v", st.Kind))
	}
	res.At = s.now

	if changed {
		if s.cfg.Now != nil {
			start := s.cfg.Now()
			s.state.Table(s.cfg.Partitions, s.cfg.Quorum.N)
			res.Claim = s.cfg.Now().Sub(start)
		}
		s.replan()
		res.Moved = movedAcrossSplit(prev, s.plan.Table)
		if st.Kind == Join {
			res.MovedElsewhere = movedElsewhere(prev, s.plan.Table, res.Nodes[0])
		}
	}
	// Availability right after the change, before any transfer: the
	// placements are not received, so earlier holders serve for them.
	res.Avail = s.availability()
	start, movedBefore := s.now, s.moved
	res.Transfers = s.settle()
	if st.Kind == Halve && changed {
		// The merge, once the align's transfers are done (and a new
		// align, had a change broken a pair): then the rebalance's.
		for s.state.Halving() != 0 {
			h, ok := s.state.SettleHandoffs().FinishHalving(s.cfg.Partitions, s.cfg.Quorum.N)
			if !ok {
				break // transfers that cannot run
			}
			s.state = h
			s.replan()
			res.Avail = res.Avail.worst(s.availability())
			res.Transfers += s.settle()
		}
		res.Moved = movedAcrossMerge(prev, s.plan.Table)
	}
	res.Settle = s.now - start
	res.BytesMoved = s.moved - movedBefore
	res.Stalled = len(s.waiting)
	if res.Transfers > 0 {
		res.Avail = res.Avail.worst(s.availability())
	}
	res.Partitions = s.partitions()
	s.measureTable(&res)
	return res
}

// markDown takes id down; the outage of every node down at once is timed
// from the first of them.
func (s *Sim) markDown(id string) {
	if len(s.down) == 0 {
		s.downSince = s.now
	}
	s.down[id] = true
}

// upOwners returns the owners that are up, sorted.
func (s *Sim) upOwners() []string {
	var out []string
	for _, m := range s.state.Owners() {
		if !s.down[m.ID] {
			out = append(out, m.ID)
		}
	}
	return out
}

// downOwners returns the owners that are down, sorted.
func (s *Sim) downOwners() []string {
	var out []string
	for _, m := range s.state.Owners() {
		if s.down[m.ID] {
			out = append(out, m.ID)
		}
	}
	return out
}

// upZones returns the zones with an owner up, sorted.
func (s *Sim) upZones() []string {
	var out []string
	for _, m := range s.state.Owners() {
		if !s.down[m.ID] && !slices.Contains(out, m.Zone) {
			out = append(out, m.Zone)
		}
	}
	slices.Sort(out)
	return out
}

func (s *Sim) pick(ids []string) (string, bool) {
	i, ok := s.pickIndex(len(ids))
	if !ok {
		return "", false
	}
	return ids[i], true
}

func (s *Sim) pickIndex(n int) (int, bool) {
	if n == 0 {
		return 0, false
	}
	return s.rng.IntN(n), true
}

// pendingTransfers lists every transfer the plan still needs, by node then
// partition.
func (s *Sim) pendingTransfers() []*transfer {
	seen := map[string]bool{}
	var nodes []string
	for _, slots := range s.plan.Slots {
		for _, sl := range slots {
			if !sl.Received && !seen[sl.Node] {
				seen[sl.Node] = true
				nodes = append(nodes, sl.Node)
			}
		}
	}
	slices.Sort(nodes)
	var out []*transfer
	for _, id := range nodes {
		for _, t := range s.plan.Transfers(id) {
			out = append(out, &transfer{node: id, t: t})
		}
	}
	return out
}

// settle runs the network until no transfer can make progress, then folds
// the finished handoffs into the state; it returns how many transfers
// finished.
func (s *Sim) settle() int {
	inFlight := map[ring.Handoff]bool{}
	for _, tr := range s.events {
		inFlight[ring.Handoff{Member: tr.node, Partition: tr.t.Partition, Since: tr.t.Since}] = true
	}
	s.waiting = s.waiting[:0]
	for _, tr := range s.pendingTransfers() {
		if !inFlight[ring.Handoff{Member: tr.node, Partition: tr.t.Partition, Since: tr.t.Since}] {
			s.waiting = append(s.waiting, tr)
		}
	}
	done := 0
	s.pump()
	for s.events.Len() > 0 {
		tr := heap.Pop(&s.events).(*transfer)
		s.now = tr.at
		s.inbound[tr.node]--
		s.outbound[tr.src]--
		s.moved += s.partitionBytes()
		s.finished = append(s.finished, ring.Handoff{Member: tr.node, Partition: tr.t.Partition, Since: tr.t.Since})
		done++
		s.pump()
	}
	s.foldHandoffs()
	return done
}

// pump starts every waiting transfer that has a free receiver slot and a
// live source with a free sender slot, in order; one with no source at all
// (nobody holds data the member lacks) finishes at once.
func (s *Sim) pump() {
	kept := s.waiting[:0]
	for _, tr := range s.waiting {
		if !s.alive(tr.node) || s.inbound[tr.node] >= s.cfg.TransferConcurrency {
			kept = append(kept, tr)
			continue
		}
		if len(tr.t.Sources) == 0 {
			s.finished = append(s.finished, ring.Handoff{Member: tr.node, Partition: tr.t.Partition, Since: tr.t.Since})
			continue
		}
		src := ""
		for _, c := range tr.t.Sources {
			if s.alive(c) && s.outbound[c] < s.cfg.TransferConcurrency {
				src = c
				break
			}
		}
		if src == "" {
			kept = append(kept, tr)
			continue
		}
		tr.src = src
		s.inbound[tr.node]++
		s.outbound[src]++
		jitter := 1 + s.cfg.Jitter*(2*s.rng.Float64()-1)
		secs := float64(s.partitionBytes()) / float64(s.cfg.TransferRate) * jitter
		tr.at = s.now + time.Duration(secs*float64(time.Second))
		s.seq++
		tr.seq = s.seq
		heap.Push(&s.events, tr)
	}
	clear(s.waiting[len(kept):])
	s.waiting = kept
}

func (s *Sim) partitionBytes() int64 { return s.cfg.DataBytes / int64(s.partitions()) }

// movedAcrossSplit is ring.Moved between tables whose Q may differ by a
// split: a replica of partition p of next is new unless it held p's
// parent in prev.
func movedAcrossSplit(prev, next ring.Table) int {
	if len(prev.Replicas) == 0 || len(next.Replicas) == len(prev.Replicas) {
		return ring.Moved(prev, next)
	}
	f := len(next.Replicas) / len(prev.Replicas)
	moved := 0
	for p, ids := range next.Replicas {
		for _, id := range ids {
			if !slices.Contains(prev.Replicas[p/f], id) {
				moved++
			}
		}
	}
	return moved
}

// halvingIdeal is the least a halving of a ring with table prev can move,
// in partitions of prev's size: every replica of a merged partition must
// hold both halves, so each pair of siblings moves at least the replicas
// its two sets do not share.
func halvingIdeal(prev ring.Table) float64 {
	ideal := 0
	for p := 0; p+1 < len(prev.Replicas); p += 2 {
		for _, id := range prev.Replicas[p] {
			if !slices.Contains(prev.Replicas[p+1], id) {
				ideal++
			}
		}
	}
	return float64(ideal)
}

// movedAcrossMerge counts, in partitions of prev's size, what a halving
// from prev to next sent: for each replica of each merged partition, the
// halves it did not hold.
func movedAcrossMerge(prev, next ring.Table) int {
	moved := 0
	for p, ids := range next.Replicas {
		for _, id := range ids {
			for _, c := range []int{2 * p, 2*p + 1} {
				if !slices.Contains(prev.Replicas[c], id) {
					moved++
				}
			}
		}
	}
	return moved
}

// eventQueue orders transfers by finishing time, then by start order, so
// that equal times replay the same way.
type eventQueue []*transfer

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	return cmp.Or(cmp.Compare(q[i].at, q[j].at), cmp.Compare(q[i].seq, q[j].seq)) < 0
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*transfer)) }
func (q *eventQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return x
}

// movedElsewhere counts the replicas b places that a did not, on members
// other than newcomer.
func movedElsewhere(a, b ring.Table, newcomer string) int {
	n := 0
	for p, ids := range b.Replicas {
		for _, id := range ids {
			if id != newcomer && !slices.Contains(a.Replicas[p], id) {
				n++
			}
		}
	}
	return n
}

// evenSplitIdeal is the least a split by f of a ring with loads can move
// to bring every member within a replica of share, its fair share on the
// split ring (without zone caps): every member below the share's floor
// must gain up to it, every member above its ceiling lose down to it, and
// one move does one of each.
func evenSplitIdeal(loads map[string]int, f int, share float64) float64 {
	var short, over float64
	for _, k := range loads {
		l := float64(f * k)
		short += math.Max(0, math.Floor(share)-l)
		over += math.Max(0, l-math.Ceil(share))
	}
	return math.Max(short, over)
}
