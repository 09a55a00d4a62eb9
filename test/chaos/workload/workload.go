package workload

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/chaos/checker"
	"github.com/dhtkv/dht/test/chaos/harness"
	"github.com/dhtkv/dht/test/chaos/history"
)

// Resolver is how a client merges the siblings it reads.
type Resolver string

// Resolvers.
const (
	// Union keeps every sibling: an add writes back the union of their
	// elements, and a read of a register hands the application all of
	// them. Nothing is lost.
	Union Resolver = "union"
	// LWW keeps only the latest sibling, by timestamp, as a client library
	// with a last-write-wins resolver does: an add writes back its
	// elements only, and a read of a register hands the application that
	// one value, so the next write, sent with the read's context,
	// overwrites the siblings the application never saw. The deliberately
	// lossy resolver the checker must catch.
	LWW Resolver = "lww"
)

// Config shapes a workload.
type Config struct {
	Clients int
	// SetKeys is how many set keys the clients share.
	SetKeys int
	// Registers is how many register keys each client owns.
	Registers int
	// SharedRegisters is how many register keys all clients write, each
	// write a read-modify-write: read the key, then write a new value with
	// the read's context. Concurrent writers leave siblings, which the
	// next read resolves (see Resolver). 0 leaves them out, and the
	// clients' choices are then those of a workload without them.
	SharedRegisters int
	// ColdKeys is how many register keys are written once, before the
	// clients' loops, and from then on only read. The other keys are
	// written many times a second, so a replica that lost them has them
	// back from the next write within moments; a cold key comes back only
	// by a rebuild, anti-entropy or read repair, so a read that meets a
	// replica without it shows. 0 leaves them out, and the clients'
	// choices are then those of a workload without them.
	ColdKeys int
	// Think is the longest pause between two operations of one client.
	Think time.Duration
	// OpTimeout bounds each request (an add's read and write each).
	OpTimeout time.Duration
	Resolver  Resolver
	// ReadR is the R of every read the clients make: plain reads and the
	// reads of adds and of read-modify-writes. 0 leaves it to the nodes'
	// default. At R=1 one replica's answer is the client's, so a replica
	// that lost its data and still counts toward R shows up as a read that
	// found nothing.
	ReadR int
	// Seed seeds every client's choices (client i uses Seed and i).
	Seed uint64
	// MaxOps bounds each client's operations.
	MaxOps int
}

// Keys returns every key the workload touches, sets then registers.
func (c Config) Keys() []string {
	var keys []string
	for i := range c.SetKeys {
		keys = append(keys, setKey(i))
	}
	for cl := range c.Clients {
		for j := range c.Registers {
			keys = append(keys, regKey(cl, j))
		}
	}
	for j := range c.SharedRegisters {
		keys = append(keys, sharedKey(j))
	}
	for j := range c.ColdKeys {
		keys = append(keys, coldKey(j))
	}
	return keys
}

func setKey(i int) string         { return fmt.Sprintf("%s%d", history.SetPrefix, i) }
func regKey(client, j int) string { return fmt.Sprintf("%s%d/%d", history.RegisterPrefix, client, j) }
func sharedKey(j int) string      { return fmt.Sprintf("%sshared/%d", history.RegisterPrefix, j) }
func coldKey(j int) string        { return fmt.Sprintf("%scold/%d", history.RegisterPrefix, j) }

// Recorder keeps the history in memory and streams it as JSON lines.
type Recorder struct {
	start time.Time
	mu    struct {
		sync.Mutex
		ops []history.Op
		buf *bufio.Writer
		enc *history.Encoder
		err error
	}
}

// NewRecorder records into w (nil: memory only), timing ops from start.
func NewRecorder(w io.Writer, start time.Time) *Recorder {
	r := &Recorder{start: start}
	if w != nil {
		r.mu.buf = bufio.NewWriterSize(w, 256<<10)
		r.mu.enc = history.NewEncoder(r.mu.buf)
	}
	return r
}

// Record stamps op with its index and time, keeps it and writes it.
func (r *Recorder) Record(op history.Op) history.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Index = int64(len(r.mu.ops))
	op.Time = time.Since(r.start)
	r.mu.ops = append(r.mu.ops, op)
	if r.mu.enc != nil && r.mu.err == nil {
		r.mu.err = r.mu.enc.Encode(op)
		if r.mu.err == nil && op.Index%512 == 511 {
			r.mu.err = r.mu.buf.Flush()
		}
	}
	return op
}

// Nemesis records a fault event.
func (r *Recorder) Nemesis(node, detail string) {
	r.Record(history.Op{Type: history.Nemesis, Client: -1, Node: node, Detail: detail})
}

