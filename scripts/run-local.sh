#!/usr/bin/env bash
# Runs a local 3-node dht cluster on loopback, each node with its data on
# disk (badger) under ./.run/nodeN, prints how to use it, and stops the
# nodes on Ctrl-C. Used by `make run`. Data survives for the next run.
#
# The nodes share a context secret (security.context_secret), made on the
# first run and kept in ./.run/context_secret, so that the contexts clients
# hold stay valid across runs. With DHT_RUN_TLS=1 the cluster runs with TLS:
# mutual TLS between nodes and HTTPS on the API, with a development CA and
# node certificates that `dhtctl certs` makes once under ./.run/tls.
set -euo pipefail
cd "$(dirname "$0")/.."

base=${DHT_RUN_DIR:-.run}
nodes=${DHT_RUN_NODES:-3}
http0=${DHT_RUN_HTTP_PORT:-8080}
gossip0=${DHT_RUN_GOSSIP_PORT:-7946}
remote0=${DHT_RUN_REMOTE_PORT:-7070}
run_tls=${DHT_RUN_TLS:-0}

mkdir -p "$base"
secret_file="$base/context_secret"
if [ ! -s "$secret_file" ]; then
  (umask 077 && head -c32 /dev/urandom | base64 >"$secret_file")
fi
secret=$(cat "$secret_file")

scheme=http
tlsdir="$base/tls"
curl_tls=()
if [ "$run_tls" = 1 ]; then
  scheme=https
  curl_tls=(--cacert "$tlsdir/ca.crt")
  missing=()
  for i in $(seq 1 "$nodes"); do
    if [ ! -f "$tlsdir/node$i.crt" ]; then missing+=("node$i"); fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    # Reuses the CA in $tlsdir when there is one.
    ./bin/dhtctl certs --dir "$tlsdir" --nodes "$(IFS=,; echo "${missing[*]}")" --hosts 127.0.0.1,localhost
  fi
fi

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
  # Every node seeds the others, as the chart's pods do: a node whose data
  # was wiped then rejoins the cluster (and is rebuilt) rather than start a
  # ring of its own, whichever node it is.
  seeds=""
  for j in $(seq 1 "$nodes"); do
    if [ "$j" -ne "$i" ]; then seeds="${seeds:+$seeds,}127.0.0.1:$((gossip0 + j - 1))"; fi
  done
  tls_args=()
  if [ "$run_tls" = 1 ]; then
    tls_args=(
      --cluster.tls.ca_file "$tlsdir/ca.crt"
      --cluster.tls.cert_file "$tlsdir/node$i.crt" --cluster.tls.key_file "$tlsdir/node$i.key"
      --http.tls.cert_file "$tlsdir/node$i.crt" --http.tls.key_file "$tlsdir/node$i.key"
    )
  fi
  DHT_SECURITY_CONTEXT_SECRET="$secret" ./bin/dhtd \
    --node.id "node$i" \
    --node.data_dir "$dir/data" \
    --http.listen "127.0.0.1:$((http0 + i - 1))" \
    --cluster.gossip_listen "127.0.0.1:$((gossip0 + i - 1))" \
    --cluster.remote_listen "127.0.0.1:$((remote0 + i - 1))" \
    --cluster.seeds "$seeds" \
    --log.format text \
    ${tls_args[@]+"${tls_args[@]}"} \
    >"$dir/dhtd.log" 2>&1 &
  pids+=($!)
done

for i in $(seq 1 "$nodes"); do
  port=$((http0 + i - 1))
  for _ in $(seq 1 150); do
    if curl -fsS ${curl_tls[@]+"${curl_tls[@]}"} "$scheme://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
      echo "node$i exited; its log:"; cat "$base/node$i/dhtd.log"; exit 1
    fi
    sleep 0.2
  done
done

if [ "$run_tls" = 1 ]; then
  cat <<MSG
