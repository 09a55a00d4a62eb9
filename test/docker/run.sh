#!/usr/bin/env bash
# The docker suite: builds the image, brings up the 5-node cluster of
# docker-compose.yml, and checks it as a user would, over the HTTP ports
# that compose publishes on 127.0.0.1 only:
#
#   1. the 5 nodes become ready, see 5 alive members and agree on one ring;
#   2. a quorum write (w=3) through one node reads back (r=3) through others;
#   3. `docker kill` of one node: every live node shows it "down", and once
#      it does, writes at w=2 through the others all succeed. Writes during
#      the failure-detection window are counted and always reported (how
#      many failed, how many of those timed out, 503 indeterminate, and how
#      many of those landed); some time out when the killed node was their
#      coordinating replica. DHT_DOCKER_STRICT=1 makes them fatal too;
#   4. `docker start` of it: it rejoins (alive on every node, ready) and the
#      ring is unchanged. Every acknowledged write is then read once at r=3
#      (DHT_DOCKER_FIRST_R), through every node in turn, while the hints
#      kept for the returned node may still be pending: a read that does not
#      return the value on this first try is a first-try miss (404 or
#      another value: what a client would have seen as a false not-found)
#      or a first-try error (no answer), counted and reported, not fatal
#      unless DHT_DOCKER_STRICT=1. Then the hints must drain, and only a
#      write still missing after that, read at r=3 up to 5 times a second
#      apart, is lost: one lost write fails the suite.
#
# It prints the numbers (acknowledged, failed, first-try misses, lost, time
# to detect, time to rejoin) and always tears the cluster down with its
# volumes. On failure it prints the containers' logs and exits non-zero.
# Every wait is bounded; all traffic goes to 127.0.0.1 ports or the
# containers.
#
#   test/docker/run.sh                           # `make docker-test`
#   DHT_DOCKER_SKIP_BUILD=1 test/docker/run.sh   # reuse the dht:dev image
#   DHT_PORT_PREFIX=1809 DHT_NET=172.29.0 test/docker/run.sh
#                                  # beside a running `docker-compose up`
#   DHT_DOCKER_FIRST_R=1 test/docker/run.sh     # first tries at r=1: what a
#                                  # client reading at r=1 sees (misses
#                                  # through the returned node)
#
# Needs docker, docker-compose (or `docker compose`), curl and jq.
set -euo pipefail
cd "$(dirname "$0")/../.."

project=${DHT_DOCKER_PROJECT:-dhttest}
export DHT_IMAGE=${DHT_IMAGE:-dht:dev}
export DHT_PORT_PREFIX=${DHT_PORT_PREFIX:-1808}
export DHT_NET=${DHT_NET:-172.28.0}
writes=${DHT_DOCKER_WRITES:-100} # writes in each phase of the outage
first_r=${DHT_DOCKER_FIRST_R:-3}  # r of the first-try reads after the rejoin
victim=dht3                      # the node that is killed
nodes=(dht1 dht2 dht3 dht4 dht5)

suite_start=$SECONDS
failed=0
say() { printf '[%3ds] %s\n' $((SECONDS - suite_start)) "$*"; }
fail() {
  say "FAIL: $*" >&2
  failed=1
  exit 1
}

for tool in docker curl jq; do
  command -v "$tool" >/dev/null || { echo "docker suite: $tool is required" >&2; exit 1; }
done
if command -v docker-compose >/dev/null; then
  compose_cmd=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
else
  echo "docker suite: docker-compose (or the docker compose plugin) is required" >&2
  exit 1
fi
compose() { timeout 180 "${compose_cmd[@]}" -p "$project" -f docker-compose.yml "$@"; }

port() { # port NODE: the published HTTP port of dhtN on 127.0.0.1
  echo "${DHT_PORT_PREFIX}${1#dht}"
}
url() { echo "http://127.0.0.1:$(port "$1")$2"; }
# get NODE PATH: the body of a GET, or nothing (and status 1) on any error.
get() { curl -fsS -m 5 "$(url "$1" "$2")" 2>/dev/null; }