// Ops returns a copy of the history so far.
func (r *Recorder) Ops() []history.Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.mu.ops)
}

// Flush writes out what is buffered and returns the first write error.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.buf != nil && r.mu.err == nil {
		r.mu.err = r.mu.buf.Flush()
	}
	return r.mu.err
}

// Run runs the clients until stop is done (or each has done cfg.MaxOps
// operations) and returns once every client has finished its operation in
// flight. targets is asked for the live nodes before every operation.
func Run(stop context.Context, cfg Config, targets func() []harness.Target, rec *Recorder) {
	var wg sync.WaitGroup
	for id := range cfg.Clients {
		wg.Go(func() {
			c := &worker{id: id, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(id))), rec: rec, targets: targets}
			c.regs = make([]register, cfg.Registers)
			for j := range c.regs {
				c.regs[j].key = regKey(id, j)
			}
			c.run(stop)
		})
	}
	wg.Wait()
}

type worker struct {
	id      int
	cfg     Config
	rng     *rand.Rand
	rec     *Recorder
	targets func() []harness.Target
	regs    []register
	adds    int
	// shared counts the client's writes to shared registers, for their
	// values' IDs.
	shared int
}

// register is a client's state of one of its register keys.
type register struct {
	key string
	// ctx is the context the next write sends; stale means the last write
	// ended without an acknowledgement, so the key is read first.
	ctx   string
	stale bool
	seq   int
}

func (w *worker) run(stop context.Context) {
	w.writeCold(stop)
	for i := 0; i < w.cfg.MaxOps && stop.Err() == nil; i++ {
		ts := w.targets()
		if len(ts) == 0 {
			sleep(stop, 100*time.Millisecond)
			continue
		}
		t := ts[w.rng.IntN(len(ts))]
		switch p := w.rng.Float64(); {
		case p < 0.45:
			w.add(t)
		case p < 0.8:
			// Without shared registers no extra choice is drawn, so a
			// seed replays as before they existed.
			if w.cfg.SharedRegisters > 0 && w.rng.IntN(2) == 0 {
				w.writeShared(t)
			} else {
				w.write(t)
			}
		default:
			keys := w.cfg.Keys()
			w.read(t, keys[w.rng.IntN(len(keys))])
		}
		if w.cfg.Think > 0 {
			sleep(stop, time.Duration(w.rng.Int64N(int64(w.cfg.Think))))
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// readOptions are every read's: the configured R, or the nodes' default.
func (w *worker) readOptions() *client.ReadOptions {
	return &client.ReadOptions{R: w.cfg.ReadR}
}

// op is a request's own deadline, independent of the run's.
func (w *worker) op() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), w.cfg.OpTimeout)
}

func (w *worker) add(t harness.Target) {
	key := setKey(w.rng.IntN(w.cfg.SetKeys))
	elem := fmt.Sprintf("c%d-%d", w.id, w.adds)
	w.adds++
	base := history.Op{Client: w.id, Node: t.ID, F: history.Add, Key: key, Value: elem}
	w.rec.Record(with(base, history.Invoke))

	ctx, cancel := w.op()
	obj, err := t.Client.Get(ctx, key, w.readOptions())
	cancel()
	if err != nil {
		// Nothing was written.
		done := with(base, history.Fail)
		done.Error = "read: " + err.Error()
		w.rec.Record(done)
		return
	}
	ids, sibs := decode(key, obj)
	base.CtxIn, base.Read = obj.Context, ids
	var elems []string
	switch {
	case len(sibs) == 0:
	case w.cfg.Resolver == LWW:
		elems = checker.Latest(sibs).Elems
	default:
		for _, s := range sibs {
			elems = append(elems, s.Elems...)
		}
	}
	for _, s := range sibs {
		if s.BadValue {
			done := with(base, history.Fail)
			done.Error = "read a value of no known format; not writing over it"
			w.rec.Record(done)
			return
		}
	}
	value := history.EncodeSet(elem, append(elems, elem))
	ctx, cancel = w.op()
	res, err := t.Client.Put(ctx, key, value, &client.WriteOptions{Context: obj.Context, ContentType: "application/json"})
	cancel()
	w.rec.Record(outcome(base, res, err))
}

