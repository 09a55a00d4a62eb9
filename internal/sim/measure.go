package sim

import (
	"cmp"
	"slices"
	"time"

	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/internal/dvv"
	"github.com/dhtkv/dht/internal/quorum"
)

// Result is what one step did and what it left.
type Result struct {
	Step Step
	// Skipped is set when the step found nothing to apply to.
	Skipped bool
	// Nodes are the nodes the step joined, removed, took down or brought
	// back; Zones the zones it took down.
	Nodes []string
	Zones []string
	// At is the simulated time of the change.
	At time.Duration

	// Moved counts the replicas placed anew (ring.Moved between the tables
	// before and after); Ideal is the least a change of that kind can move:
	// N·Q/(S+1) for a join to S owners (Q while S < N), the member's load for
	// a removal, for a resize what evening the split takes (the split itself
	// moves nothing), for a halving the replicas each pair of siblings does
	// not share (counted in partitions of the larger ring). Both 0 for a
	// step that changes no ownership.
	Moved int
	Ideal float64
	// MovedElsewhere counts, for a join, the moved replicas placed on
	// other members than the newcomer (claim promises none, but for the
	// join that first brings the zone count to N).
	MovedElsewhere int
	// Claim is the wall time of ring.Claim on the new state (0 without
	// Config.Now, or when the ring did not change).
	Claim time.Duration

	// Transfers is how many handoffs finished, BytesMoved their data, and
	// Settle the simulated time from the change until the last of them.
	// Stalled counts the transfers left that cannot run (no live source).
	Transfers  int
	BytesMoved int64
	// NaiveBytes is, for a Resize or a Halve, what a resize that transfers every
	// partition to a new ring (Riak's) would move: every replica.
	NaiveBytes int64
	Settle     time.Duration
	Stalled    int

	// Partitions is Q after the step; Owners is how many members own
	// replicas, Loads their replica counts.
	Partitions int
	Owners     int
	Loads      LoadStats
	// ZoneCount is how many zones the owners span; when it is at least N,
	// ZoneRepeats counts the partitions whose replicas repeat a zone
	// (claim promises 0).
	ZoneCount   int
	ZoneRepeats int

	// Avail is the availability of requests at the configured quorum: the
	// worse of right after the change and once settled.
	Avail Availability
	// Repair is the anti-entropy a Recover step ran.
	Repair Repair
}

// LoadStats summarises replicas per owner.
type LoadStats struct {
	Min, Max int
	Mean     float64
	// MaxShare and MinShare are the extreme loads over each owner's fair
	// share (fairShares): the mean without zones or with zones that hold
	// less than Q each, but with exactly N zones of unequal sizes each zone
	// holds Q replicas whatever its size, so the mean is not what claim
	// aims at.
	MaxShare, MinShare float64
}

// MaxRatio is the fullest owner's load over the mean.
func (l LoadStats) MaxRatio() float64 { return ratio(float64(l.Max), l.Mean) }

