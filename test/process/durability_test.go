package process_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dhtkv/dht/client"
	"github.com/dhtkv/dht/test/process"
)

const (
	// loadWriters is how many clients write concurrently.
	loadWriters = 4
	// killAfterAcks is how many acknowledged writes the kill waits for.
	killAfterAcks = 2000
	// stopAfterAcks is how many acknowledged writes SIGTERM waits for; the
	// drain needs load, not volume.
	stopAfterAcks = 500
	// loadDeadline bounds the wait for the acknowledged writes on a slow
	// disk: the process is interrupted then, however many there are.
	loadDeadline = 20 * time.Second
	// requestTimeout bounds one client request.
	requestTimeout = 10 * time.Second
	// writersExitTimeout bounds the wait for the writers once the process
	// is gone: each is at most one request timeout away from noticing.
	writersExitTimeout = requestTimeout + 5*time.Second
	// drainTimeout is the http.shutdown_timeout given to dhtd.
	drainTimeout = 5 * time.Second
)

// write is one PUT of the load: a key and the value sent with it.
type write struct {
	key   string
	value []byte
}

// loadValue is the value of writer w's i-th key: distinct for every key, and
// every tenth one larger than badger's small-profile value threshold, so
// that both the write-ahead log and the value log are covered.
func loadValue(w, i int) []byte {
	n := 100
	if i%10 == 0 {
		n = 8 << 10
	}
	pattern := fmt.Sprintf("value-w%d-%d-", w, i)
	v := make([]byte, n)
	for j := range v {
		v[j] = pattern[j%len(pattern)]
	}
	return v
}

// loadResult is what the writers saw.
type loadResult struct {
	// acked holds every write answered 2xx: the store promised to keep it.
	acked []write
	// indeterminate holds the writes in flight when the process went away:
	// they may or may not have been applied.
	indeterminate []write
	// refused counts writes that failed to connect after the interruption,
	// so were never sent.
	refused int
	// elapsed is how long the load ran before the interruption.
	elapsed time.Duration
}

