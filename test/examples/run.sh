#!/usr/bin/env bash
# Runs the examples a newcomer meets, as written, against the cluster
# `make run` starts (scripts/run-local.sh), twice: plain, and with TLS
# (DHT_RUN_TLS=1).
#
#   - every command of the `make run` banner, the "Grow and shrink" part
#     included: a fourth node is started as printed, becomes ready, and is
#     decommissioned, and must then exit by itself (only `events -f`, which
#     follows forever, is left out);
#   - every command of the README's "Using it", "Siblings", "dhtctl" and
#     "With TLS" (its first block; the second shows flags with "...")
#     sections, and the read-only ones of "Changing ownership" (its
#     decommission and force-remove name nodes of another cluster).
#
# A command must exit 0, and a curl whose comment names a status ("# 204,
# ...", "# 404", "# HTTP/1.1 300 ...") must get it. The clusters run on their
# own ports and directories (DHT_RUN_*), so this can run beside a `make run`.
# Used by `make examples-test`; needs bash, curl, jq and ./bin/dhtd and
# ./bin/dhtctl (make build).
set -euo pipefail
cd "$(dirname "$0")/../.."

dir=$(mktemp -d)
run_pid=""
node4_pid=""
cleanup() {
  stop_cluster
  rm -rf "$dir"
}
trap cleanup EXIT

# start_cluster NAME HTTP_PORT [TLS]: runs make run's script in $dir/NAME
# and waits (at most 60 s) for its banner.
start_cluster() {
  local name=$1 http0=$2 tls=${3:-0}
  log="$dir/$name.log"
  DHT_RUN_DIR="$dir/$name" DHT_RUN_HTTP_PORT=$http0 DHT_RUN_GOSSIP_PORT=$((http0 + 100)) \
    DHT_RUN_REMOTE_PORT=$((http0 + 200)) DHT_RUN_TLS=$tls scripts/run-local.sh >"$log" 2>&1 &
  run_pid=$!
  for _ in $(seq 1 300); do
    grep -q '^Press Ctrl-C' "$log" && return 0
    kill -0 "$run_pid" 2>/dev/null || { echo "make run's script exited:"; cat "$log"; exit 1; }
    sleep 0.2
  done
  echo "no banner after 60 s:"
  cat "$log"
  exit 1
}

# stop_cluster stops the script (which stops its nodes) and any fourth
# node still running.
stop_cluster() {
  if [ -n "$node4_pid" ]; then kill -TERM "$node4_pid" 2>/dev/null || true; wait "$node4_pid" 2>/dev/null || true; fi
  node4_pid=""
  if [ -n "$run_pid" ]; then kill -TERM "$run_pid" 2>/dev/null || true; wait "$run_pid" 2>/dev/null || true; fi
  run_pid=""
}

