package antientropy_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/dhtkv/dht/internal/antientropy"
	"github.com/dhtkv/dht/internal/dvv"
)

// TestMachine_Scenarios runs the stories in testdata/: a simulated cluster
// of replicas answers the machine's requests, and the file shows every
// event and effect. Rewrite the expectations after a deliberate change with
//
//	go test ./internal/antientropy -run TestMachine_Scenarios -rewrite
//
// Commands:
//
//	machine self=a grace=1s timeout=30s max-keys=10   a fresh machine and cluster;
//	  [sweep=10m gap=1s retry=(1s,1m)]                 the schedule's bound, rate limit, backoff
//	view                                               the cluster, one fact a line:
//	  owners a b c | alive a b | down c | left d | p0 replicas=a,b primaries=a,b [handoff]
//	replica node=b [clear] [silent] [shape=2x2] [fail=(kind,msg)] [broken=key] [hint=(key,count)]
//	  key=value@ts#actor.counter ...                   keys it stores ("del" is a tombstone);
//	                                                   the flags last until its next replica command
//	tick now=10s pick=0                                the clock; pick breaks ties between equally old pairs
//	deliver [n=3]                                      replicas answer what they were sent (n of them)
//	stores                                             what each replica holds now
//	stats now=10s                                      the schedule's Stats at now
func TestMachine_Scenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := &scenario{}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			return s.run(t, td)
		})
	})
}

type scenario struct {
	m        *antientropy.Machine
	view     *antientropy.View
	replicas map[string]*replica
	queue    []antientropy.Request
	now      time.Time
}

// pick is a Rand that always picks the n-th of the tied pairs.
type pick int

func (p pick) IntN(n int) int { return int(p) % n }

func (s *scenario) run(t *testing.T, td *datadriven.TestData) string {
	var out []string
	switch td.Cmd {
	case "machine":
		cfg := antientropy.Config{Self: "a", MaxKeys: 100, Timeout: 30 * time.Second,
			MergeSize: func(_ uint32, key []byte, obj dvv.Set) int { return len(key) + len(formatSet(obj)) }}
		td.MaybeScanArgs(t, "self", &cfg.Self)
		td.MaybeScanArgs(t, "max-keys", &cfg.MaxKeys)
		var grace, timeout, sweep, gap string
		if td.MaybeScanArgs(t, "grace", &grace) {
			cfg.Grace = duration(t, grace)
		}
		if td.MaybeScanArgs(t, "sweep", &sweep) {
			cfg.SweepInterval = duration(t, sweep)
		}
		if td.MaybeScanArgs(t, "gap", &gap) {
			cfg.MinGap = duration(t, gap)
		}
		if arg, ok := td.Arg("retry"); ok {
			lo, hi := arg.TwoVals(t)
			cfg.RetryMin, cfg.RetryMax = duration(t, lo), duration(t, hi)
		}
		if td.MaybeScanArgs(t, "timeout", &timeout) {
			cfg.Timeout = duration(t, timeout)
		}
		s.m, s.view, s.replicas, s.queue = antientropy.New(cfg), nil, map[string]*replica{}, nil
		return "ok"
	case "view":
		s.view = parseView(t, td.Input)
		return "ok"
	case "replica":
		s.replicaCmd(t, td)
		return "ok"
	case "tick":
		var now string
		var n int
		td.ScanArgs(t, "now", &now)
		td.MaybeScanArgs(t, "pick", &n)
		s.now = time.Unix(0, 0).Add(duration(t, now))
		out = s.apply(s.m.Tick(s.now, s.view, pick(n)))
	case "deliver":
		n := -1
		td.MaybeScanArgs(t, "n", &n)
		out = s.deliver(t, n)
	case "stats":
		var now string
		td.ScanArgs(t, "now", &now)
		st := s.m.Stats(time.Unix(0, 0).Add(duration(t, now)))
		out = append(out, fmt.Sprintf("pairs=%d max-age=%s last-sweep=%s sweeps=%d backoff=%d",
			st.Pairs, st.MaxAge, st.LastSweep, st.Sweeps, st.Backoff))
	case "stores":
		for _, node := range slices.Sorted(maps.Keys(s.replicas)) {
			r := s.replicas[node]
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(r.store)) {
				kv = append(kv, k+"="+formatSet(r.store[k]))
			}
			out = append(out, fmt.Sprintf("%s: %s", node, strings.Join(kv, " ")))
		}
	default:
		td.Fatalf(t, "unknown command %q", td.Cmd)
	}
	if len(out) == 0 {
		return "(nothing)"
	}
	return strings.Join(out, "\n")
}

