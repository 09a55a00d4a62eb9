#!/usr/bin/env bash
# Builds the dht container image: static dhtd and dhtctl (CGO_ENABLED=0)
# into bin/image/, then `docker build --target prebuilt` of the FROM scratch
# Dockerfile (its stage that compiles from source is never reached). No base
# image is pulled. Used by `make image` and the docker suite.
#
#   scripts/image.sh              # tags dht:dev
#   DHT_IMAGE=dht:1.2 scripts/image.sh
#   scripts/image.sh dht:1.2      # the same
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:-${DHT_IMAGE:-dht:dev}}
out=bin/image   # fixed: the Dockerfile and .dockerignore name it
go=${GO:-go}

rm -rf "$out"
mkdir -p "$out/data"   # stays empty: becomes the image's /data, owned by 65532
echo "building static dhtd and dhtctl into $out/"
CGO_ENABLED=0 "$go" build -trimpath -ldflags='-s -w' -o "$out/" ./cmd/dhtd ./cmd/dhtctl

# A scratch image has no loader: refuse anything dynamically linked.
for b in dhtd dhtctl; do
  if command -v file >/dev/null && file "$out/$b" | grep -q 'dynamically linked'; then
    echo "$out/$b is dynamically linked; it would not run FROM scratch" >&2
    exit 1
  fi
done

echo "building image $image"
docker build -q --target prebuilt -t "$image" . >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$image")
echo "image $image: $(docker image inspect -f '{{.Id}}' "$image" | cut -c8-19), $((size / 1024 / 1024)) MiB ($size bytes)"
