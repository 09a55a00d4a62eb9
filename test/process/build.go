package process

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// modulePath is the module whose cmd/dhtd is built.
const modulePath = "github.com/dhtkv/dht"

// BinaryEnv names an environment variable that, when set, is the path of a
// prebuilt dhtd to use instead of building one (for CI that builds once, or
// to test a release binary). It deliberately lacks the DHT_ prefix, which
// dhtd reads as configuration.
const BinaryEnv = "DHTD_BINARY"

// buildTimeout bounds the one build of dhtd; a cold build cache with -race
// takes a minute or two on a small machine.
const buildTimeout = 5 * time.Minute

// builtBinary is one build of dhtd, made once per test binary.
type builtBinary struct {
	once sync.Once
	dir  string // temporary directory holding the binary; removed by Main
	path string
	err  error
}

// build is the dhtd Binary returns; plain the one PlainBinary returns.
var build, plain builtBinary

// Binary returns the path of the dhtd binary, building it on the first call
// in this test binary: `go build -o <tmp>/dhtd ./cmd/dhtd`, run in the
// module root with the go command found on PATH, and with -race when this
// test binary was built with -race. It fails t if the build fails.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := Build()
	if err != nil {
		t.Fatalf("process: %v", err)
	}
	return path
}

// Build is Binary for callers without a testing.TB, such as TestMain. The
// error of a failed build is returned to every caller.
func Build() (string, error) {
	build.once.Do(func() {
		if p := os.Getenv(BinaryEnv); p != "" {
			build.path, build.err = p, nil
			if _, err := os.Stat(p); err != nil {
				build.err = fmt.Errorf("%s: %w", BinaryEnv, err)
			}
			return
		}
		build.path, build.err = buildDhtd(&build, raceEnabled)
	})
	return build.path, build.err
}

// PlainBinary is Binary built without -race, whatever the test binary:
// for a test whose point is scale (a data set of 100,000 keys moved
// between nodes), where race-built daemons would spend minutes on
// instrumentation. The other tests keep race-built daemons, and the
// in-process clusters of test/cluster run the same code under -race.
func PlainBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(BinaryEnv); p != "" {
		return Binary(t)
	}
	if !raceEnabled {
		return Binary(t)
	}
	plain.once.Do(func() { plain.path, plain.err = buildDhtd(&plain, false) })
	if plain.err != nil {
		t.Fatalf("process: %v", plain.err)
	}
	return plain.path
}

// Main runs the tests of m and then removes the binary that Binary built.
// Call it from TestMain; without it the build is left in the temporary
// directory.
func Main(m *testing.M) {
	code := m.Run()
	for _, b := range []*builtBinary{&build, &plain} {
		if b.dir != "" {
			_ = os.RemoveAll(b.dir)
		}
	}
	os.Exit(code)
}

func buildDhtd(b *builtBinary, race bool) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building dhtd: the go command is not on PATH: %w", err)
	}
	dir, err := os.MkdirTemp("", "dhtd-build-")
	if err != nil {
		return "", fmt.Errorf("building dhtd: %w", err)
	}
	b.dir = dir
	out := filepath.Join(dir, "dhtd")
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/dhtd")

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Dir = root
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building dhtd (go %s in %s, %s): %w\n%s",
			strings.Join(args, " "), root, time.Since(start).Round(time.Millisecond), err, output.String())
	}
	return out, nil
}

// ModuleRoot returns the directory of this module's go.mod, found by walking
// up from the working directory and, failing that, from this source file,
// so that tests work when run from any directory.
func ModuleRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, s := range starts {
		if root, ok := findModule(s); ok {
			return root, nil
		}
	}
	return "", fmt.Errorf("process: no go.mod of module %s above %s", modulePath, strings.Join(starts, " or "))
}

// findModule walks up from dir to the go.mod declaring modulePath. The walk
// ends at the file system root.
func findModule(dir string) (string, bool) {
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declares(b, modulePath) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// declares reports whether go.mod content b has "module path".
func declares(b []byte, path string) bool {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == path
		}
	}
	return false
}

// errNotRunning is returned by operations that need a live process.
var errNotRunning = errors.New("process: dhtd is not running")
