package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name        string
		bi          *debug.BuildInfo
		linkVersion string
		want        Info
		str         string
	}{
		{
			name: "tagged clean build",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}},
			want: Info{Version: "v1.2.3", Commit: rev, GoVersion: "go1.26.8"},
			str:  "v1.2.3 (commit 0123456789ab, go1.26.8)",
		},
		{
			name: "dirty checkout",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}},
			want: Info{Version: "(devel)", Commit: rev + "-dirty", GoVersion: "go1.26.8"},
			str:  "(devel) (commit 0123456789ab-dirty, go1.26.8)",
		},
		{
			name:        "the link-time version wins",
			bi:          &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			linkVersion: "v2.0.0-rc1\n",
			want:        Info{Version: "v2.0.0-rc1", Commit: Unknown, GoVersion: "go1.26.8"},
			str:         "v2.0.0-rc1 (commit unknown, go1.26.8)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromBuildInfo(tt.bi, tt.linkVersion)
			if got != tt.want {
				t.Fatalf("FromBuildInfo = %+v, want %+v", got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Fatalf("String() = %q, want %q", s, tt.str)
			}
		})
	}
	t.Run("no build info", func(t *testing.T) {
		got := FromBuildInfo(nil, "")
		if got.Version != Unknown || got.Commit != Unknown || got.GoVersion == "" {
			t.Fatalf("FromBuildInfo(nil) = %+v", got)
		}
	})
}

func TestRead(t *testing.T) {
	// A test binary has build info; its main module is the test's.
	if got := Read(); got.GoVersion == "" || got.Version == "" || got.Commit == "" {
		t.Fatalf("Read() = %+v, want every field set", got)
	}
}
