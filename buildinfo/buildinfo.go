package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at link time (-ldflags "-X ...buildinfo.version=v1.2.3")
// by builds that know the version better than the go command can, such as
// `make build`. Empty means the build info's.
var version string

// Unknown is what Info holds for what the build did not record.
const Unknown = "unknown"

// Info is what a binary knows of its own build. The JSON names are the
// output of `dhtctl version --json`.
type Info struct {
	// Version is the link-time version, else the main module's version as
	// the go command recorded it: a tag, a pseudo-version, or "(devel)"
	// for a build of a checkout it could not version.
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from, with
	// "-dirty" when the tree had changes; Unknown when not recorded.
	Commit string `json:"commit"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"go_version"`
}

// Read returns the running binary's build information.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return FromBuildInfo(bi, version)
}

// FromBuildInfo derives Info from bi, which may be nil (a binary built
// without module support), and a link-time version, which wins over bi's
// when not empty.
func FromBuildInfo(bi *debug.BuildInfo, linkVersion string) Info {
	info := Info{Version: Unknown, Commit: Unknown, GoVersion: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if v := bi.Main.Version; v != "" {
			info.Version = v
		}
		var dirty bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && info.Commit != Unknown {
			info.Commit += "-dirty"
		}
	}
	if v := strings.TrimSpace(linkVersion); v != "" {
		info.Version = v
	}
	return info
}

// String formats info on one line: "v1.2.3 (commit 0123abc, go1.26.8)".
// The commit is shortened to 12 hex digits, enough to name it in one
// repository.
func (info Info) String() string {
	commit := info.Commit
	if hash, dirty, _ := strings.Cut(commit, "-"); len(hash) > 12 {
		commit = hash[:12]
		if dirty != "" {
			commit += "-" + dirty
		}
	}
	return info.Version + " (commit " + commit + ", " + info.GoVersion + ")"
}