# wait_until SECONDS WHAT CMD...: polls CMD every 0.25s until it succeeds,
# failing the suite when SECONDS pass.
wait_until() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    if ((SECONDS >= deadline)); then fail "$what: not within ${limit}s"; fi
    sleep 0.25
  done
}
now_ms() { date +%s%3N; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((rc != 0 || failed)); then
    echo
    echo "=== container logs (last 150 lines each)"
    compose logs --no-color --tail=150 2>&1 || true
    echo
    echo "=== cluster as dht1 sees it"
    get dht1 /admin/members | jq -c '.members[] | [.id, .status, .replicas]' 2>/dev/null || true
  fi
  say "tearing down (docker-compose -p $project down -v)"
  compose down -v --remove-orphans >/dev/null 2>&1 || echo "docker suite: 'down -v' failed; clean up project $project by hand" >&2
  if ((rc == 0 && !failed)); then say "docker suite PASSED"; else say "docker suite FAILED" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- image -----------------------------------------------------------------
if [ -z "${DHT_DOCKER_SKIP_BUILD:-}" ]; then
  say "building image $DHT_IMAGE"
  t=$SECONDS
  scripts/image.sh "$DHT_IMAGE" 2> >(grep -v -i -E 'deprecated|buildx|install the buildx' >&2)
  build_s=$((SECONDS - t))
else
  docker image inspect "$DHT_IMAGE" >/dev/null 2>&1 || fail "image $DHT_IMAGE not found; run scripts/image.sh"
  build_s=0
fi
user=$(docker image inspect -f '{{.Config.User}}' "$DHT_IMAGE")
[ -n "$user" ] && [ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] || fail "image runs as '$user', want a non-root numeric user"

# --- cluster up --------------------------------------------------------------
compose down -v --remove-orphans >/dev/null 2>&1 || true # a leftover of an interrupted run
for n in 0 1 2 3 4 5; do
  if (exec 3<>"/dev/tcp/127.0.0.1/${DHT_PORT_PREFIX}$n") 2>/dev/null; then
    fail "port 127.0.0.1:${DHT_PORT_PREFIX}$n is taken (a running 'docker-compose up'?); set DHT_PORT_PREFIX"
  fi
done
say "starting 5 nodes (project $project, subnet $DHT_NET.0/24, HTTP on 127.0.0.1:${DHT_PORT_PREFIX}1-5)"
up_ms=$(now_ms)
if ! out=$(compose up -d 2>&1); then
  echo "$out" >&2
  fail "docker-compose up"
fi
say "containers started in $(($(now_ms) - up_ms))ms"

cid() { compose ps -q "$1"; }
for n in "${nodes[@]}"; do
  c=$(cid "$n")
  [ -n "$c" ] || fail "no container for $n"
  # Published only on loopback.
  if docker port "$c" | grep -v -q -E '^[0-9]+/(tcp|udp) -> 127\.0\.0\.1:'; then
    fail "$n publishes a port beyond 127.0.0.1: $(docker port "$c" | tr '\n' ' ')"
  fi
done

ready() { [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$(url "$1" /readyz)")" = 200 ]; }
# alive_count NODE: members NODE sees alive.
alive_count() { get "$1" /admin/members | jq '[.members[] | select(.status == "alive")] | length'; }
# status_of NODE ID: ID's status as NODE sees it.
status_of() { get "$1" /admin/members | jq -r --arg id "$2" '.members[] | select(.id == $id) | .status'; }
# ring_sig NODE: the ring's replica table, hashed, as NODE routes by it.
ring_sig() { get "$1" /admin/ring | jq -c '[.partitions, .n, .replicas]' | sha256sum | cut -c1-16; }

all_formed() {
  local n members sig first=""
  for n in "${nodes[@]}"; do
    ready "$n" || return 1
    members=$(get "$n" /admin/members) || return 1
    # 5 alive members, every one an owner.
    [ "$(jq '[.members[] | select(.status == "alive" and .owner and .replicas > 0)] | length' <<<"$members")" = 5 ] || return 1
    # One ring everywhere.
    sig=$(ring_sig "$n") || return 1
    if [ -z "$first" ]; then first=$sig; elif [ "$sig" != "$first" ]; then return 1; fi
  done
}
wait_until 90 "5 ready nodes with 5 alive members and one ring" all_formed
form_ms=$(($(now_ms) - up_ms)) # an upper bound: one poll of all 5 nodes is ~15 requests
ring_before=$(ring_sig dht1)
version_before=$(get dht1 /admin/ring | jq .version)
say "cluster formed ${form_ms}ms after 'up': 5 ready, 5 alive, ring $ring_before (version $version_before)"
get dht1 /admin/members | jq -r '.members[] | "         \(.id) \(.status) replicas=\(.replicas) http=\(.http_addr) remote=\(.remote_addr)"'

# --- quorum write and read -------------------------------------------------------
# put NODE KEY VALUE QUERY: prints the HTTP status.
put() {
  curl -s -o /dev/null -m 10 -w '%{http_code}' -X PUT -H 'Content-Type: text/plain' \
    --data-binary "$3" "$(url "$1" "/v1/kv/$2?$4")" || true
}
# read_is NODE KEY VALUE QUERY: the key reads back as VALUE. A read that
# fails (a 503 while a just-returned node is slow, say) is tried again, up
# to 5 times a second apart: a failed read is not a lost write, but a value
# that stays missing is.
read_is() {
  local body attempt
  for attempt in 1 2 3 4 5; do
    body=$(curl -fsS -m 10 "$(url "$1" "/v1/kv/$2?$4")" 2>/dev/null) && [ "$body" = "$3" ] && return 0
    [ "$attempt" -lt 5 ] && sleep 1
  done
  return 1
}
# read_once NODE KEY VALUE QUERY: one read, no retry. Prints "hit" (200 with
# exactly VALUE), "miss" (404, or 200 with another value: a false
# not-found) or "error:CODE" (no answer, a 503, siblings...).
read_once() {
  local out code body
  out=$(curl -s -m 10 -w '\n%{http_code}' "$(url "$1" "/v1/kv/$2?$4")") || { echo "error:curl"; return; }
  code=${out##*$'\n'}
  body=${out%$'\n'*}
  case $code in
  200) if [ "$body" = "$3" ]; then echo hit; else echo miss; fi ;;
  404) echo miss ;;
  *) echo "error:$code" ;;
  esac
}

