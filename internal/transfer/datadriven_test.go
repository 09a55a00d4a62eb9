package transfer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/dhtkv/dht/internal/merkle"
)

// TestMachine_Scenarios runs the stories in testdata/: events in, effects
// out. Rewrite the expected output after a deliberate change with
//
//	go test ./internal/transfer -run Scenarios -rewrite
//
// The commands:
//
//	new self=a concurrency=2 batch-keys=2 batch-bytes=4096 drop-delay=10s timeout=30s [compare]
//	  [agreement-wait=10s]
//	ring version=5 [synced] [owner] [removed] [involved] [settled] [partitions=8]
//	  [disagreed]                     a live peer routes by another ring
//	  want p=3 since=5 from=(b,c)     a placement to receive (one per line)
//	  hold p=7 [needed] [replicas=(b,c)]  a partition held
//	alive b c                         the other nodes alive (none when empty)
//	restore p=3 since=5 after=k2      a cursor saved by an earlier run
//	tick now=10s                      a tick at 10s after the start
//	pulled id=1 keys=2 bytes=100 last=k2 [total=5] [gen=7] [done] [now=..]
//	  [answered=2]                    keys of a keyed pull it covers
//	hashes id=1 vals=(7,0,3) [shape=4^1] [gen=7] [total=5] [now=..]
//	                                  a vnode's Merkle answer (shape 4^1 by default)
//	listed id=5 keys=(k1:7,k2:3) [now=..]  a vnode's bucket listing, key:value-hash
//	merged id=(2,3) [now=..]          acknowledgements, in order
//	error id=2 [now=..]               the input is the error's text
//	dropped p=7 [done] [err=..] [now=..]
//	state                             the running transfers
//
// Times are offsets from the scenario's start.
func TestMachine_Scenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{}
		datadriven.RunTest(t, path, h.run)
	})
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type harness struct {
	m     *Machine
	now   time.Time
	snap  Snapshot
	alive []string
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	if h.m == nil && d.Cmd != "new" {
		d.Fatalf(t, "the first command must be new")
	}
	if a, ok := d.Arg("now"); ok {
		h.now = epoch.Add(parseDuration(t, d, a.SingleVal(t)))
	}
	switch d.Cmd {
	case "new":
		h.newMachine(t, d)
		return "ok"
	case "ring":
		h.ring(t, d)
		return "ok"
	case "alive":
		h.alive = h.alive[:0]
		for _, a := range d.CmdArgs {
			h.alive = append(h.alive, a.Key)
		}
		return "ok"
	case "restore":
		var p, since int
		var after string
		d.ScanArgs(t, "p", &p)
		d.ScanArgs(t, "since", &since)
		d.MaybeScanArgs(t, "after", &after)
		h.m.Restore(Cursor{Partition: uint32(p), Since: uint64(since), After: []byte(after)})
		return "ok"
	case "tick":
		s := h.snap
		s.Alive = h.alive
		return h.print(h.m.Tick(h.now, s))
	case "pulled":
		return h.print(h.m.Pulled(h.now, uint64(intArg(t, d, "id")), h.batch(t, d)))
	case "hashes":
		return h.print(h.m.Hashes(h.now, uint64(intArg(t, d, "id")), h.hashes(t, d)))
	case "listed":
		var kvs []merkle.KeyVersion
		if a, ok := d.Arg("keys"); ok {
			for _, v := range a.Vals {
				k, hash, _ := strings.Cut(v, ":")
				n, err := strconv.ParseUint(hash, 10, 64)
				if err != nil {
					d.Fatalf(t, "listed: %q: %v", v, err)
				}
				kvs = append(kvs, merkle.KeyVersion{Key: []byte(k), ValueHash: n})
			}
		}
		return h.print(h.m.Listed(h.now, uint64(intArg(t, d, "id")), kvs))
	case "merged":
		var out []string
		arg, _ := d.Arg("id")
		for i := range arg.Vals {
			var id int
			arg.Scan(t, i, &id)
			if s := h.print(h.m.Merged(h.now, uint64(id))); s != "" {
				out = append(out, s)
			}
		}
		return strings.Join(out, "\n")
	case "error":
		return h.print(h.m.Failed(h.now, uint64(intArg(t, d, "id")), strings.TrimSpace(d.Input)))
	case "dropped":
		res := DropResult{Done: d.HasArg("done")}
		var msg string
		if d.MaybeScanArgs(t, "err", &msg) {
			res.Err = errors.New(msg)
		}
		return h.print(h.m.Dropped(h.now, uint32(intArg(t, d, "p")), res))
	case "state":
		return h.state()
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return ""
}

func (h *harness) newMachine(t *testing.T, d *datadriven.TestData) {
	cfg := Config{Self: "a", Concurrency: 2, BatchKeys: 2, BatchBytes: 4096, DropDelay: 10 * time.Second, Timeout: 30 * time.Second}
	d.MaybeScanArgs(t, "self", &cfg.Self)
	d.MaybeScanArgs(t, "concurrency", &cfg.Concurrency)
	d.MaybeScanArgs(t, "batch-keys", &cfg.BatchKeys)
	d.MaybeScanArgs(t, "batch-bytes", &cfg.BatchBytes)
	if a, ok := d.Arg("drop-delay"); ok {
		cfg.DropDelay = parseDuration(t, d, a.SingleVal(t))
	}
	if a, ok := d.Arg("timeout"); ok {
		cfg.Timeout = parseDuration(t, d, a.SingleVal(t))
	}
	if a, ok := d.Arg("agreement-wait"); ok {
		cfg.AgreementWait = parseDuration(t, d, a.SingleVal(t))
	}
	cfg.Compare = d.HasArg("compare")
	h.m, h.now, h.snap, h.alive = New(cfg), epoch, Snapshot{}, nil
}

// hashes reads a Merkle answer: vals are the hashes, shape fanout^depth.
func (h *harness) hashes(t *testing.T, d *datadriven.TestData) Hashes {
	out := Hashes{Shape: merkle.Shape{Fanout: 4, Depth: 1}}
	if a, ok := d.Arg("vals"); ok {
		for _, v := range a.Vals {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				d.Fatalf(t, "hashes: %q: %v", v, err)
			}
			out.Hashes = append(out.Hashes, n)
		}
	}
	var shape string
	if d.MaybeScanArgs(t, "shape", &shape) {
		if _, err := fmt.Sscanf(shape, "%d^%d", &out.Shape.Fanout, &out.Shape.Depth); err != nil {
			d.Fatalf(t, "hashes: shape %q: %v", shape, err)
		}
	}
	var gen, total int
	d.MaybeScanArgs(t, "gen", &gen)
	d.MaybeScanArgs(t, "total", &total)
	out.Generation, out.Total = uint64(gen), uint64(total)
	return out
}

