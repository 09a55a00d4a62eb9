// Package buildinfo tells what a binary of the store was built from: the
// module's version, the VCS commit and the Go version. dhtd --version,
// dhtctl version and the node's dht_build_info metric read it.
//
// Read takes them from runtime/debug.ReadBuildInfo, which the go command
// stamps into every binary it builds from a module: the version from a
// tag (or a pseudo-version), the commit when the build ran in a git
// checkout without -buildvcs=false. A build outside the git tree (an
// image build from a copy of the source, say) knows neither, so the
// version may also be set at link time, which wins:
//
//	go build -ldflags "-X github.com/dhtkv/dht/buildinfo.version=v1.2.3" ./cmd/dhtd
//
// The package depends on no other package of the module, so anything may
// import it. It has no state but that link-time variable; Read is safe
// for concurrent use.
package buildinfo
