package testutil

import (
	"flag"
	"math/rand/v2"
	"os"
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
			t.Logf("random seed %d: replay with go test -run '^%s$' -seed=%d", seed, t.Name(), seed)
		}
	})
	return seed
}

// Rand returns a random source seeded by Seed.
func Rand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := Seed(t)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
