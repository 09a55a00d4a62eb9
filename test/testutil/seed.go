package testutil

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// SeedEnv names the environment variable that sets the seed of every
// randomised test when -seed is not given, for suites run by scripts.
const SeedEnv = "DHT_TEST_SEED"

var seedFlag = flag.Uint64("seed", 0, "seed of the randomised tests (0: from $"+SeedEnv+", else the clock; a failure logs the seed)")

// Seed returns the seed of a randomised test: -seed when given, else
// $DHT_TEST_SEED, else the clock. When the test fails it logs how to replay
// the run with the same seed.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		if v, err := strconv.ParseUint(os.Getenv(SeedEnv), 10, 64); err == nil {
			seed = v
		}
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("random seed %d: %s", seed, replayCommand(t.Name(), seed))
		}
	})
	return seed
}

// replayCommand is the go test command, run from the module's root, that
// replays test name with seed. The package comes first: go test takes
// everything after an unknown flag such as -seed as the test binary's.
func replayCommand(name string, seed uint64) string {
	pkg := "."
	if dir, err := os.Getwd(); err == nil {
		if rel, ok := fromModuleRoot(dir); ok {
			pkg = "./" + filepath.ToSlash(rel)
		}
	}
	return fmt.Sprintf("replay with go test %s -run '^%s$' -seed=%d", pkg, regexp.QuoteMeta(name), seed)
}

// fromModuleRoot returns dir relative to the nearest directory above it
// that holds a go.mod: go test runs a test in its package's directory.
func fromModuleRoot(dir string) (string, bool) {
	for root := dir; ; {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			rel, err := filepath.Rel(root, dir)
			return rel, err == nil
		}
		up := filepath.Dir(root)
		if up == root {
			return "", false
		}
		root = up
	}
}

// Rand returns a random source seeded by Seed.
func Rand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := Seed(t)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
