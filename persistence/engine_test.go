package persistence_test

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dhtkv/dht/persistence"
	"github.com/dhtkv/dht/persistence/enginetest"
)

// quietLogger keeps badger's routine output out of test logs while still
// showing its warnings and errors.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func openEngine(t testing.TB, opts persistence.Options) persistence.Engine {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	e, err := persistence.Open(opts)
	if err != nil {
		t.Fatalf("Open(%+v): %v", opts, err)
	}
	return e
}

func TestMemory_Conformance(t *testing.T) {
	enginetest.Run(t, enginetest.Factory{
		Open: func(t testing.TB, dir string, syncWrites bool) persistence.Engine {
			return openEngine(t, persistence.Options{Engine: persistence.EngineMemory, SyncWrites: syncWrites})
		},
	})
}

func TestBadger_Conformance(t *testing.T) {
	enginetest.Run(t, enginetest.Factory{
		Open: func(t testing.TB, dir string, syncWrites bool) persistence.Engine {
			return openEngine(t, persistence.Options{Dir: dir, SyncWrites: syncWrites})
		},
		Persistent: true,
	})
}

// The default profile and a busy value-log GC must not change behaviour.
func TestBadger_ConformanceDefaultProfileWithGC(t *testing.T) {
	if testing.Short() {
		t.Skip("the small profile covers the engine in -short runs")
	}
	enginetest.Run(t, enginetest.Factory{
		Open: func(t testing.TB, dir string, syncWrites bool) persistence.Engine {
			return openEngine(t, persistence.Options{
				Engine:             persistence.EngineBadger,
				Dir:                dir,
				SyncWrites:         syncWrites,
				Profile:            persistence.ProfileDefault,
				ValueLogGCInterval: time.Millisecond,
			})
		},
		Persistent: true,
	})
}

func TestOptions_Validate(t *testing.T) {
	tests := []struct {
		name    string
		opts    persistence.Options
		wantErr string // substring; empty means valid
	}{
		{"defaults", persistence.DefaultOptions("/d"), ""},
		{"badger by default", persistence.Options{Dir: "/d"}, ""},
		{"badger named", persistence.Options{Engine: "badger", Dir: "/d", Profile: "default"}, ""},
		{"memory needs no dir", persistence.Options{Engine: "memory"}, ""},
		{"small profile", persistence.Options{Dir: "/d", Profile: "small", ValueLogGCInterval: time.Minute}, ""},
		{"unknown engine", persistence.Options{Engine: "foo", Dir: "/d"}, `persistence: unknown engine "foo" (want badger or memory)`},
		{"badger without dir", persistence.Options{}, "Options.Dir"},
		{"unknown profile", persistence.Options{Dir: "/d", Profile: "huge"}, `persistence: unknown profile "huge" (want small or default)`},
		{"negative GC interval", persistence.Options{Dir: "/d", ValueLogGCInterval: -time.Second}, "Options.ValueLogGCInterval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
			if tc.wantErr == "" {
				return
			}
			// Open must refuse what Validate refuses, with the same error.
			e, openErr := persistence.Open(tc.opts)
			if openErr == nil {
				e.Close()
				t.Fatal("Open succeeded on invalid options")
			}
			if openErr.Error() != err.Error() {
				t.Errorf("Open error %q differs from Validate error %q", openErr, err)
			}
		})
	}
}

func TestOpen_BadgerBadDir(t *testing.T) {
	// A regular file where the directory should be.
	f := t.TempDir() + "/file"
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := persistence.Open(persistence.Options{Dir: f, Logger: quietLogger()})
	if err == nil || !strings.HasPrefix(err.Error(), "persistence: open badger") {
		t.Fatalf("Open(file as dir) = %v, want a persistence: open badger error", err)
	}
}

func TestBadger_SecondOpenOfDirFails(t *testing.T) {
	// Badger locks its directory; a second node process on the same volume
	// must fail loudly rather than corrupt it.
	dir := t.TempDir()
	e := openEngine(t, persistence.Options{Dir: dir})
	defer e.Close()
	if e2, err := persistence.Open(persistence.Options{Dir: dir, Logger: quietLogger()}); err == nil {
		e2.Close()
		t.Fatal("second Open of the same dir succeeded")
	}
}
