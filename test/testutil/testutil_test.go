package testutil

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSeed_FlagReplaysTheRun(t *testing.T) {
	old := *seedFlag
	t.Cleanup(func() { *seedFlag = old })
	*seedFlag = 42
	if got := Seed(t); got != 42 {
		t.Fatalf("Seed with -seed=42 = %d", got)
	}
	a, b := Rand(t).Uint64(), Rand(t).Uint64()
	if a != b {
		t.Fatalf("two sources from the same seed differ: %d, %d", a, b)
	}
}

func TestSeed_EnvWhenNoFlag(t *testing.T) {
	old := *seedFlag
	t.Cleanup(func() { *seedFlag = old })
	*seedFlag = 0
	t.Setenv(SeedEnv, "7")
	if got := Seed(t); got != 7 {
		t.Fatalf("Seed with $%s=7 = %d", SeedEnv, got)
	}
}

func TestReplayCommand_NamesThePackageAndTheTest(t *testing.T) {
	// Tests run in their package's directory: test/testutil.
	got := replayCommand("TestX/sub_(a)", 42)
	want := "replay with go test ./test/testutil -run '^TestX/sub_\\(a\\)$' -seed=42"
	if got != want {
		t.Fatalf("replayCommand = %s\nwant            %s", got, want)
	}
}

func TestWait_RetriesUntilNil(t *testing.T) {
	calls := 0
	err := Wait(time.Minute, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Wait = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestWait_ReturnsTheLastError(t *testing.T) {
	want := errors.New("never")
	if err := Wait(5*time.Millisecond, time.Millisecond, func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("Wait = %v, want %v", err, want)
	}
}

// TestSyncBuffer: concurrent writes all land, whole, and String sees them.
func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	const writers, each = 8, 100
	done := make(chan struct{})
	for range writers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range each {
				_, _ = b.Write([]byte("ab"))
				_ = b.String()
			}
		}()
	}
	for range writers {
		<-done
	}
	if got, want := len(b.String()), writers*each*2; got != want {
		t.Fatalf("len(String()) = %d, want %d", got, want)
	}
	if strings.Count(b.String(), "ab") != writers*each {
		t.Fatalf("writes interleaved inside each other: %q...", b.String()[:20])
	}
}
