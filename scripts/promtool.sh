#!/usr/bin/env bash
# Runs promtool with the given arguments, taking it from Debian's
# prometheus package into ./bin when it is not there yet: the package is
# downloaded and unpacked, not installed, so that no Prometheus server is
# started as a service.
#
#   scripts/promtool.sh check rules rules.yaml
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
promtool="$bin/promtool"

if [ ! -x "$promtool" ]; then
  if command -v promtool >/dev/null; then
    mkdir -p "$bin"
    ln -sf "$(command -v promtool)" "$promtool"
  else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (
      cd "$tmp"
      # apt-get download writes into the current directory; it needs the
      # package lists, fetched once on a fresh machine.
      apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus >/dev/null; }
      dpkg-deb -x prometheus_*.deb root
    )
    mkdir -p "$bin"
    install -m 0755 "$tmp/root/usr/bin/promtool" "$promtool.tmp"
    mv "$promtool.tmp" "$promtool"
  fi
fi
exec "$promtool" "$@"
