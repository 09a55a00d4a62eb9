//go:build !race

package testutil

// raceEnabled: this binary was built without -race.
const raceEnabled = false
