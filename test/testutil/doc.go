// Package testutil holds the helpers every test package shares: the seed of
// randomised tests, and waiting for a condition by retrying it until a
// deadline (never a fixed sleep).
//
// A randomised test takes its seed from Seed, which reads the -seed flag,
// then $DHT_TEST_SEED, then the clock, and on failure logs the command that
// replays the run:
//
//	rng := testutil.Rand(t)
//
// Clock is a wall clock a test advances by hand, for the nodes' injected
// clock: values written with a TTL expire without the test sleeping.
//
// RunWithRaceSuppressions runs a package's tests under the race detector
// with named races left out, for a race inside a library that cannot be
// ordered from outside it (test/cluster uses it for gRPC's global logger).
//
// It is imported only from _test.go files and test harnesses; production
// code never depends on it. Its functions are safe to call from parallel
// tests.
package testutil