// apply queues the effects' requests and prints the effects.
func (s *scenario) apply(eff antientropy.Effects) []string {
	s.queue = append(s.queue, eff.Send...)
	out := formatEffects(eff)
	if eff.NeedView {
		wall := s.now
		more := s.m.Reap(s.view, wall)
		out = append(out, fmt.Sprintf("view given, wall clock %dms:", wall.UnixMilli()))
		s.queue = append(s.queue, more.Send...)
		out = append(out, formatEffects(more)...)
	}
	return out
}

// deliver has the replicas answer, in order, what they were sent, and what
// those answers lead to, until nothing is outstanding or n answers (n < 0:
// no bound).
func (s *scenario) deliver(t *testing.T, n int) []string {
	var out []string
	for ; len(s.queue) > 0 && n != 0; n-- {
		req := s.queue[0]
		s.queue = s.queue[1:]
		r := s.replicas[req.Node]
		if r == nil {
			r = newReplica()
			s.replicas[req.Node] = r
		}
		eff, what, ok := r.answer(t, s.m, req)
		if !ok {
			out = append(out, fmt.Sprintf("× %s #%d %s: no answer", req.Node, req.ID, req.Kind))
			continue
		}
		out = append(out, fmt.Sprintf("← %s #%d %s", req.Node, req.ID, what))
		for _, line := range s.apply(eff) {
			out = append(out, "  "+line)
		}
	}
	return out
}

func (s *scenario) replicaCmd(t *testing.T, td *datadriven.TestData) {
	var node string
	td.ScanArgs(t, "node", &node)
	r := s.replicas[node]
	if r == nil {
		r = newReplica()
		s.replicas[node] = r
	}
	// A replica's misbehaviour lasts until its next replica command.
	r.silent, r.fail, r.broken = td.HasArg("silent"), map[antientropy.Kind]string{}, map[string]bool{}
	if td.HasArg("clear") {
		r.store = map[string]dvv.Set{}
	}
	r.shape = simShape
	if arg, ok := td.Arg("shape"); ok {
		f, d, _ := strings.Cut(arg.SingleVal(t), "x")
		r.shape.Fanout, r.shape.Depth = atoi(t, f), atoi(t, d)
	}
	if arg, ok := td.Arg("fail"); ok {
		kind, msg := arg.TwoVals(t)
		r.fail[kindOf(t, kind)] = msg
	}
	if arg, ok := td.Arg("broken"); ok {
		r.broken[arg.SingleVal(t)] = true
	}
	if arg, ok := td.Arg("hint"); ok {
		key, n := arg.TwoVals(t)
		r.hints[key] = uint32(atoi(t, n))
	}
	for _, line := range strings.Fields(td.Input) {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			td.Fatalf(t, "want key=set, got %q", line)
		}
		r.store[k] = parseSet(t, v)
	}
}

func kindOf(t testing.TB, name string) antientropy.Kind {
	for k := antientropy.MerkleLevel; k <= antientropy.Reap; k++ {
		if k.String() == name {
			return k
		}
	}
	t.Fatalf("unknown request kind %q", name)
	return 0
}

func duration(t testing.TB, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// parseView reads a view, one fact a line (see TestMachine_Scenarios).
func parseView(t testing.TB, input string) *antientropy.View {
	v := &antientropy.View{Members: map[string]antientropy.Liveness{}}
	for _, line := range strings.Split(strings.TrimSpace(input), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "owners":
			v.Owners = f[1:]
		case "alive", "down", "left":
			l := map[string]antientropy.Liveness{"alive": antientropy.Alive, "down": antientropy.Down, "left": antientropy.Left}[f[0]]
			for _, id := range f[1:] {
				v.Members[id] = l
			}
		default:
			var p antientropy.Partition
			for _, kv := range f[1:] {
				k, val, _ := strings.Cut(kv, "=")
				switch k {
				case "replicas":
					p.Replicas = strings.Split(val, ",")
				case "primaries":
					p.Primaries = strings.Split(val, ",")
				case "handoff":
					p.Handoff = true
				default:
					t.Fatalf("view: unknown partition field %q", kv)
				}
			}
			idx := atoi(t, strings.TrimPrefix(f[0], "p"))
			for len(v.Partitions) <= idx {
				v.Partitions = append(v.Partitions, antientropy.Partition{})
			}
			v.Partitions[idx] = p
		}
	}
	return v
}
