package hintq

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// stored is a hint in the harness's fake storage.
type stored struct {
	partition uint32
	size      int64
	readable  bool
}

// harness drives a Queue as the hints actor does, over a fake storage, and
// prints every effect one per line. Its commands (see TestQueue_Scenarios):
//
//	new max-hints=N max-bytes=N [batch=N] [interval=D]
//	offer target=T key=K size=N [partition=P] [persist-fails=REASON]
//	tick now=D [alive=T,...] [removed=T,...] [redirect=P:NODE,...] [scan-fails=T,...]
//	ack req=N,...      refuse req=N,...
//	corrupt target=T seq=N     delete-fails on|off
//	restart            state
type harness struct {
	cfg   Config
	q     *Queue
	store map[string]map[uint64]stored
	// deleteFails makes every delete fail, as a broken disk would.
	deleteFails bool
	out         strings.Builder
}

func newHarness() *harness {
	h := &harness{store: map[string]map[uint64]stored{}}
	h.cfg = Config{MaxHints: 1000, MaxBytes: 1 << 20, BatchSize: 64, Interval: time.Second}
	h.q = New(h.cfg)
	return h
}

func (h *harness) printf(format string, args ...any) {
	fmt.Fprintf(&h.out, format+"\n", args...)
}

// carry prints eff and carries out its deletes, feeding their outcome back,
// as the shell does.
func (h *harness) carry(eff Effects) {
	if rm := eff.Delete; rm != nil {
		why := map[Why]string{WhyDelivered: "delivered", WhyUnreadable: "unreadable"}[rm.Why]
		ok := !h.deleteFails
		if ok {
			delete(h.store[rm.Target], rm.Seq)
			h.printf("delete %s#%d (%s)", rm.Target, rm.Seq, why)
		} else {
			h.printf("delete %s#%d (%s): fails, the hint stays", rm.Target, rm.Seq, why)
		}
		h.carry(h.q.Deleted(*rm, ok))
	}
	if d := eff.Send; d != nil {
		h.printf("send %s#%d p=%d to %s req=%d", d.Target, d.Seq, d.Partition, d.Node, d.Req)
	}
	if r := eff.Reply; r != nil {
		if r.Stored {
			h.printf("reply stored")
		} else {
			h.printf("reply refused: %s", r.Reason)
		}
	}
	if eff.Count != "" {
		h.printf("count %s", eff.Count)
	}
	for _, g := range eff.Gauges {
		h.printf("gauge %s pending=%d total-bytes=%d", g.Target, g.Pending, g.TotalBytes)
	}
	if d := eff.Retry; d != nil {
		h.printf("retry %s#%d later (req=%d refused by %s)", d.Target, d.Seq, d.Req, d.Node)
	}
	if eff.Wake {
		h.printf("wake: deliver again now")
	}
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	h.out.Reset()
	switch d.Cmd {
	case "new":
		h.cfg = Config{Interval: time.Second, BatchSize: 64}
		d.ScanArgs(t, "max-hints", &h.cfg.MaxHints)
		d.ScanArgs(t, "max-bytes", &h.cfg.MaxBytes)
		d.MaybeScanArgs(t, "batch", &h.cfg.BatchSize)
		if d.HasArg("interval") {
			h.cfg.Interval = duration(t, d, "interval")
		}
		h.q, h.store = New(h.cfg), map[string]map[uint64]stored{}
		return "ok"
	case "offer":
		h.offer(t, d)
	case "tick":
		h.tick(t, d)
	case "ack", "refuse":
		for _, s := range list(d, "req") {
			req, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				d.Fatalf(t, "req %q: %v", s, err)
			}
			if d.Cmd == "ack" {
				h.carry(h.q.Acked(req))
			} else {
				h.carry(h.q.Refused(req))
			}
		}
	case "corrupt":
		var target string
		var seq uint64
		d.ScanArgs(t, "target", &target)
		d.ScanArgs(t, "seq", &seq)
		s := h.store[target][seq]
		s.readable = false
		h.store[target][seq] = s
		return "ok"
	case "delete-fails":
		h.deleteFails = d.CmdArgs[0].Key == "on"
		return "ok"
	case "restart":
		// A new process: the machine's memory is gone, storage is not.
		h.q = New(h.cfg)
		for _, target := range sortedKeys(h.store) {
			for _, seq := range sortedKeys(h.store[target]) {
				h.q.Load(Ref{Target: target, Seq: seq, Size: h.store[target][seq].size})
			}
		}
		h.carry(h.q.Loaded())
	case "state":
		h.state()
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	if h.out.Len() == 0 {
		return "(no effects)"
	}
	return h.out.String()
}