// MinRatio is the emptiest owner's load over the mean.
func (l LoadStats) MinRatio() float64 { return ratio(float64(l.Min), l.Mean) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// MovedRatio is Moved over Ideal (0 when the step moves nothing by design).
func (r Result) MovedRatio() float64 { return ratio(float64(r.Moved), r.Ideal) }

// Availability counts, over every partition (keys spread evenly over them,
// so a share of partitions is a share of keys), those whose requests
// succeed.
type Availability struct {
	Partitions int
	// Read counts partitions where a read at R (PR) succeeds: quorum.Get
	// over quorum.ReadTargets of Plan.Route's targets, every live target
	// answering. Sloppy quorum does not help reads: fallbacks hold hints,
	// not replicas.
	Read int
	// Write counts partitions where a write at W (PW) succeeds with strict
	// quorum (hinted handoff off); SloppyWrite with fallbacks keeping hints
	// for the down owners.
	Write       int
	SloppyWrite int
}

// ReadShare, WriteShare and SloppyWriteShare are the counts over Partitions.
func (a Availability) ReadShare() float64 { return ratio(float64(a.Read), float64(a.Partitions)) }

// WriteShare is Write over Partitions.
func (a Availability) WriteShare() float64 { return ratio(float64(a.Write), float64(a.Partitions)) }

// SloppyWriteShare is SloppyWrite over Partitions.
func (a Availability) SloppyWriteShare() float64 {
	return ratio(float64(a.SloppyWrite), float64(a.Partitions))
}

// worst returns, field by field, the lower of a and b. Across a resize the
// two count partitions of different sizes: the one of fewer, larger
// partitions is counted in the other's, each of its partitions standing
// for the arcs of those it covers.
func (a Availability) worst(b Availability) Availability {
	a, b = a.in(b.Partitions), b.in(a.Partitions)
	return Availability{Partitions: a.Partitions, Read: min(a.Read, b.Read), Write: min(a.Write, b.Write), SloppyWrite: min(a.SloppyWrite, b.SloppyWrite)}
}

// in returns a counted in partitions of a ring of q when q is a multiple
// of a's count, else a.
func (a Availability) in(q int) Availability {
	if a.Partitions == 0 || q <= a.Partitions || q%a.Partitions != 0 {
		return a
	}
	f := q / a.Partitions
	return Availability{Partitions: q, Read: a.Read * f, Write: a.Write * f, SloppyWrite: a.SloppyWrite * f}
}

// availability routes every partition by the current plan and the down set,
// as the coordinator does (actors/node's clusterRouter), and runs the quorum
// machines against targets that all answer: a target is only listed when
// alive, so the outcome is decided by who is up and what the plan says.
func (s *Sim) availability() Availability {
	a := Availability{Partitions: s.partitions()}
	for p := range a.Partitions {
		strict := s.plan.Route(uint32(p), s.alive, false)
		targets := targetsOf(strict)
		readOK := s.read(targets)
		writeOK := s.write(targets)
		sloppyOK := writeOK
		// Sloppy routing only differs when a serving member is down; it is
		// skipped otherwise, because Table.Fallbacks walks the ring and
		// costs O(Q·N) a partition at a thousand nodes.
		if len(strict.Owners)+len(strict.Rebuilding) < len(s.plan.Slots[p]) {
			sloppyOK = s.write(targetsOf(s.plan.Route(uint32(p), s.alive, true)))
		}
		if readOK {
			a.Read++
		}
		if writeOK {
			a.Write++
		}
		if sloppyOK {
			a.SloppyWrite++
		}
	}
	return a
}

// targetsOf converts a route into quorum targets, as actors/node does.
func targetsOf(r ring.Route) []quorum.Target {
	out := make([]quorum.Target, 0, len(r.Owners)+len(r.Rebuilding)+len(r.StandIns))
	for _, id := range r.Owners {
		out = append(out, quorum.Target{Node: id, Primary: true})
	}
	for _, id := range r.Rebuilding {
		out = append(out, quorum.Target{Node: id, Primary: true, WriteOnly: true})
	}
	for _, in := range r.StandIns {
		out = append(out, quorum.Target{Node: in.Node, HintFor: in.For})
	}
	return out
}

// read runs quorum.Get with every target answering.
func (s *Sim) read(targets []quorum.Target) bool {
	g := quorum.NewGet(s.cfg.Quorum, quorum.ReadTargets(targets))
	eff := g.Start()
	for _, t := range eff.Ask {
		if eff.Reply != nil {
			break
		}
		eff = g.Answered(t.Node, dvv.Set{})
	}
	return eff.Reply != nil && eff.Reply.Err == nil
}

// write runs quorum.Put with every target acknowledging.
func (s *Sim) write(targets []quorum.Target) bool {
	put := quorum.NewPut(s.cfg.Quorum, targets)
	eff := put.Start()
	if eff.Reply != nil {
		return eff.Reply.Err == nil
	}
	if eff.Coordinate == nil {
		return false
	}
	eff = put.Coordinated(eff.Coordinate.Node, dvv.Set{})
	for _, t := range eff.Replicate {
		if eff.Reply != nil {
			break
		}
		eff = put.Acked(t.Node)
	}
	return eff.Reply != nil && eff.Reply.Err == nil
}

// measureTable fills the balance and zone figures of the current table.
func (s *Sim) measureTable(res *Result) {
	t := s.plan.Table
	res.Owners = len(t.Members)
	counts := t.Counts()
	total := 0
	first := true
	for _, m := range t.Members {
		c := counts[m.ID]
		total += c
		if first || c < res.Loads.Min {
			res.Loads.Min = c
		}
		if first || c > res.Loads.Max {
			res.Loads.Max = c
		}
		first = false
	}
	if res.Owners > 0 {
		res.Loads.Mean = float64(total) / float64(res.Owners)
	}
	shares := fairShares(t.Members, t.Partitions, t.N)
	for i, m := range t.Members {
		r := ratio(float64(counts[m.ID]), shares[m.Zone])
		if i == 0 || r > res.Loads.MaxShare {
			res.Loads.MaxShare = r
		}
		if i == 0 || r < res.Loads.MinShare {
			res.Loads.MinShare = r
		}
	}
	zoneOf := make(map[string]string, len(t.Members))
	zones := map[string]bool{}
	for _, m := range t.Members {
		zoneOf[m.ID] = m.Zone
		zones[m.Zone] = true
	}
	res.ZoneCount = len(zones)
	if res.ZoneCount < t.N {
		return
	}
	for _, ids := range t.Replicas {
		repeated := false
		for i, a := range ids {
			for _, b := range ids[:i] {
				if zoneOf[a] == zoneOf[b] {
					repeated = true
				}
			}
		}
		if repeated {
			res.ZoneRepeats++
		}
	}
}

// fairShares returns the fair share of a member of each zone, as the claim
// documentation defines it: N·Q/S without zone diversity (fewer than N
// zones); with it, a zone can hold at most Q replicas (one a partition), so
// the zones whose members would together get more are capped at Q, shared
// by their members, and the rest is shared equally by the members of the
// other zones. It is a plain reference for the measurement, in floating
// point: claim's own, in exact fractions, is unexported.
func fairShares(members []ring.Member, q, n int) map[string]float64 {
	size := map[string]int{}
	var zones []string
	for _, m := range members {
		if size[m.Zone] == 0 {
			zones = append(zones, m.Zone)
		}
		size[m.Zone]++
	}
	out := make(map[string]float64, len(zones))
	width := min(n, len(members))
	rest, left := float64(width*q), float64(len(members))
	if len(zones) >= n {
		slices.SortFunc(zones, func(a, b string) int { return cmp.Or(cmp.Compare(size[b], size[a]), cmp.Compare(a, b)) })
		for len(zones) > 0 {
			k := float64(size[zones[0]])
			if k*rest < float64(q)*left {
				break
			}
			out[zones[0]] = float64(q) / k
			rest -= float64(q)
			left -= k
			zones = zones[1:]
		}
	}
	for _, z := range zones {
		out[z] = rest / left
	}
	return out
}
