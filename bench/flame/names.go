package flame

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"unicode/utf8"
)

// family is the kind of code a frame belongs to, which picks its hue.
type family int

const (
	// famOther is everything not below: libraries, the standard library.
	famOther family = iota
	// famProject is the module named by Options.Module, and package main.
	famProject
	// famRuntime is the Go runtime: runtime, runtime/...,
	// internal/runtime/...
	famRuntime
	// famSyscall is a system call: the syscall packages,
	// golang.org/x/sys/unix and the runtime's own raw system calls on
	// Linux (futex, usleep...).
	famSyscall
)

// runtimeSyscalls are the runtime's functions that are a system call and
// nothing more, on linux/amd64 (runtime/sys_linux_amd64.s, less the vDSO
// calls): time in them is the kernel's. The runtime's other system calls
// go through internal/runtime/syscall.
var runtimeSyscalls = map[string]bool{
	"runtime.exit":              true,
	"runtime.exitThread":        true,
	"runtime.open":              true,
	"runtime.closefd":           true,
	"runtime.write1":            true,
	"runtime.read":              true,
	"runtime.pipe2":             true,
	"runtime.usleep":            true,
	"runtime.gettid":            true,
	"runtime.raise":             true,
	"runtime.raiseproc":         true,
	"runtime.setitimer":         true,
	"runtime.timer_create":      true,
	"runtime.timer_settime":     true,
	"runtime.timer_delete":      true,
	"runtime.mincore":           true,
	"runtime.rtsigprocmask":     true,
	"runtime.rt_sigaction":      true,
	"runtime.sysMmap":           true,
	"runtime.sysMunmap":         true,
	"runtime.madvise":           true,
	"runtime.futex":             true,
	"runtime.clone":             true,
	"runtime.sigaltstack":       true,
	"runtime.osyield":           true,
	"runtime.sched_getaffinity": true,
}

// packagePath is the import path of the package a Go symbol belongs to:
// "github.com/a/b" of "github.com/a/b.(*T).M[...]", "" for a symbol
// without one (an assembly routine such as indexbytebody).
func packagePath(name string) string {
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i] // type arguments hold paths of their own
	}
	slash := strings.LastIndexByte(name, '/')
	dot := strings.IndexByte(name[slash+1:], '.')
	if dot < 0 {
		return ""
	}
	return name[:slash+1+dot]
}

// classify says which family a frame named name belongs to; module is the
// project's module path.
func classify(name, module string) family {
	pkg := packagePath(name)
	switch {
	case pkg == "syscall", strings.HasPrefix(pkg, "internal/syscall/"),
		strings.HasPrefix(pkg, "internal/runtime/syscall"), pkg == "golang.org/x/sys/unix",
		runtimeSyscalls[name]:
		return famSyscall
	case pkg == "runtime", strings.HasPrefix(pkg, "runtime/"), strings.HasPrefix(pkg, "internal/runtime/"):
		return famRuntime
	case module != "" && (pkg == module || strings.HasPrefix(pkg, module+"/")), pkg == "main":
		return famProject
	}
	return famOther
}

// color is a frame's fill: a hash of its name picks a shade within its
// family's band, so one function has one colour wherever it appears and
// in every graph.
func color(name string, f family) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	s := h.Sum32()
	v1, v2, v3 := float64(s&0xff)/255, float64(s>>8&0xff)/255, float64(s>>16&0xff)/255
	return familyColor(f, v1, v2, v3)
}

// familyColor is the colour at v1, v2, v3 (each 0 to 1) of a family's
// band. famOther is the classic warm flame (orange to yellow), kept clear of
// famSyscall's red.
func familyColor(f family, v1, v2, v3 float64) string {
	var r, g, b float64
	switch f {
	case famProject: // green
		r, g, b = 60+60*v1, 170+60*v2, 60+50*v3
	case famRuntime: // aqua
		r, g, b = 80+50*v1, 170+50*v2, 210+40*v3
	case famSyscall: // red
		r, g, b = 210+40*v1, 60+50*v2, 60+50*v3
	default: // orange to yellow
		r, g, b = 230+25*v1, 130+90*v2, 40+40*v3
	}
	return fmt.Sprintf("rgb(%d,%d,%d)", int(r), int(g), int(b))
}

// pathPrefix matches the directories of an import path: "github.com/a/"
// of "github.com/a/b.F".
var pathPrefix = regexp.MustCompile(`(?:[\w.\-~]+/)+`)

// shortName drops the directories of every import path in a symbol:
// "skl.(*node).key" of "github.com/dgraph-io/badger/v4/skl.(*node).key".
func shortName(name string) string {
	return pathPrefix.ReplaceAllString(name, "")
}

// fit shortens a label to what a rectangle px wide holds at charWidth
// pixels a character, ending it with ".." when cut; "" when not even
// three characters fit.
func fit(label string, px float64) string {
	n := int((px - 2*textPad) / charWidth)
	if n < 3 {
		return ""
	}
	if utf8.RuneCountInString(label) <= n {
		return label
	}
	return string([]rune(label)[:n-2]) + ".."
}
