#!/usr/bin/env bash
# Runs a local dht node on loopback with its data on disk (badger) under
# ./.run, prints how to use it, and stops it on Ctrl-C. Used by `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."

base=${DHT_RUN_DIR:-.run}
http_port=${DHT_RUN_HTTP_PORT:-8080}
mkdir -p "$base/node1"

./bin/dhtd \
  --node.id node1 \
  --node.data_dir "$base/node1/data" \
  --http.listen "127.0.0.1:$http_port" \
  --replication.n 1 --replication.r 1 --replication.w 1 \
  --log.format text \
  >"$base/node1/dhtd.log" 2>&1 &
pid=$!
cleanup() { echo; echo "stopping node1 (pid $pid)"; kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 0' INT TERM

for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 $pid 2>/dev/null; then echo "dhtd exited; its log:"; cat "$base/node1/dhtd.log"; exit 1; fi
  sleep 0.1
done

cat <<MSG
dht is running: 1 node, badger storage under $base/node1/data, log in $base/node1/dhtd.log

  export DHTCTL_ADDR=http://127.0.0.1:$http_port
  ./bin/dhtctl put greeting "hello"          # prints the new context
  ./bin/dhtctl get greeting                  # value on stdout, context on stderr
  curl -i http://127.0.0.1:$http_port/v1/kv/greeting
  curl -i -X PUT -H 'Content-Type: text/plain' --data 'hi' http://127.0.0.1:$http_port/v1/kv/greeting
  curl http://127.0.0.1:$http_port/metrics | grep dht_

Press Ctrl-C to stop. Data stays in $base for the next 'make run'.
MSG
wait $pid
