package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
)

// raceChildEnv marks a test process that RunWithRaceSuppressions started
// under its suppressions, so that it runs the tests instead of starting
// itself again.
const raceChildEnv = "DHT_TEST_RACE_SUPPRESSED"

// RunWithRaceSuppressions runs m's tests and returns their exit code, as
// m.Run does. Built without -race it is m.Run. Built with -race it runs the
// test binary again, with the same arguments, under the race detector's
// suppressions (a ThreadSanitizer suppressions file: one "race:FUNCTION"
// line per function whose races are not reported), and returns that run's
// exit code.
//
// A second run is needed because the race detector reads its options from
// $GORACE when the process starts, before any Go code runs. It is for a race
// inside a library that the project cannot change and that cannot be
// ordered from outside it; every other race in the package is still
// reported. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testutil.RunWithRaceSuppressions(m, suppressions)) }
func RunWithRaceSuppressions(m *testing.M, suppressions string) int {
	if !raceEnabled || os.Getenv(raceChildEnv) != "" {
		return m.Run()
	}
	code, err := runSuppressed(suppressions)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testutil: running the tests under race suppressions: %v\n", err)
		return 2
	}
	return code
}

// runSuppressed runs this test binary again under suppressions, passing
// on the signals that would stop it (go test's SIGQUIT on a timeout asks
// the tests for a goroutine dump).
func runSuppressed(suppressions string) (int, error) {
	f, err := os.CreateTemp("", "race-*.supp")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(suppressions); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = suppressedEnv(os.Environ(), f.Name())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	defer func() {
		signal.Stop(sigs)
		close(sigs)
	}()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode(), nil
	}
	return 0, err
}

// suppressedEnv returns env with the suppressions file added to $GORACE,
// after any options already there, and the mark of a suppressed run.
func suppressedEnv(env []string, file string) []string {
	gorace := "suppressions=" + file
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "GORACE="):
			if old := strings.TrimSpace(strings.TrimPrefix(kv, "GORACE=")); old != "" {
				gorace = old + " " + gorace
			}
		case strings.HasPrefix(kv, raceChildEnv+"="):
		default:
			out = append(out, kv)
		}
	}
	return append(out, "GORACE="+gorace, raceChildEnv+"=1")
}