// runLoad runs loadWriters concurrent writers of distinct keys against c
// until target writes are acknowledged or loadDeadline passes, then
// calls interrupt while the writers are still writing, and returns once all
// writers have stopped. A write that fails before the interruption fails
// the test.
func runLoad(t *testing.T, c *client.Client, target int64, interrupt func()) loadResult {
	t.Helper()
	var (
		acks        atomic.Int64
		interrupted atomic.Bool
		reached     = make(chan struct{})
		reachedOnce sync.Once
		results     = make([]loadResult, loadWriters)
		unexpected  = make([]error, loadWriters)
		wg          sync.WaitGroup
	)
	for w := range loadWriters {
		wg.Go(func() {
			res := &results[w]
			for i := 0; ; i++ {
				wr := write{key: fmt.Sprintf("w%d-%06d", w, i), value: loadValue(w, i)}
				ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
				_, err := c.Put(ctx, wr.key, wr.value, nil)
				cancel()
				switch {
				case err == nil:
					res.acked = append(res.acked, wr)
					if acks.Add(1) >= target {
						reachedOnce.Do(func() { close(reached) })
					}
					continue
				case !interrupted.Load():
					unexpected[w] = fmt.Errorf("put %s before the interruption: %w", wr.key, err)
				case client.IsIndeterminate(err):
					res.indeterminate = append(res.indeterminate, wr)
				default:
					res.refused++
				}
				return
			}
		})
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	start := time.Now()
	timer := time.NewTimer(loadDeadline)
	select {
	case <-reached:
	case <-done: // every writer failed; the errors are reported below
	case <-timer.C:
		t.Logf("only %d writes acknowledged in %s; interrupting anyway", acks.Load(), loadDeadline)
	}
	timer.Stop()
	elapsed := time.Since(start)
	interrupted.Store(true)
	interrupt()

	select {
	case <-done:
	case <-time.After(writersExitTimeout):
		t.Fatalf("writers still running %s after the interruption", writersExitTimeout)
	}

	var out loadResult
	out.elapsed = elapsed
	for w, r := range results {
		out.acked = append(out.acked, r.acked...)
		out.indeterminate = append(out.indeterminate, r.indeterminate...)
		out.refused += r.refused
		if unexpected[w] != nil {
			t.Errorf("writer %d: %v", w, unexpected[w])
		}
	}
	if len(out.acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	return out
}

// readBack reads every write's key from c with a few concurrent readers and
// returns the writes whose key is missing (lost) and those whose key holds
// anything but exactly the written value (wrong), with a reason each.
func readBack(t *testing.T, c *client.Client, writes []write) (lost, wrong []string) {
	t.Helper()
	const readers = 4
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for r := range readers {
		wg.Go(func() {
			for i := r; i < len(writes); i += readers {
				wr := writes[i]
				ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
				obj, err := c.Get(ctx, wr.key, nil)
				cancel()
				var lostMsg, wrongMsg string
				switch {
				case err != nil:
					wrongMsg = fmt.Sprintf("%s: %v", wr.key, err)
				case !obj.Found:
					lostMsg = wr.key
				case len(obj.Siblings) != 1:
					wrongMsg = fmt.Sprintf("%s: %d siblings, want 1", wr.key, len(obj.Siblings))
				case !bytes.Equal(obj.Siblings[0].Value, wr.value):
					wrongMsg = fmt.Sprintf("%s: value %.40q…, want %.40q…", wr.key, obj.Siblings[0].Value, wr.value)
				}
				if lostMsg == "" && wrongMsg == "" {
					continue
				}
				mu.Lock()
				if lostMsg != "" {
					lost = append(lost, lostMsg)
				} else {
					wrong = append(wrong, wrongMsg)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lost, wrong
}

// assertIntact fails t unless every acknowledged write reads back exactly.
func assertIntact(t *testing.T, c *client.Client, acked []write) (lost int) {
	t.Helper()
	lostKeys, wrong := readBack(t, c, acked)
	if len(lostKeys) > 0 {
		t.Errorf("%d of %d acknowledged writes lost, e.g. %s", len(lostKeys), len(acked), strings.Join(first(lostKeys, 10), ", "))
	}
	if len(wrong) > 0 {
		t.Errorf("%d of %d acknowledged writes read back wrong, e.g.:\n%s", len(wrong), len(acked), strings.Join(first(wrong, 10), "\n"))
	}
	return len(lostKeys)
}

func first(s []string, n int) []string { return s[:min(len(s), n)] }

// assertOverwriteWithContext checks that key, written before a restart, can
// be replaced after it by a write carrying its context, leaving exactly the
// new value. A replica that reused dots after the restart would have the new
// write look already seen (the old value stays, or nothing is left), and one
// that mishandled its identity would leave a spurious sibling.
func assertOverwriteWithContext(t *testing.T, c *client.Client, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	obj, err := c.Get(ctx, key, nil)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if obj.Context == "" {
		t.Fatalf("get %s: no %s", key, client.HeaderContext)
	}
	newValue := []byte("rewritten after restart: " + key)
	res, err := c.Put(ctx, key, newValue, &client.WriteOptions{Context: obj.Context})
	if err != nil {
		t.Fatalf("put %s with its context: %v", key, err)
	}
	if res.Siblings != 1 {
		t.Errorf("put %s with its context: %s = %d, want 1", key, client.HeaderSiblings, res.Siblings)
	}
	obj, err = c.Get(ctx, key, nil)
	switch {
	case err != nil:
		t.Fatalf("get %s after the overwrite: %v", key, err)
	case !obj.Found:
		t.Errorf("get %s after the overwrite: not found", key)
	case len(obj.Siblings) != 1:
		t.Errorf("get %s after the overwrite: %d siblings, want 1 (a spurious sibling)", key, len(obj.Siblings))
	case !bytes.Equal(obj.Siblings[0].Value, newValue):
		t.Errorf("get %s after the overwrite: %q, want %q", key, obj.Siblings[0].Value, newValue)
	}
}

var (
	replicaActorRE = regexp.MustCompile(`replica_actor=([0-9a-f]+)`)
	newEpochRE     = regexp.MustCompile(`new_epoch=(true|false)`)
)

// assertSameReplica compares the replica identity logged at start-up by two
// runs of one node: the later must reuse the earlier's actor, not take a new
// epoch. A log without the line (replica_actor=, new_epoch=) fails t: the
// comparison is the point, and a changed log line must change this too.
func assertSameReplica(t testing.TB, before, after string) {
	t.Helper()
	a, b := replicaActorRE.FindStringSubmatch(before), replicaActorRE.FindStringSubmatch(after)
	e := newEpochRE.FindStringSubmatch(after)
	if a == nil || b == nil || e == nil {
		t.Errorf("replica identity not found in the start-up log (replica_actor=%v before, replica_actor=%v and new_epoch=%v after): cannot compare the replica across the restart",
			a != nil, b != nil, e != nil)
		return
	}
	if a[1] != b[1] || e[1] != "false" {
		t.Errorf("replica identity changed across the restart: replica_actor %s, then %s with new_epoch=%s", a[1], b[1], e[1])
	}
}

// errorsTB records what a check reports instead of failing the test.
type errorsTB struct {
	testing.TB
	errs []string
}

func (r *errorsTB) Helper() {}
func (r *errorsTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestAssertSameReplica_FailsWhatItCannotCompare: the check fails on a
// changed identity and on a start-up log it cannot read, and passes only
// on the same actor without a new epoch.
func TestAssertSameReplica_FailsWhatItCannotCompare(t *testing.T) {
	const (
		first   = `level=INFO msg="node started" sync_writes=true replica_actor=1a2b3c new_epoch=true`
		same    = `level=INFO msg="node started" sync_writes=true replica_actor=1a2b3c new_epoch=false`
		other   = `level=INFO msg="node started" sync_writes=true replica_actor=4d5e6f new_epoch=true`
		changed = `level=INFO msg="node started" sync_writes=true replica=1a2b3c epoch=old`
	)
	for _, tc := range []struct {
		name          string
		before, after string
		fails         bool
	}{
		{"same replica", first, same, false},
		{"new actor", first, other, true},
		{"new epoch", first, strings.Replace(same, "new_epoch=false", "new_epoch=true", 1), true},
		{"line changed after", first, changed, true},
		{"line changed before", changed, same, true},
		{"no log", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &errorsTB{TB: t}
			assertSameReplica(rec, tc.before, tc.after)
			if got := len(rec.errs) > 0; got != tc.fails {
				t.Fatalf("assertSameReplica(%q, %q) failed=%v, want %v (errors %q)", tc.before, tc.after, got, tc.fails, rec.errs)
			}
		})
	}
}

// TestDhtd_AcknowledgedWritesSurviveKill9 checks the durability promise of
// the README: a write acknowledged with 2xx survives SIGKILL of dhtd, with
// storage.sync_writes off (the default) as well as on, on both on-disk
// engines. With sync_writes on, the vnodes answer writes once the engine's
// asynchronous put (badger's group committer, pebble's ApplyNoSyncWait)
// reports them durable.
func TestDhtd_AcknowledgedWritesSurviveKill9(t *testing.T) {
	for _, engine := range []string{"badger", "pebble"} {
		for _, syncWrites := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sync_writes=%t", engine, syncWrites), func(t *testing.T) {
				testKill9(t, engine, syncWrites)
			})
		}
	}
}

func testKill9(t *testing.T, engine string, syncWrites bool) {
	n := process.Start(t, process.Options{
		ID:   "k9",
		Args: []string{"--storage.engine", engine, fmt.Sprintf("--storage.sync_writes=%t", syncWrites)},
	})
	firstLog := n.Log()

	load := runLoad(t, n.Client(), killAfterAcks, n.Kill)
	if code, _ := n.Wait(0); code != -1 {
		t.Errorf("exit code after SIGKILL = %d, want -1 (killed by a signal)", code)
	}

	start := time.Now()
	n.Restart()
	toReady := time.Since(start)
	c := n.Client()

	lost := assertIntact(t, c, load.acked)
	// A write in flight at the kill may be there or not, but nothing else:
	// never a partial or foreign value.
	missing, wrong := readBack(t, c, load.indeterminate)
	if len(wrong) > 0 {
		t.Errorf("%d writes in flight at the kill read back wrong, e.g.:\n%s", len(wrong), strings.Join(first(wrong, 10), "\n"))
	}
	t.Logf("acknowledged %d in %s, lost %d; in flight at the kill (indeterminate) %d, of which %d landed; refused after the kill %d; ready %s after restart",
		len(load.acked), load.elapsed.Round(time.Millisecond), lost,
		len(load.indeterminate), len(load.indeterminate)-len(missing)-len(wrong), load.refused, toReady.Round(time.Millisecond))

	assertSameReplica(t, firstLog, n.Log())
	assertOverwriteWithContext(t, c, load.acked[0].key)
}

// TestDhtd_GracefulStop checks that SIGTERM under load drains and exits 0
// within http.shutdown_timeout, and that every acknowledged write is there
// after a restart.
func TestDhtd_GracefulStop(t *testing.T) {
	n := process.Start(t, process.Options{
		ID:   "gs",
		Args: []string{"--http.shutdown_timeout", drainTimeout.String()},
	})
	firstLog := n.Log()

	var (
		code     int
		stopErr  error
		stopTook time.Duration
	)
	// The writers' load gives the drain something to do; a margin over
	// the drain timeout covers stopping the actors and closing badger.
	load := runLoad(t, n.Client(), stopAfterAcks, func() {
		start := time.Now()
		code, stopErr = n.Stop(drainTimeout + 5*time.Second)
		stopTook = time.Since(start)
	})
	if stopErr != nil {
		t.Fatal(stopErr)
	}
	if code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}

	n.Restart()
	c := n.Client()
	lost := assertIntact(t, c, load.acked)
	// Writes that failed during the drain are those sent on a keep-alive
	// connection as the server closed it idle (net/http's Shutdown race):
	// the server never read them. Either way nothing partial may be left.
	missing, wrong := readBack(t, c, load.indeterminate)
	if len(wrong) > 0 {
		t.Errorf("%d writes in flight at SIGTERM read back wrong, e.g.:\n%s", len(wrong), strings.Join(first(wrong, 10), "\n"))
	}
	t.Logf("acknowledged %d, lost %d; in flight at SIGTERM (indeterminate) %d, of which %d landed; refused %d; exited %s after SIGTERM",
		len(load.acked), lost, len(load.indeterminate), len(load.indeterminate)-len(missing)-len(wrong), load.refused, stopTook.Round(time.Millisecond))
	assertSameReplica(t, firstLog, n.Log())
	assertOverwriteWithContext(t, c, load.acked[len(load.acked)-1].key)

	// A stop without load, on the restarted data, exits 0 as well.
	if code, err := n.Stop(drainTimeout + 5*time.Second); err != nil || code != 0 {
		t.Errorf("idle stop after restart: exit code %d, %v; want 0", code, err)
	}
}

// TestDhtd_BadConfig checks that dhtd refuses a bad configuration at
// start-up, from each layer, with a message naming the key at fault.
func TestDhtd_BadConfig(t *testing.T) {
	// exitTimeout bounds the wait for a refusal: it is a check of the
	// configuration before storage is opened, so it takes milliseconds.
	const exitTimeout = 15 * time.Second
	for _, tc := range []struct {
		name    string
		file    string // content of a --config file, if any
		args    []string
		env     []string
		wantKey string
	}{{
		name:    "unknown key in file",
		file:    "storage:\n  sync_write: true\n",
		wantKey: "storage.sync_write",
	}, {
		name:    "r above n",
		args:    []string{"--replication.n", "3", "--replication.r", "9"},
		wantKey: "replication.r",
	}, {
		name:    "unknown engine",
		args:    []string{"--storage.engine", "rocksdb"},
		wantKey: "storage.engine",
	}, {
		name:    "flag of the wrong type",
		args:    []string{"--storage.sync_writes=maybe"},
		wantKey: "storage.sync_writes",
	}, {
		name:    "bad environment variable",
		env:     []string{"DHT_LIMITS_MAX_SIBLINGS=0"},
		wantKey: "limits.max_siblings",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if tc.file != "" {
				path := filepath.Join(t.TempDir(), "config.yaml")
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append([]string{"--config", path}, args...)
			}
			n := process.Launch(t, process.Options{ID: "bad", Args: args, Env: tc.env})
			code, err := n.Wait(exitTimeout)
			if err != nil {
				t.Fatal(err)
			}
			log := n.Log()
			if code == 0 {
				t.Errorf("exit code 0, want non-zero; output:\n%s", log)
			}
			if !strings.Contains(log, tc.wantKey) {
				t.Errorf("output does not name %s:\n%s", tc.wantKey, log)
			}
			t.Logf("exit code %d; output:\n%s", code, strings.TrimSpace(log))
			if strings.Contains(log, "storage open") {
				t.Errorf("storage was opened despite the bad configuration:\n%s", log)
			}
		})
	}
}

// TestDhtd_UnusableDataDir starts dhtd on a data directory that is a plain
// file: it must exit with an error naming the directory, never panic (a
// nil engine once reached the cleanup path and crashed it).
func TestDhtd_UnusableDataDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := process.Launch(t, process.Options{ID: "bad", DataDir: path})
	code, err := n.Wait(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	log := n.Log()
	t.Logf("exit code %d; output:\n%s", code, strings.TrimSpace(log))
	if code != 1 || strings.Contains(log, "panic") || !strings.Contains(log, path) {
		t.Fatalf("want exit code 1 and an error naming %s, no panic; got exit %d:\n%s", path, code, log)
	}
}
