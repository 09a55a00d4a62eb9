package persistence_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dhtkv/dht/persistence"
)

// The child writer is configured through the environment, because it is
// this same test binary run again.
const (
	childEngineEnv = "DHT_PERSISTENCE_CHILD_ENGINE" // a testEngines name
	childDirEnv    = "DHT_PERSISTENCE_CHILD_DIR"
	childSyncEnv   = "DHT_PERSISTENCE_CHILD_SYNC"
)

const (
	// killAfterAcks is how many acknowledged writes the parent waits for
	// before killing the child.
	killAfterAcks = 500
	// killDeadline bounds the wait on a slow disk: the parent kills the
	// child then, however many writes it has acknowledged.
	killDeadline = 30 * time.Second
	// childMaxKeys is far more than the child writes before it is killed.
	childMaxKeys = 10_000_000
)

func durabilityKey(i int) []byte { return fmt.Appendf(nil, "k%d", i) }

// durabilityValue is the value of key i. Every tenth one is larger than the
// small profile's value threshold, so that both badger's write-ahead log
// (small values) and its value log (large ones) are covered; for pebble
// they are records spanning WAL blocks (32 KiB) as well as within one.
func durabilityValue(i int) []byte {
	n := 100
	if i%10 == 0 {
		n = 8 << 10
	}
	pattern := fmt.Sprintf("value-%d-", i)
	v := make([]byte, n)
	for j := range v {
		v[j] = pattern[j%len(pattern)]
	}
	return v
}

// TestHelperChildWriter is the process TestDurability_KillNine kills. It
// writes k0, k1, ... one at a time and prints "ack <i>" once Put(k<i>) has
// returned, which is the moment the write counts as acknowledged.
func TestHelperChildWriter(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("helper process for TestDurability_KillNine; runs only as its child")
	}
	te, ok := lookupTestEngine(os.Getenv(childEngineEnv))
	if !ok {
		t.Fatalf("%s=%q names no test engine", childEngineEnv, os.Getenv(childEngineEnv))
	}
	syncWrites, err := strconv.ParseBool(os.Getenv(childSyncEnv))
	if err != nil {
		t.Fatalf("%s: %v", childSyncEnv, err)
	}
	opts := te.opts(dir, syncWrites)
	opts.Logger = quietLogger()
	e, err := persistence.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range childMaxKeys {
		if err := e.Put(durabilityKey(i), durabilityValue(i)); err != nil {
			t.Fatalf("Put(k%d): %v", i, err)
		}
		// os.Stdout is unbuffered: the ack is out before the next Put.
		if _, err := fmt.Fprintf(os.Stdout, "ack %d\n", i); err != nil {
			t.Fatalf("ack %d: %v", i, err)
		}
	}
	// Never close cleanly: the parent is testing a kill, not a shutdown.
	time.Sleep(time.Hour)
}

// TestDurability_KillNine checks the durability promise: a write
// acknowledged before kill -9 of the process is there after a restart, with
// and without SyncWrites, on every persistent engine.
//
// It cannot tell SyncWrites on from off: the kernel's page cache outlives
// the killed process, so a write that reached it survives without any
// fsync. What it proves is that Put returns only once the write has left
// the process (badger's mmapped WAL, pebble's WAL write). That a SyncWrites
// write is synced before it is acknowledged is shown on dhtd's system calls
// by TestDhtd_SyncWritesFsyncBeforeAnswer in test/process (strace).
func TestDurability_KillNine(t *testing.T) {
	for _, te := range testEngines {
		if !te.persistent || te.variant {
			continue
		}
		for _, syncWrites := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sync_writes=%v", te.name, syncWrites), func(t *testing.T) {
				t.Parallel()
				testKillNine(t, te, syncWrites)
			})
		}
	}
}

// testKillNine kills a child writing to te and checks, in a reopened te,
// that every write it acknowledged is there.
func testKillNine(t *testing.T, te testEngine, syncWrites bool) {
	dir := t.TempDir()
	acked, stderr := runAndKillChild(t, te, dir, syncWrites)
	if acked == 0 {
		t.Fatalf("child acknowledged no writes before it was killed; its stderr:\n%s", stderr)
	}

	e := openEngine(t, te.opts(dir, false))
	defer e.Close()
	lost := 0
	for i := range acked {
		got, err := e.Get(durabilityKey(i))
		switch {
		case errors.Is(err, persistence.ErrNotFound):
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged k%d is missing after kill -9", i)
			}
		case err != nil:
			t.Fatalf("Get(k%d): %v", i, err)
		case !bytes.Equal(got, durabilityValue(i)):
			lost++
			t.Errorf("acknowledged k%d has the wrong value after kill -9 (%d bytes)", i, len(got))
		}
	}
	// Writes in flight when the child died may or may not be there;
	// both are fine, and the count is informative.
	unacked := 0
	for i := acked; ; i++ {
		if _, err := e.Get(durabilityKey(i)); err != nil {
			break
		}
		unacked++
	}
	t.Logf("%s, sync_writes=%v: acknowledged %d, lost %d, unacknowledged but present %d",
		te.name, syncWrites, acked, lost, unacked)
}

// runAndKillChild runs TestHelperChildWriter on te in dir, SIGKILLs it
// after killAfterAcks acknowledgements (or killDeadline), and returns how
// many writes it acknowledged in all, which is every k<i> with i < acked.
func runAndKillChild(t *testing.T, te testEngine, dir string, syncWrites bool) (acked int, stderr []byte) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperChildWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		childEngineEnv+"="+te.name,
		childDirEnv+"="+dir,
		childSyncEnv+"="+strconv.FormatBool(syncWrites))
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := sync.OnceFunc(func() {
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Errorf("kill child: %v", err)
		}
	})
	deadline := time.AfterFunc(killDeadline, kill)
	defer deadline.Stop()

	// Keep reading after the kill: acks already written to the pipe were
	// acknowledged before the child died, so they count.
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var i int
		if _, err := fmt.Sscanf(sc.Text(), "ack %d", &i); err != nil {
			continue // the testing framework's own output
		}
		if i != acked {
			t.Fatalf("child acknowledged k%d, expected k%d next", i, acked)
		}
		acked++
		if acked == killAfterAcks {
			kill()
		}
	}
	kill() // the child may have stopped early; make sure it is gone
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child: %v, want killed by SIGKILL; stderr:\n%s", err, errBuf.Bytes())
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child exited on its own (%v) instead of being killed; stderr:\n%s", err, errBuf.Bytes())
	}
	return acked, errBuf.Bytes()
}
