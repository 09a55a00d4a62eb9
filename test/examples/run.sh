#!/usr/bin/env bash
# Runs the examples a newcomer meets first, as written, against the cluster
# `make run` starts: every command of the `make run` banner (but the ones
# that follow forever or start a fourth node) and every command of the
# README's "Using it" and "Siblings" sections. A command must exit 0, and
# a curl whose comment names a status ("# 204, ...", "# 404",
# "# HTTP/1.1 300 ...") must get it.
# The cluster runs on its own ports and directory (DHT_RUN_*), so it can run
# beside a `make run`. Used by `make examples-test`; needs bash, curl and
# ./bin/dhtd and ./bin/dhtctl (make build).
set -euo pipefail
cd "$(dirname "$0")/../.."

http0=${EXAMPLES_HTTP_PORT:-18380}
dir=$(mktemp -d)
log="$dir/run.log"
cleanup() {
  if [ -n "${run_pid:-}" ]; then kill -TERM "$run_pid" 2>/dev/null || true; wait "$run_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

DHT_RUN_DIR="$dir/run" DHT_RUN_HTTP_PORT=$http0 DHT_RUN_GOSSIP_PORT=$((http0 + 100)) DHT_RUN_REMOTE_PORT=$((http0 + 200)) \
  scripts/run-local.sh >"$log" 2>&1 &
run_pid=$!
for _ in $(seq 1 300); do
  grep -q '^Press Ctrl-C' "$log" && break
  kill -0 "$run_pid" 2>/dev/null || { echo "make run's script exited:"; cat "$log"; exit 1; }
  sleep 0.2
done
grep -q '^Press Ctrl-C' "$log" || { echo "no banner after 60 s:"; cat "$log"; exit 1; }

# commands FILE: the example commands of a text, one per line, with the
# status a following comment names (or -): "STATUS<TAB>COMMAND".
commands() {
  awk '
    function flush() { if (cmd != "") print (status == "" ? "-" : status) "\t" cmd; cmd = ""; status = "" }
    /^[ \t]*#/ {
      # A comment line under a command: it may name the status.
      if (cmd != "" && status == "" && match($0, /#[ \t]*(HTTP\/[0-9.]+ )?[1-5][0-9][0-9]/)) status = substr($0, RSTART + RLENGTH - 3, 3)
      next
    }
    /^[ \t]*(\.\/bin\/|curl |ctx=|export )/ {
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
  ' "$1"
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

banner="$dir/banner"
sed -n '/^  export DHTCTL_ADDR/,/^Press Ctrl-C/p' "$log" | grep -v 'events -f' |
  awk '/^Grow and shrink/ { grow = 1 } !grow || /dhtctl status/' >"$banner"
readme="$dir/readme"
{ section '## Using it'; section '### Siblings: concurrent writes are kept, not lost'; } |
  sed -e "s/localhost:8080/127.0.0.1:$http0/g" -e "s/127\.0\.0\.1:8080/127.0.0.1:$http0/g" >"$readme"

ran=0 failed=0
runall() { # runall LABEL FILE
  local label=$1 status cmd out code got
  # Read the list before running it: a command must not eat the list.
  local list
  list=$(commands "$2")
  while IFS=$'\t' read -r status cmd; do
    ran=$((ran + 1))
    # eval in this shell, so that a command's variables (ctx=...) reach
    # the next ones, as in the reader's terminal.
    set +e
    set -o pipefail
    eval "$cmd" >"$dir/out" 2>&1 </dev/null
    code=$?
    set -e
    out=$(cat "$dir/out")
    got=$(printf '%s\n' "$out" | awk '/^HTTP\/[0-9.]+ [0-9][0-9][0-9]/ { s = $2 } END { print s }')
    if [ "$code" -ne 0 ] || { [ "$status" != - ] && [ "$got" != "$status" ]; }; then
      failed=$((failed + 1))
      printf 'FAIL %s: %s\n  exit %d, status %s (want %s)\n%s\n' "$label" "$cmd" "$code" "${got:--}" "$status" "$(printf '%s\n' "$out" | head -20 | sed 's/^/    /')"
    else
      printf 'ok   %s: %s%s\n' "$label" "$cmd" "$([ "$status" != - ] && echo "  [$got]")"
    fi
  done <<<"$list"
}

export DHTCTL_ADDR=http://127.0.0.1:$http0
runall banner "$banner"
runall README "$readme"
echo "examples: $ran run, $failed failed"
[ "$failed" -eq 0 ]
