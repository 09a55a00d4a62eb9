#!/usr/bin/env bash
# CPU profile of the write path: node1 of the 3-node cluster (N=3 R=2 W=2,
# sync_writes off) while YCSB workload A (50 % read, 50 % update, zipfian)
# runs for longer than the profile. dhtd serves Go's profiler with
# --http.pprof; the profile lands in BENCH_PROFILE_DIR (default
# ./bin/profile), its top functions are printed, and `dhtbench flame`
# draws it as a flame graph beside it (.svg for .pprof). Used by
# `make bench-profile`; extra arguments go to `dhtbench compare`.
#
#   scripts/bench-profile.sh
#   BENCH_PROFILE_SECONDS=60 scripts/bench-profile.sh -systems dht-n3-sync
#   go tool pprof -http :6060 bin/dhtd bin/profile/dht-n3-node1-workload-a.cpu.pprof
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_PROFILE_DIR:-bin/profile}
seconds=${BENCH_PROFILE_SECONDS:-20}
mkdir -p "$out"

# Workload A is given far more operations than it can do, and cut a few
# seconds after the profile ends, so the profile sees load throughout.
scripts/bench.sh -profile short -systems dht-n3 -workloads a -reps 1 \
  -ops 100000000 -max-run "$((seconds + 3))s" \
  -cpuprofile "$out" -cpuprofile-seconds "$seconds" \
  -json "" -chart "" -docs "$out/report.md" "$@"

shopt -s nullglob
profiles=("$out"/*-node1-workload-a.cpu.pprof)
if [ ${#profiles[@]} -eq 0 ]; then
  echo "scripts/bench-profile.sh: no profile was taken (does this dhtd have http.pprof?)" >&2
  exit 1
fi
# What the flame graphs' titles name: the commit, as scripts/bench.sh says it.
revision=unknown
if rev=$(git rev-parse --short HEAD 2>/dev/null); then
  revision="commit $rev"
  if [ -n "$(git status --porcelain --untracked-files=no -- . ':(exclude)docs' ':(exclude)bench' 2>/dev/null)" ]; then
    revision+=" + uncommitted changes"
  fi
fi
for p in "${profiles[@]}"; do
  echo
  echo "== $p (go tool pprof -http :6060 bin/dhtd $p)"
  go tool pprof -top -nodecount 25 bin/dhtd "$p" 2>/dev/null | sed -n 1,35p
  # scripts/bench.sh built bin/dhtbench; it prints the SVG's path.
  name=$(basename "$p" .cpu.pprof) # dht-n3-node1-workload-a
  bin/dhtbench flame -title "CPU of ${name%-node1-workload-a} node1 under YCSB workload A ($revision)" \
    -o "${p%.pprof}.svg" "$p"
done