// ring replaces the ring picture the next ticks see.
func (h *harness) ring(t *testing.T, d *datadriven.TestData) {
	s := Snapshot{Partitions: 8, Synced: d.HasArg("synced"), Owner: d.HasArg("owner"), Removed: d.HasArg("removed"),
		Involved: d.HasArg("involved"), Settled: d.HasArg("settled"), Agreed: !d.HasArg("disagreed")}
	d.MaybeScanArgs(t, "partitions", &s.Partitions)
	var version int
	d.MaybeScanArgs(t, "version", &version)
	s.Version = uint64(version)
	for _, line := range strings.Split(d.Input, "\n") {
		cmd, args, err := datadriven.ParseLine(line)
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		sub := &datadriven.TestData{Pos: d.Pos, Cmd: cmd, CmdArgs: args}
		switch cmd {
		case "":
		case "want":
			w := Want{Partition: uint32(intArg(t, sub, "p")), Since: uint64(intArg(t, sub, "since"))}
			if a, ok := sub.Arg("from"); ok {
				w.Sources = a.Vals
			}
			s.Wanted = append(s.Wanted, w)
		case "hold":
			hd := Held{Partition: uint32(intArg(t, sub, "p")), Needed: sub.HasArg("needed")}
			if a, ok := sub.Arg("replicas"); ok {
				hd.Replicas = a.Vals
			}
			s.Held = append(s.Held, hd)
		default:
			d.Fatalf(t, "ring: unknown line %q", line)
		}
	}
	h.snap = s
}

func (h *harness) batch(t *testing.T, d *datadriven.TestData) Batch {
	b := Batch{Done: d.HasArg("done")}
	d.MaybeScanArgs(t, "keys", &b.Keys)
	d.MaybeScanArgs(t, "bytes", &b.Bytes)
	var last string
	var total, gen int
	d.MaybeScanArgs(t, "last", &last)
	d.MaybeScanArgs(t, "total", &total)
	d.MaybeScanArgs(t, "gen", &gen)
	b.Last, b.Total, b.Generation = []byte(last), uint64(total), uint64(gen)
	d.MaybeScanArgs(t, "answered", &b.Answered)
	return b
}

