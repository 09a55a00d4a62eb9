package flame

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		want family
	}{
		{"github.com/dhtkv/dht/internal/quorum.(*Put).Acked", famProject},
		{"github.com/dhtkv/dht/bench/flame.Fold", famProject},
		{"main.main", famProject},
		{"github.com/dhtkv/dhtx.F", famOther}, // another module that shares the prefix
		{"runtime.mallocgc", famRuntime},
		{"runtime.gcBgMarkWorker.func2", famRuntime},
		{"internal/runtime/maps.(*Map).getWithoutKeySmallFastStr", famRuntime},
		{"runtime/internal/atomic.Load", famRuntime},
		{"internal/runtime/syscall/linux.Syscall6", famSyscall},
		{"syscall.Syscall", famSyscall},
		{"internal/syscall/unix.GetRandom", famSyscall},
		{"golang.org/x/sys/unix.Syscall", famSyscall},
		{"runtime.futex", famSyscall},
		{"github.com/dgraph-io/badger/v4/skl.(*node).key", famOther},
		{"net/http.(*conn).serve", famOther},
		{"indexbytebody", famOther},
		{"slices.SortFunc[go.shape.[]*github.com/dhtkv/dht/x.T,go.shape.*uint8]", famOther},
	}
	for _, tt := range tests {
		if got := classify(tt.name, DefaultModule); got != tt.want {
			t.Errorf("classify(%q) = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestShortName(t *testing.T) {
	tests := map[string]string{
		"github.com/dgraph-io/badger/v4/skl.(*node).key": "skl.(*node).key",
		"internal/runtime/syscall/linux.Syscall6":        "linux.Syscall6",
		"runtime.mallocgc":                               "runtime.mallocgc",
		"gopkg.in/yaml.v3.(*parser).parse":               "yaml.v3.(*parser).parse",
		"github.com/a/b.F[go.shape.*github.com/c/d.T]":   "b.F[go.shape.*d.T]",
		"indexbytebody":                                  "indexbytebody",
	}
	for in, want := range tests {
		if got := shortName(in); got != want {
			t.Errorf("shortName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFit(t *testing.T) {
	tests := []struct {
		label string
		px    float64
		want  string
	}{
		{"runtime.mallocgc", 200, "runtime.mallocgc"},
		{"runtime.mallocgc", 6 + 16*charWidth, "runtime.mallocgc"},
		{"runtime.mallocgc", 6 + 15*charWidth, "runtime.mallo.."},
		{"runtime.mallocgc", 6 + 3*charWidth, "r.."},
		{"runtime.mallocgc", 6 + 3*charWidth - 1, ""},
		{"μ.ü", 6 + 3*charWidth, "μ.ü"}, // characters, not bytes
		{"", 100, ""},
	}
	for _, tt := range tests {
		if got := fit(tt.label, tt.px); got != tt.want {
			t.Errorf("fit(%q, %v) = %q, want %q", tt.label, tt.px, got, tt.want)
		}
	}
}

func TestColor_StableWithinFamily(t *testing.T) {
	a, b := color("runtime.mallocgc", famRuntime), color("runtime.mallocgc", famRuntime)
	if a != b {
		t.Errorf("one name, two colours: %s, %s", a, b)
	}
	if color("runtime.mallocgc", famRuntime) == color("runtime.mallocgc", famProject) {
		t.Error("two families, one colour")
	}
}