run_id=$(date +%s)-$$
value="hello from dht1 $run_id"
code=$(put dht1 greeting "$value" w=3)
[ "$code" = 204 ] || fail "quorum write w=3 through dht1 answered $code, want 204"
for n in dht4 dht2; do
  read_is "$n" greeting "$value" r=3 || fail "quorum read r=3 through $n did not return the value written through dht1"
done
say "quorum write (w=3) through dht1 read back (r=3) through dht4 and dht2"

# --- one node killed ---------------------------------------------------------------
live=(dht1 dht2 dht4 dht5)
acked=()     # keys whose write was acknowledged
unsure=()    # keys whose write answered 503 "timeout", indeterminate: it may land
window_failed=0
late_failed=0
# put_w2 PHASE I: one write at w=2 through a live node (round-robin); sets
# last_code, records the key in acked or unsure.
put_w2() {
  local key="outage-$1-$2" out
  out=$(curl -s -m 10 -w '\n%{http_code}' -X PUT -H 'Content-Type: text/plain' \
    --data-binary "v-$key-$run_id" "$(url "${live[$2 % ${#live[@]}]}" "/v1/kv/$key?w=2")") || true
  last_code=${out##*$'\n'}
  case $last_code in
  204) acked+=("$key") ;;
  *)
    local body=${out%$'\n'*}
    say "write $key (w=2) through ${live[$2 % ${#live[@]}]} answered $last_code: ${body%$'\n'}"
    if [[ $out == *'"indeterminate":true'* ]]; then unsure+=("$key"); fi
    return 1
    ;;
  esac
}
all_see_down() {
  local n
  for n in "${live[@]}"; do [ "$(status_of "$n" "$victim")" = down ] || return 1; done
}

victim_cid=$(cid "$victim")
say "docker kill $victim"
kill_ms=$(now_ms)
docker kill "$victim_cid" >/dev/null
# The failure-detection window: until gossip marks $victim down, routes
# still include it. Keep writing (w=2) until every live node shows it down.
window=0
deadline=$((SECONDS + 60))
while :; do
  for ((j = 0; j < 8; j++)); do
    put_w2 window "$window" || window_failed=$((window_failed + 1))
    window=$((window + 1))
  done
  all_see_down && break
  ((SECONDS < deadline)) || fail "every live node shows $victim down: not within 60s"
done
down_ms=$(($(now_ms) - kill_ms))
say "$victim down on every live node after ${down_ms}ms; $window writes at w=2 meanwhile, $window_failed failed"
# Known down: sloppy quorum, fallbacks keep hints for $victim. Every write
# must succeed.
for ((i = 0; i < writes; i++)); do
  put_w2 late "$i" || late_failed=$((late_failed + 1))
done
say "$writes writes at w=2 with $victim known down, $late_failed failed"
((late_failed == 0)) || fail "$late_failed of $writes writes at w=2 failed with one node of 5 down"
if [ -n "${DHT_DOCKER_STRICT:-}" ] && ((window_failed > 0)); then
  fail "$window_failed writes at w=2 failed before $victim was detected down (DHT_DOCKER_STRICT)"
fi
[ "$(get dht1 /admin/members | jq -r --arg id "$victim" '.members[] | select(.id == $id) | .owner')" = true ] ||
  fail "$victim stopped being an owner while down"
hints=$(for n in "${live[@]}"; do get "$n" /admin/status | jq --arg id "$victim" '.hints_pending[$id] // 0'; done | jq -s add)
say "hints kept for $victim across the live nodes: $hints"

# --- the node returns ---------------------------------------------------------------
say "docker start $victim"
start_ms=$(now_ms)
docker start "$victim_cid" >/dev/null
all_see_alive() {
  ready "$victim" || return 1
  local n
  for n in "${nodes[@]}"; do [ "$(alive_count "$n" 2>/dev/null)" = 5 ] || return 1; done
}
wait_until 60 "$victim ready and alive on every node" all_see_alive
rejoin_ms=$(($(now_ms) - start_ms))
say "$victim rejoined (ready, alive on all 5) in ${rejoin_ms}ms"

for n in "${nodes[@]}"; do
  sig=$(ring_sig "$n") || fail "cannot read the ring of $n"
  [ "$sig" = "$ring_before" ] || fail "ring changed on $n after the restart: $sig, was $ring_before"
done
version_after=$(get dht1 /admin/ring | jq .version)
say "ring unchanged on all 5 nodes ($ring_before, version $version_before -> $version_after)"

hints_left() {
  local n total=0 h
  for n in "${nodes[@]}"; do
    h=$(get "$n" /admin/status | jq '[.hints_pending[]] | add // 0') || return 1
    total=$((total + h))
  done
  echo "$total"
}
drained() { [ "$(hints_left)" = 0 ]; }

# First try: every acknowledged write read once (r=$first_r, 3 by default),
# through every node in turn (the returned one included), right after the
# node's return, while its hints may still be pending (the count when the
# pass begins is printed): what a client would see then.
first_reads=0
first_miss=0
first_err=0
missed=()
first_try() { # first_try NODE KEY VALUE
  local r
  r=$(read_once "$1" "$2" "$3" "r=$first_r")
  first_reads=$((first_reads + 1))
  case $r in
  hit) ;;
  miss)
    first_miss=$((first_miss + 1))
    missed+=("$2")
    say "first-try miss: $2 (r=$first_r through $1)"
    ;;
  *)
    first_err=$((first_err + 1))
    say "first-try read error: $2 (r=$first_r through $1): $r"
    ;;
  esac
}
first_hints=$(hints_left) || first_hints="?"
for i in "${!acked[@]}"; do
  key=${acked[$i]}
  first_try "${nodes[i % 5]}" "$key" "v-$key-$run_id"