func (w *worker) write(t harness.Target) {
	j := w.rng.IntN(len(w.regs))
	r := &w.regs[j]
	if r.stale {
		// The last write's outcome is unknown: read what is there, so this
		// write supersedes what the read saw.
		obj, ok := w.read(t, r.key)
		if !ok {
			return
		}
		r.ctx, r.stale = obj.Context, false
	}
	r.seq++
	value := fmt.Sprintf("c%d-r%d-%d", w.id, j, r.seq)
	base := history.Op{Client: w.id, Node: t.ID, F: history.Write, Key: r.key, Value: value, CtxIn: r.ctx}
	w.rec.Record(with(base, history.Invoke))
	ctx, cancel := w.op()
	res, err := t.Client.Put(ctx, r.key, []byte(value), &client.WriteOptions{Context: r.ctx, ContentType: "text/plain"})
	cancel()
	done := outcome(base, res, err)
	done.CtxIn = ""
	w.rec.Record(done)
	if err == nil {
		r.ctx = res.Context
	} else {
		r.stale = true
	}
}

// writeCold writes the client's share of the cold keys (every Clients-th,
// from its own number), once each, with no context: nothing was there.
// It draws nothing from the client's rng, so the loop after it replays as
// it would without cold keys.
func (w *worker) writeCold(stop context.Context) {
	for j := w.id; j < w.cfg.ColdKeys && stop.Err() == nil; j += w.cfg.Clients {
		ts := w.targets()
		if len(ts) == 0 {
			return
		}
		t := ts[j%len(ts)]
		key, value := coldKey(j), fmt.Sprintf("c%d-cold%d", w.id, j)
		base := history.Op{Client: w.id, Node: t.ID, F: history.Write, Key: key, Value: value}
		w.rec.Record(with(base, history.Invoke))
		ctx, cancel := w.op()
		res, err := t.Client.Put(ctx, key, []byte(value), &client.WriteOptions{ContentType: "text/plain"})
		cancel()
		w.rec.Record(outcome(base, res, err))
	}
}

// writeShared reads a shared register and writes a new value with the
// read's context: it supersedes what the read handed the application.
func (w *worker) writeShared(t harness.Target) {
	j := w.rng.IntN(w.cfg.SharedRegisters)
	key := sharedKey(j)
	obj, ok := w.read(t, key)
	if !ok {
		return
	}
	w.shared++
	value := fmt.Sprintf("c%d-s%d-%d", w.id, j, w.shared)
	base := history.Op{Client: w.id, Node: t.ID, F: history.Write, Key: key, Value: value, CtxIn: obj.Context}
	w.rec.Record(with(base, history.Invoke))
	ctx, cancel := w.op()
	res, err := t.Client.Put(ctx, key, []byte(value), &client.WriteOptions{Context: obj.Context, ContentType: "text/plain"})
	cancel()
	done := outcome(base, res, err)
	done.CtxIn = ""
	w.rec.Record(done)
}

// read reads key and records what the application saw: every sibling, or,
// for a register with the LWW resolver, only the latest one (the client
// library resolved the others away; a write with the read's context then
// overwrites them unseen).
func (w *worker) read(t harness.Target, key string) (*client.Object, bool) {
	base := history.Op{Client: w.id, Node: t.ID, F: history.Read, Key: key}
	w.rec.Record(with(base, history.Invoke))
	ctx, cancel := w.op()
	obj, err := t.Client.Get(ctx, key, w.readOptions())
	cancel()
	if err != nil {
		done := with(base, history.Fail)
		done.Error = err.Error()
		w.rec.Record(done)
		return nil, false
	}
	done := with(base, history.Ok)
	ids, sibs := decode(key, obj)
	if w.cfg.Resolver == LWW && history.KindOf(key) == history.KindRegister && len(sibs) > 1 {
		ids = []string{checker.Latest(sibs).ID}
	}
	done.Read = ids
	done.Ctx, done.Siblings = obj.Context, len(ids)
	w.rec.Record(done)
	return obj, true
}

func with(op history.Op, t history.Type) history.Op {
	op.Type = t
	return op
}

// outcome turns a write's answer into its completion.
func outcome(base history.Op, res *client.WriteResult, err error) history.Op {
	switch {
	case err == nil:
		done := with(base, history.Ok)
		done.Ctx, done.Siblings = res.Context, res.Siblings
		return done
	case client.IsIndeterminate(err):
		done := with(base, history.Indeterminate)
		done.Error = err.Error()
		return done
	default:
		done := with(base, history.Fail)
		done.Error = err.Error()
		return done
	}
}

// decode returns the IDs of a read's siblings, sorted, and the siblings.
func decode(key string, obj *client.Object) ([]string, []history.FinalSibling) {
	if !obj.Found {
		return nil, nil
	}
	sibs := make([]history.FinalSibling, len(obj.Siblings))
	ids := make([]string, len(obj.Siblings))
	for i, s := range obj.Siblings {
		sibs[i] = harness.DecodeSibling(key, s)
		ids[i] = sibs[i].ID
	}
	slices.Sort(ids)
	return ids, sibs
}