dht is running with TLS: $nodes nodes on loopback, N=3 R=2 W=2, badger data under $base/nodeN/data,
logs in $base/nodeN/dhtd.log. HTTPS ports $http0..$((http0 + nodes - 1)); mutual TLS between the nodes.
CA and node certificates in $tlsdir ('./bin/dhtctl certs --help').

  export DHTCTL_ADDR=https://127.0.0.1:$http0    # any node will do
  export DHTCTL_CACERT=$tlsdir/ca.crt        # the CA that signed the nodes' certificates
  ./bin/dhtctl members                        # the cluster as gossip and the ring see it
  ./bin/dhtctl ring --summary                 # replicas per node; 'dhtctl ring' lists every partition
  ./bin/dhtctl put greeting "hello" --if-none-match   # creates it, prints its context and ETag (412: it exists)
  ./bin/dhtctl --addr https://127.0.0.1:$((http0 + 1)) get greeting  # read it through another node
  curl -i --cacert $tlsdir/ca.crt https://127.0.0.1:$http0/v1/kv/greeting
  curl -i --cacert $tlsdir/ca.crt -X PUT -H 'Content-Type: text/plain' -H 'If-None-Match: *' --data 'hi' 'https://127.0.0.1:$http0/v1/kv/welcome?w=3'
                                              # another key, created at w=3; a write to an existing key sends
                                              # back its X-Dht-Context, or it becomes one more sibling
  curl -s --cacert $tlsdir/ca.crt https://127.0.0.1:$http0/metrics | grep '^dht_'
  ./bin/dhtctl events -f                      # joins, failures, ring changes, handoffs as they happen

Web dashboard (ring, members, transfers, metrics, events): $scheme://127.0.0.1:$http0/ui

Grow and shrink it (in another terminal):
  ./bin/dhtctl certs --dir $tlsdir --nodes node$((nodes + 1)) --hosts 127.0.0.1,localhost
  DHT_SECURITY_CONTEXT_SECRET=\$(cat $secret_file) \\
  ./bin/dhtd --node.id node$((nodes + 1)) --node.data_dir $base/node$((nodes + 1))/data \\
    --http.listen 127.0.0.1:$((http0 + nodes)) --cluster.gossip_listen 127.0.0.1:$((gossip0 + nodes)) \\
    --cluster.remote_listen 127.0.0.1:$((remote0 + nodes)) --cluster.seeds 127.0.0.1:$gossip0 \\
    --cluster.tls.ca_file $tlsdir/ca.crt --cluster.tls.cert_file $tlsdir/node$((nodes + 1)).crt \\
    --cluster.tls.key_file $tlsdir/node$((nodes + 1)).key \\
    --http.tls.cert_file $tlsdir/node$((nodes + 1)).crt --http.tls.key_file $tlsdir/node$((nodes + 1)).key
  ./bin/dhtctl status                         # partitions to receive, transfers running, ETA
  ./bin/dhtctl decommission node$((nodes + 1))            # it hands its replicas back, then exits

Press Ctrl-C to stop. Data, certificates and the context secret stay in $base for the next 'DHT_RUN_TLS=1 make run'.
MSG
else
  cat <<MSG
dht is running: $nodes nodes on loopback, N=3 R=2 W=2, badger data under $base/nodeN/data,
logs in $base/nodeN/dhtd.log. HTTP ports $http0..$((http0 + nodes - 1)).

  export DHTCTL_ADDR=http://127.0.0.1:$http0     # any node will do
  ./bin/dhtctl members                        # the cluster as gossip and the ring see it
  ./bin/dhtctl ring --summary                 # replicas per node; 'dhtctl ring' lists every partition
  ./bin/dhtctl put greeting "hello" --if-none-match   # creates it, prints its context and ETag (412: it exists)
  ./bin/dhtctl --addr http://127.0.0.1:$((http0 + 1)) get greeting   # read it through another node
  curl -i http://127.0.0.1:$http0/v1/kv/greeting
  curl -i -X PUT -H 'Content-Type: text/plain' -H 'If-None-Match: *' --data 'hi' 'http://127.0.0.1:$http0/v1/kv/welcome?w=3'
                                              # another key, created at w=3; a write to an existing key sends
                                              # back its X-Dht-Context, or it becomes one more sibling
  curl -s http://127.0.0.1:$http0/metrics | grep '^dht_'
  ./bin/dhtctl events -f                      # joins, failures, ring changes, handoffs as they happen

Web dashboard (ring, members, transfers, metrics, events): $scheme://127.0.0.1:$http0/ui

Grow and shrink it (in another terminal):
  DHT_SECURITY_CONTEXT_SECRET=\$(cat $secret_file) \\
  ./bin/dhtd --node.id node$((nodes + 1)) --node.data_dir $base/node$((nodes + 1))/data \\
    --http.listen 127.0.0.1:$((http0 + nodes)) --cluster.gossip_listen 127.0.0.1:$((gossip0 + nodes)) \\
    --cluster.remote_listen 127.0.0.1:$((remote0 + nodes)) --cluster.seeds 127.0.0.1:$gossip0
  ./bin/dhtctl status                         # partitions to receive, transfers running, ETA
  ./bin/dhtctl decommission node$((nodes + 1))            # it hands its replicas back, then exits

Press Ctrl-C to stop. Data stays in $base for the next 'make run'.
MSG
fi
wait
