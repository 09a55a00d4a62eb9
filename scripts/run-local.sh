#!/usr/bin/env bash
# Runs a local 3-node dht cluster on loopback, each node with its data on
# disk (badger) under ./.run/nodeN, prints how to use it, and stops the
# nodes on Ctrl-C. Used by `make run`. Data survives for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."

base=${DHT_RUN_DIR:-.run}
nodes=${DHT_RUN_NODES:-3}
http0=${DHT_RUN_HTTP_PORT:-8080}
gossip0=${DHT_RUN_GOSSIP_PORT:-7946}
remote0=${DHT_RUN_REMOTE_PORT:-7070}

pids=()
cleanup() {
  echo
  for i in "${!pids[@]}"; do
    echo "stopping node$((i + 1)) (pid ${pids[$i]})"
    kill -TERM "${pids[$i]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

for i in $(seq 1 "$nodes"); do
  dir="$base/node$i"
  mkdir -p "$dir"
  seeds=""
  if [ "$i" -gt 1 ]; then seeds="127.0.0.1:$gossip0"; fi
  ./bin/dhtd \
    --node.id "node$i" \
    --node.data_dir "$dir/data" \
    --http.listen "127.0.0.1:$((http0 + i - 1))" \
    --cluster.gossip_listen "127.0.0.1:$((gossip0 + i - 1))" \
    --cluster.remote_listen "127.0.0.1:$((remote0 + i - 1))" \
    --cluster.seeds "$seeds" \
    --log.format text \
    >"$dir/dhtd.log" 2>&1 &
  pids+=($!)
done

for i in $(seq 1 "$nodes"); do
  port=$((http0 + i - 1))
  for _ in $(seq 1 150); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
      echo "node$i exited; its log:"; cat "$base/node$i/dhtd.log"; exit 1
    fi
    sleep 0.2
  done
done

cat <<MSG
dht is running: $nodes nodes on loopback, N=3 R=2 W=2, badger data under $base/nodeN/data,
logs in $base/nodeN/dhtd.log. HTTP ports $http0..$((http0 + nodes - 1)).

  export DHTCTL_ADDR=http://127.0.0.1:$http0     # any node will do
  ./bin/dhtctl members                        # the cluster as gossip and the ring see it
  ./bin/dhtctl ring --summary                 # replicas per node; 'dhtctl ring' lists every partition
  ./bin/dhtctl put greeting "hello"           # prints the new context
  ./bin/dhtctl --addr http://127.0.0.1:$((http0 + 1)) get greeting   # read it through another node
  curl -i http://127.0.0.1:$http0/v1/kv/greeting
  curl -i -X PUT -H 'Content-Type: text/plain' --data 'hi' 'http://127.0.0.1:$http0/v1/kv/greeting?w=3'
  curl -s http://127.0.0.1:$http0/metrics | grep '^dht_'
  ./bin/dhtctl events -f                      # joins, failures, ring changes, handoffs as they happen

Grow and shrink it (in another terminal):
  ./bin/dhtd --node.id node$((nodes + 1)) --node.data_dir $base/node$((nodes + 1))/data \\
    --http.listen 127.0.0.1:$((http0 + nodes)) --cluster.gossip_listen 127.0.0.1:$((gossip0 + nodes)) \\
    --cluster.remote_listen 127.0.0.1:$((remote0 + nodes)) --cluster.seeds 127.0.0.1:$gossip0
  ./bin/dhtctl status                         # partitions to receive, transfers running, ETA
  ./bin/dhtctl decommission node$((nodes + 1))            # it hands its replicas back, then exits

Press Ctrl-C to stop. Data stays in $base for the next 'make run'.
MSG
wait