func (h *harness) offer(t *testing.T, d *datadriven.TestData) {
	var target, key, fails string
	var size int64
	var partition uint32
	d.ScanArgs(t, "target", &target)
	d.MaybeScanArgs(t, "key", &key)
	d.ScanArgs(t, "size", &size)
	d.MaybeScanArgs(t, "partition", &partition)
	d.MaybeScanArgs(t, "persist-fails", &fails)
	eff := h.q.Offer(Offer{Target: target, Key: []byte(key), Size: size})
	if ref := eff.Persist; ref != nil {
		var err error
		if fails != "" {
			err = errors.New(fails)
			h.printf("persist %s#%d (%d bytes): fails", ref.Target, ref.Seq, ref.Size)
		} else {
			if h.store[ref.Target] == nil {
				h.store[ref.Target] = map[uint64]stored{}
			}
			h.store[ref.Target][ref.Seq] = stored{partition: partition, size: ref.Size, readable: true}
			h.printf("persist %s#%d (%d bytes)", ref.Target, ref.Seq, ref.Size)
		}
		eff = h.q.Persisted(*ref, err)
	}
	h.carry(eff)
}

func (h *harness) tick(t *testing.T, d *datadriven.TestData) {
	now := time.Unix(0, 0).Add(duration(t, d, "now"))
	alive, removed, scanFails := list(d, "alive"), list(d, "removed"), list(d, "scan-fails")
	redirect := map[uint32]string{}
	for _, s := range list(d, "redirect") {
		p, node, _ := strings.Cut(s, ":")
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			d.Fatalf(t, "redirect %q: %v", s, err)
		}
		redirect[uint32(n)] = node
	}
	reach := map[string]Reach{}
	for _, target := range h.q.Targets() {
		reach[target] = Reach{Alive: slices.Contains(alive, target), Removed: slices.Contains(removed, target)}
	}
	for _, r := range h.q.Tick(now, reach) {
		h.printf("round %s%s", r.Target, map[bool]string{true: " (removed: redirected)"}[r.Redirect])
		if slices.Contains(scanFails, r.Target) {
			h.printf("reading %s's hints fails", r.Target)
			h.q.Scanned(r, false)
			continue
		}
		for _, seq := range sortedKeys(h.store[r.Target]) {
			s := h.store[r.Target][seq]
			eff, more := h.q.Consider(r, Hint{Ref: Ref{Target: r.Target, Seq: seq, Size: s.size}, Partition: s.partition, Readable: s.readable}, redirect[s.partition])
			if r.Redirect && s.readable && redirect[s.partition] == "" {
				h.printf("skip %s#%d: no live replica serves p=%d", r.Target, seq, s.partition)
			}
			h.carry(eff)
			if !more {
				break
			}
		}
		h.q.Scanned(r, true)
	}
}

func (h *harness) state() {
	count, bytes := h.q.Totals()
	h.printf("queue: %d hints, %d bytes, %d in flight", count, bytes, h.q.InFlight())
	for _, target := range sortedKeys(h.store) {
		var seqs []string
		for _, seq := range sortedKeys(h.store[target]) {
			seqs = append(seqs, strconv.FormatUint(seq, 10))
		}
		if len(seqs) > 0 {
			h.printf("%s: pending=%d stored=#%s", target, h.q.Pending(target), strings.Join(seqs, ",#"))
		}
	}
}

func list(d *datadriven.TestData, key string) []string {
	arg, ok := d.Arg(key)
	if !ok {
		return nil
	}
	return arg.Vals
}

func duration(t *testing.T, d *datadriven.TestData, key string) time.Duration {
	var s string
	d.ScanArgs(t, key, &s)
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Fatalf(t, "%s=%q: %v", key, s, err)
	}
	return v
}

func sortedKeys[K string | uint64, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestQueue_Scenarios runs the stories in testdata/: events in, effects out.
// Rewrite the expected output with go test ./internal/hintq -rewrite.
func TestQueue_Scenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := newHarness()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.run(t, d)
		})
	})
}
