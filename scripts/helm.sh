#!/usr/bin/env bash
# Runs the pinned helm with the given arguments, installing it first into
# ./bin from the Go module proxy when it is missing or another version.
#
#   scripts/helm.sh lint helm/dht
#   scripts/helm.sh template dht helm/dht --set config.replication.n=5
#
# `go install` builds helm without the release's ldflags, which would leave
# it reporting version "v3.22" and assuming Kubernetes 1.20 for `helm
# template` and `helm lint`; the same ldflags as helm's own Makefile are
# passed, so it behaves like the released binary (Kubernetes 1.37 = its
# client-go v0.37). HELM_VERSION and HELM_K8S_MINOR move together.
#
# Building takes a few minutes the first time (the module cache makes later
# builds fast). The binary is built into a temporary directory and moved into
# place, so concurrent callers never run a half-written file.
set -euo pipefail

HELM_VERSION=v3.22.0
HELM_K8S_MINOR=37 # minor version of k8s.io/client-go in helm's go.mod

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
helm="$bin/helm"

installed() {
  [ -x "$helm" ] && [ "$("$helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]
}

if ! installed; then
  echo "scripts/helm.sh: installing helm $HELM_VERSION into $bin" >&2
  mkdir -p "$bin"
  tmp=$(mktemp -d "$bin/.helm-install.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  ldflags="-w -s"
  ldflags+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$HELM_K8S_MINOR"
  done
  # Outside any module, so the project's go.mod and GOFLAGS such as
  # -mod=vendor play no part.
  (cd "$tmp" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$tmp" \
    go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
  mv -f "$tmp/helm" "$helm"
  rm -rf "$tmp"
  trap - EXIT
  installed || { echo "scripts/helm.sh: $helm does not report $HELM_VERSION" >&2; exit 1; }
fi

exec "$helm" "$@"
