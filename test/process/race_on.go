//go:build race

package process

// raceEnabled is true when the test binary is built with -race; dhtd is then
// built with -race too, so the multi-process tests look for races in the
// daemon as well.
const raceEnabled = true
