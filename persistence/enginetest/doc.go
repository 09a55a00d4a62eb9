// Package enginetest is the conformance suite for persistence.Engine. Every
// engine runs the same properties, so that callers can rely on the interface
// rather than on one implementation, and a new engine is correct when it
// passes.
//
// Use it from an engine's tests:
//
//	func TestMyEngine_Conformance(t *testing.T) {
//		enginetest.Run(t, enginetest.Factory{
//			Open: func(t testing.TB, dir string, syncWrites bool) persistence.Engine {
//				e, err := openMyEngine(dir, syncWrites)
//				if err != nil {
//					t.Fatal(err)
//				}
//				return e
//			},
//			Persistent: true,
//		})
//	}
//
// The suite closes every engine it opens (through t.Cleanup, too, when a
// subtest fails early), and it gives each subtest a fresh directory.
//
// The randomized subtest compares the engine with a map-and-sort reference
// under a seed. It logs the seed; on failure rerun with the same seed:
//
//	go test ./persistence -run 'Conformance/pebble/Randomized' -enginetest.seed=N
//
// (or set DHT_ENGINETEST_SEED=N). -enginetest.ops sets the number of
// operations.
//
// The suite is for tests only. It starts goroutines to exercise concurrency
// and registers its flags on the default flag set, which only test binaries
// should import.
package enginetest
