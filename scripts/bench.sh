#!/usr/bin/env bash
# Runs the YCSB comparison of docs/benchmarks.md: builds dhtbench (the
# bench/ module) into ./bin, fetches etcd from Debian's etcd-server package
# into ./bin when ETCD does not name one, and runs `dhtbench compare` with
# ./bin/dhtd and the arguments given. Used by `make bench` (-profile full)
# and `make bench-short` (-profile short); `make build` comes first.
#
#   scripts/bench.sh -profile short
#   scripts/bench.sh -profile full -note "quiet machine, nothing else running"
#   ETCD=/usr/bin/etcd scripts/bench.sh -profile short -systems dht-n3,etcd
#
# etcd is extracted from the package (apt-get download, dpkg-deb -x), not
# installed: no service starts and nothing outside ./bin changes. Only
# `apt-get update`, when the package lists lack etcd-server, needs root
# (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="$root/bin"
mkdir -p "$bin"

if [ ! -x "$bin/dhtd" ]; then
  echo "scripts/bench.sh: $bin/dhtd is missing; run 'make build' first" >&2
  exit 1
fi

etcd=${ETCD:-$bin/etcd}
if [ ! -x "$etcd" ]; then
  if [ -n "${ETCD:-}" ]; then
    echo "scripts/bench.sh: ETCD=$ETCD is not an executable" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    echo "scripts/bench.sh: no etcd: set ETCD to an etcd 3.4+ binary (the docs' figures use Debian's etcd-server)" >&2
    exit 1
  fi
  echo "scripts/bench.sh: fetching etcd from Debian's etcd-server package into $bin" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  chmod 0755 "$tmp" # apt-get download writes as the _apt user where it can
  if ! (cd "$tmp" && apt-get download etcd-server >/dev/null 2>&1); then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    (cd "$tmp" && apt-get download etcd-server)
  fi
  dpkg-deb -x "$tmp"/etcd-server_*.deb "$tmp/x"
  install -m 0755 "$tmp/x/usr/bin/etcd" "$bin/etcd.new"
  mv "$bin/etcd.new" "$bin/etcd"
fi
"$etcd" --version | sed -n 1p >&2

# The commit the servers were built from, "+ changes" when code outside
# docs/ and bench/ differs from it.
revision=unknown
if rev=$(git rev-parse --short HEAD 2>/dev/null); then
  revision="commit $rev"
  if [ -n "$(git status --porcelain --untracked-files=no -- . ':(exclude)docs' ':(exclude)bench' 2>/dev/null)" ]; then
    revision+=" + uncommitted changes"
  fi
fi

(cd bench && go build -o "$bin/dhtbench" ./cmd/dhtbench)
exec "$bin/dhtbench" compare -dhtd "$bin/dhtd" -etcd "$etcd" -revision "$revision" "$@"
