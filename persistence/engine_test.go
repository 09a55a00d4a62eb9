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

// quietLogger keeps the engines' routine output out of test logs while
// still showing their warnings and errors.
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

// testEngine is one engine, as configured for the tests every engine runs:
// the conformance suite, the kill -9 durability test, the open failures and
// the benchmarks.
type testEngine struct {
	name string
	// opts returns the options that open the engine in dir.
	opts func(dir string, syncWrites bool) persistence.Options
	// persistent engines keep their data across Close and kill -9; only
	// they run the reopen and durability tests.
	persistent bool
	// variant marks a second configuration of an engine listed before it
	// (another profile, say). Variants run the conformance suite but not in
	// -short runs, and the durability test and benchmarks skip them.
	variant bool
}

// testEngines lists every engine Open offers, in the configuration a node
// runs by default, followed by variants whose tuning must not change
// behaviour.
var testEngines = []testEngine{
	{name: persistence.EngineMemory, opts: func(_ string, syncWrites bool) persistence.Options {
		return persistence.Options{Engine: persistence.EngineMemory, SyncWrites: syncWrites}
	}},
	{name: persistence.EngineBadger, persistent: true, opts: func(dir string, syncWrites bool) persistence.Options {
		return persistence.Options{Engine: persistence.EngineBadger, Dir: dir, SyncWrites: syncWrites}
	}},
	{name: persistence.EnginePebble, persistent: true, opts: func(dir string, syncWrites bool) persistence.Options {
		return persistence.Options{Engine: persistence.EnginePebble, Dir: dir, SyncWrites: syncWrites}
	}},
	// Badger's own tuning, with value-log GC running all the time.
	{name: "badger-default-gc", persistent: true, variant: true, opts: func(dir string, syncWrites bool) persistence.Options {
		return persistence.Options{
			Engine:             persistence.EngineBadger,
			Dir:                dir,
			SyncWrites:         syncWrites,
			Profile:            persistence.ProfileDefault,
			ValueLogGCInterval: time.Millisecond,
		}
	}},
	// Pebble's own tuning: tiny memtables, so flushes and compactions run
	// under the suite's larger tests.
	{name: "pebble-default", persistent: true, variant: true, opts: func(dir string, syncWrites bool) persistence.Options {
		return persistence.Options{Engine: persistence.EnginePebble, Dir: dir, SyncWrites: syncWrites, Profile: persistence.ProfileDefault}
	}},
}

// lookupTestEngine returns the test engine named name.
func lookupTestEngine(name string) (testEngine, bool) {
	for _, te := range testEngines {
		if te.name == name {
			return te, true
		}
	}
	return testEngine{}, false
}

// onDisk reports whether te keeps files in a directory.
func (te testEngine) onDisk() bool { return te.opts("/d", false).Dir != "" }

func TestEngine_Conformance(t *testing.T) {
	for _, te := range testEngines {
		t.Run(te.name, func(t *testing.T) {
			if te.variant && testing.Short() {
				t.Skip("the default configuration covers the engine in -short runs")
			}
			enginetest.Run(t, enginetest.Factory{
				Open: func(t testing.TB, dir string, syncWrites bool) persistence.Engine {
					return openEngine(t, te.opts(dir, syncWrites))
				},
				Persistent: te.persistent,
			})
		})
	}
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
		{"pebble", persistence.Options{Engine: "pebble", Dir: "/d", Profile: "default", SyncWrites: true}, ""},
		{"pebble small, GC interval ignored", persistence.Options{Engine: "pebble", Dir: "/d", Profile: "small", ValueLogGCInterval: time.Minute}, ""},
		{"small profile", persistence.Options{Dir: "/d", Profile: "small", ValueLogGCInterval: time.Minute}, ""},
		{"unknown engine", persistence.Options{Engine: "foo", Dir: "/d"}, `persistence: unknown engine "foo" (want badger, memory or pebble)`},
		{"engine wrong case", persistence.Options{Engine: "Pebble", Dir: "/d"}, `persistence: unknown engine "Pebble"`},
		{"badger without dir", persistence.Options{}, "persistence: Options.Dir is required for the badger engine"},
		{"pebble without dir", persistence.Options{Engine: "pebble"}, "persistence: Options.Dir is required for the pebble engine"},
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

func TestOpen_BadDir(t *testing.T) {
	for _, te := range testEngines {
		if te.variant || !te.onDisk() {
			continue
		}
		t.Run(te.name, func(t *testing.T) {
			// A regular file where the directory should be.
			f := t.TempDir() + "/file"
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			opts := te.opts(f, false)
			opts.Logger = quietLogger()
			e, err := persistence.Open(opts)
			if err == nil {
				e.Close()
			}
			want := "persistence: open " + opts.Engine + " in " + f + ": "
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Open(file as dir) = %v, want an error starting %q", err, want)
			}
		})
	}
}

func TestOpen_SecondOpenOfDirFails(t *testing.T) {
	for _, te := range testEngines {
		if te.variant || !te.onDisk() {
			continue
		}
		t.Run(te.name, func(t *testing.T) {
			// The engine locks its directory; a second node process on the
			// same volume must fail loudly rather than corrupt it.
			dir := t.TempDir()
			e := openEngine(t, te.opts(dir, false))
			defer e.Close()
			opts := te.opts(dir, false)
			opts.Logger = quietLogger()
			if e2, err := persistence.Open(opts); err == nil {
				e2.Close()
				t.Fatal("second Open of the same dir succeeded")
			}
		})
	}
}

// An on-disk engine refuses a directory holding the other's store, and
// leaves that store as it was.
func TestOpen_OtherEnginesStoreRefused(t *testing.T) {
	for _, te := range testEngines {
		if te.variant || !te.onDisk() {
			continue
		}
		for _, other := range testEngines {
			if other.variant || !other.onDisk() || other.name == te.name {
				continue
			}
			t.Run(te.name+" in "+other.name, func(t *testing.T) {
				dir := t.TempDir()
				e := openEngine(t, other.opts(dir, false))
				if err := e.Put([]byte("k"), []byte("kept")); err != nil {
					t.Fatal(err)
				}
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				opts := te.opts(dir, false)
				opts.Logger = quietLogger()
				e2, err := persistence.Open(opts)
				if err == nil {
					e2.Close()
					t.Fatalf("%s opened a %s store", te.name, other.name)
				}
				want := "holds a " + other.name + " store"
				if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), dir) {
					t.Fatalf("Open = %v, want an error naming %s and containing %q", err, dir, want)
				}
				e = openEngine(t, other.opts(dir, false))
				defer e.Close()
				if got, err := e.Get([]byte("k")); err != nil || string(got) != "kept" {
					t.Fatalf("%s store after the refused open: Get = %q, %v", other.name, got, err)
				}
			})
		}
	}
}