# commands FILE: the example commands of a text, one per line, with the
# status a following comment names (or -): "STATUS<TAB>COMMAND". Lines
# continued with a backslash are joined first.
commands() {
  sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$1" | awk '
    function flush() { if (cmd != "") print (status == "" ? "-" : status) "\t" cmd; cmd = ""; status = "" }
    /^[ \t]*#/ {
      # A comment line under a command: it may name the status.
      if (cmd != "" && status == "" && match($0, /#[ \t]*(HTTP\/[0-9.]+ )?[1-5][0-9][0-9]/)) status = substr($0, RSTART + RLENGTH - 3, 3)
      next
    }
    /^[ \t]*(\.\/bin\/|curl |ctx=|export |DHT_)/ {
      flush()
      line = $0; sub(/^[ \t]+/, "", line)
      # A trailing comment: the status it names, then drop it. Comments
      # start at " #" after the command (no example quotes a "#").
      if (match(line, / +#.*$/)) {
        c = substr(line, RSTART)
        line = substr(line, 1, RSTART - 1)
        if (match(c, /#[ \t]*[1-5][0-9][0-9]/)) status = substr(c, RSTART + RLENGTH - 3, 3)
      }
      cmd = line
      next
    }
    { flush() }
    END { flush() }
  '
}

# section NAME: the ```sh blocks of the README section that starts with the
# heading line NAME, up to the next heading.
section() {
  awk -v name="$1" '
    $0 == name { on = 1; next }
    on && !block && /^#/ { on = 0 }
    on && /^```sh/ { block = 1; next }
    on && /^```/ { block = 0; next }
    on && block { print }
  ' README.md
}

ran=0 failed=0
# runall LABEL FILE: runs FILE's commands in this shell, in order.
runall() {
  local label=$1 status cmd out code got list
  # Read the list before running it: a command must not eat the list.
  list=$(commands "$2")
  while IFS=$'\t' read -r status cmd; do
    ran=$((ran + 1))
    set +e
    if [[ $cmd == *"./bin/dhtd "* ]]; then
      # The banner's fourth node: started as printed, in the background,
      # and ready within 60 s.
      eval "$cmd" >"$dir/node4.log" 2>&1 </dev/null &
      node4_pid=$!
      ./bin/dhtctl --addr "$node4_url" ready --wait 60s >"$dir/out" 2>&1
      code=$?
      [ "$code" -eq 0 ] || cat "$dir/node4.log" >>"$dir/out"
    else
      # eval in this shell, so that a command's variables (ctx=...,
      # export) reach the next ones, as in the reader's terminal.
      eval "$cmd" >"$dir/out" 2>&1 </dev/null
      code=$?
      if [ "$code" -eq 0 ] && [[ $cmd == *"dhtctl decommission node4"* ]] && [ -n "$node4_pid" ]; then
        # Decommissioned, the node hands its replicas back and exits by
        # itself, with status 0.
        for _ in $(seq 1 600); do kill -0 "$node4_pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$node4_pid" 2>/dev/null; then
          echo "node4 did not exit within 120 s of its decommission" >>"$dir/out"
          code=1
        else
          wait "$node4_pid" || { code=$?; echo "node4 exited with status $code" >>"$dir/out"; }
          node4_pid=""
        fi
      fi
    fi
    set -e
    out=$(cat "$dir/out")
    got=$(printf '%s\n' "$out" | awk '/^HTTP\/[0-9.]+ [0-9][0-9][0-9]/ { s = $2 } END { print s }')
    if [ "$code" -ne 0 ] || { [ "$status" != - ] && [ "$got" != "$status" ]; }; then
      failed=$((failed + 1))
      printf 'FAIL %s: %s\n  exit %d, status %s (want %s)\n%s\n' "$label" "$cmd" "$code" "${got:--}" "$status" "$(printf '%s\n' "$out" | tail -20 | sed 's/^/    /')"
    else
      printf 'ok   %s: %s%s\n' "$label" "$cmd" "$([ "$status" != - ] && echo "  [$got]")"
    fi
  done <<<"$list"
}

# banner FILE: the commands the banner in $log prints, but events -f.
banner() {
  sed -n '/^  export DHTCTL_ADDR/,/^Press Ctrl-C/p' "$log" | grep -v 'events -f' >"$1"
}

# --- Plain ---------------------------------------------------------------
http0=${EXAMPLES_HTTP_PORT:-18380}
start_cluster plain "$http0"
node4_url=http://127.0.0.1:$((http0 + 3))
banner "$dir/banner"
{
  section '## Using it'
  section '### Siblings: concurrent writes are kept, not lost'
  section '### dhtctl'
  # Its decommission, force-remove and join name nodes of another cluster.
  section '### Changing ownership and watching events' | grep -v -e node-b -e node-c -e 10\.0\.0\.
} | sed -e "s/localhost:8080/127.0.0.1:$http0/g" -e "s/127\.0\.0\.1:8080/127.0.0.1:$http0/g" >"$dir/readme"
export DHTCTL_ADDR=http://127.0.0.1:$http0
runall banner "$dir/banner"
runall README "$dir/readme"
stop_cluster

# --- TLS -----------------------------------------------------------------
http0=$((http0 + 500))
start_cluster tls "$http0" 1
node4_url=https://127.0.0.1:$((http0 + 3))
banner "$dir/banner-tls"
# The README's TLS walk-through (its first block; the second shows flags
# with "..." for a cluster by hand), on this cluster: its certificates are
# in $dir/tls/tls, not .run/tls, and it is already running.
section '### With TLS' | awk '{ print } /^curl/ { exit }' | grep -v 'make run' |
  sed -e "s#\.run/tls#$dir/tls/tls#g" -e "s/127\.0\.0\.1:8080/127.0.0.1:$http0/g" >"$dir/readme-tls"
export DHTCTL_ADDR=https://127.0.0.1:$http0 DHTCTL_CACERT=$dir/tls/tls/ca.crt
runall "banner (TLS)" "$dir/banner-tls"
runall "README (TLS)" "$dir/readme-tls"

echo "examples: $ran run, $failed failed"
[ "$failed" -eq 0 ]