func intArg(t *testing.T, d *datadriven.TestData, key string) int {
	var v int
	d.ScanArgs(t, key, &v)
	return v
}

func parseDuration(t *testing.T, d *datadriven.TestData, s string) time.Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	return v
}

// at prints a time as its offset from the scenario's start.
func at(ts time.Time) string { return ts.Sub(epoch).String() }

// print writes the effects one per line, in the order the actor carries
// them out: persist, send, report.
func (h *harness) print(e Effects) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	for _, c := range e.Cursors {
		if c.Delete {
			line("delete-cursor p=%d", c.Partition)
		} else {
			line("save-cursor p=%d since=%d after=%s", c.Partition, c.Since, c.After)
		}
	}
	for _, c := range e.Compares {
		line("compare id=%d to=%s p=%d level=%d parents=%v deadline=%s", c.ID, c.Node, c.Partition, c.Level, c.Parents, at(c.Deadline))
	}
	for _, l := range e.Lists {
		line("list id=%d to=%s p=%d buckets=%v deadline=%s", l.ID, l.Node, l.Partition, l.Buckets, at(l.Deadline))
	}
	for _, p := range e.Pulls {
		keys := ""
		if len(p.Keys) > 0 {
			keys = fmt.Sprintf(" keys=%s", p.Keys)
		}
		line("pull id=%d from=%s p=%d after=%q%s max-keys=%d max-bytes=%d deadline=%s", p.ID, p.Node, p.Partition, p.After, keys, p.MaxKeys, p.MaxBytes, at(p.Deadline))
	}
	for _, mg := range e.Merges {
		line("merge id=%d to=%s p=%d deadline=%s", mg.ID, mg.Node, mg.Partition, at(mg.Deadline))
	}
	for _, dr := range e.Drops {
		line("drop p=%d gen=%d", dr.Partition, dr.Generation)
	}
	for _, pl := range e.Done {
		line("handoff-done p=%d since=%d", pl.Partition, pl.Since)
	}
	if e.Recheck {
		line("recheck")
	}
	for _, mv := range e.Moved {
		line("moved %s keys=%d bytes=%d", mv.Kind, mv.Keys, mv.Bytes)
	}
	if e.Active != nil {
		line("progress %s", progressString(e.Active))
	}
	for _, c := range e.Compared {
		line("compared %s p=%d %s source-keys=%d send=%d bytes=%d: %s", c.Kind, c.Partition, c.Result, c.SourceKeys, c.Send, c.Bytes, c)
	}
	for _, en := range e.Ended {
		if en.Reason != "" {
			line("end %s p=%d peer=%s %s keys=%d: %s", en.Kind, en.Partition, en.Peer, en.Result, en.Keys, en.Reason)
		} else {
			line("end %s p=%d peer=%s %s keys=%d", en.Kind, en.Partition, en.Peer, en.Result, en.Keys)
		}
	}
	for _, ev := range e.Events {
		line("event %s p=%d subject=%q: %s", eventName(ev.Kind), ev.Partition, ev.Subject, ev.Detail)
	}
	if r := e.Report; r != nil {
		line("status version=%d settled=%t pending=%d draining=%d eta=%.1fs active=%s", r.Version, r.Settled, r.Pending, r.Draining, r.ETASeconds, progressString(r.Active))
	}
	if e.Retire {
		line("retire")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func eventName(k EventKind) string {
	return map[EventKind]string{Started: "handoff-start", Finished: "handoff-finish", DroppedData: "handoff-drop"}[k]
}

func progressString(ps []Progress) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s(p=%d peer=%s keys=%d/%d bytes=%d)", p.Kind, p.Partition, p.Peer, p.Keys, p.TotalKeys, p.Bytes))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (h *harness) state() string {
	var b strings.Builder
	for _, r := range h.m.running() {
		fmt.Fprintf(&b, "%s p=%d peer=%s cursor=%q awaiting=%d deadline=%s", r.kind, r.p, r.peerOrTargets(), r.cursor, r.awaiting, at(r.deadline))
		switch r.mode {
		case comparing:
			fmt.Fprintf(&b, " comparing level=%d parents=%v listed=%d/%d", r.cmp.level, r.cmp.parents, r.cmp.listed, len(r.cmp.buckets))
		case sending:
			fmt.Fprintf(&b, " sending sent=%d/%d", r.sent, len(r.toSend))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "inflight=%d received=%v retired=%t", len(h.m.inflight), h.m.received, h.m.retired)
	return b.String()
}