done
first_try "$victim" greeting "$value"
say "first try after the rejoin ($first_hints hints pending when it began): $first_reads reads at r=$first_r, $first_miss misses, $first_err errors"

wait_until 90 "hints for $victim delivered" drained
drain_ms=$(($(now_ms) - start_ms))

# Lost: still missing once the hints have drained, after 5 tries at r=3.
lost=0
for i in "${!acked[@]}"; do
  key=${acked[$i]}
  read_is "${nodes[i % 5]}" "$key" "v-$key-$run_id" r=3 || { lost=$((lost + 1)); say "lost: $key"; }
done
read_is "$victim" greeting "$value" r=3 || { lost=$((lost + 1)); say "lost: greeting"; }
missed_found=0
for key in "${missed[@]}"; do
  if read_is dht1 "$key" "v-$key-$run_id" r=3; then missed_found=$((missed_found + 1)); fi
done
landed=0
for key in "${unsure[@]}"; do
  if read_is dht1 "$key" "v-$key-$run_id" r=3; then landed=$((landed + 1)); fi
done

echo
echo "=== docker suite: results"
printf '  %-50s %s\n' \
  "image build (s)" "$build_s" \
  "cluster formed: 5 ready, 5 alive, one ring (ms)" "$form_ms" \
  "$victim killed: down on every live node (ms)" "$down_ms" \
  "writes w=2 before detection" "$window" \
  "  acknowledged" "$((window - window_failed))" \
  "  failed (reported; fatal with DHT_DOCKER_STRICT)" "$window_failed" \
  "    of which timed out (503, indeterminate)" "${#unsure[@]}, of which landed: $landed" \
  "writes w=2 with $victim known down" "$writes" \
  "  acknowledged" "$((writes - late_failed))" \
  "first-try reads r=$first_r after rejoin" "$first_reads ($first_hints hints pending at the start)" \
  "  misses (404 or another value; reported)" "$first_miss (found after the drain: $missed_found)" \
  "  errors (no answer; reported)" "$first_err" \
  "acknowledged writes lost (after drain, 5 tries)" "$lost of $((${#acked[@]} + 1))" \
  "hints kept for $victim" "$hints" \
  "time to rejoin: ready, alive on all (ms)" "$rejoin_ms" \
  "hints drained after start (ms)" "$drain_ms" \
  "ring unchanged" "yes ($ring_before, version $version_before -> $version_after)" \
  "suite so far (s)" "$((SECONDS - suite_start))"
if ((window_failed > 0)); then
  echo
  echo "  note: writes whose coordinating replica (the key's first live owner) was the killed node"
  echo "  timed out (503, indeterminate) until gossip marked it down."
fi
if ((first_miss > 0)); then
  echo
  echo "  note: $first_miss acknowledged writes did not read back on the first r=$first_r try after the node's return"
  echo "  (before its hints drained); $missed_found of them read back after the drain."
fi
echo
((lost == 0)) || fail "$lost acknowledged writes lost"
if [ -n "${DHT_DOCKER_STRICT:-}" ] && ((first_miss > 0)); then
  fail "$first_miss first-try misses at r=$first_r after the rejoin (DHT_DOCKER_STRICT)"
fi
