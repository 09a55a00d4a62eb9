# The dhtd node image: static dhtd and dhtctl on an empty base.
#
# Two ways to build it, both ending FROM scratch:
#
#   docker build -t dht:dev .
#       compiles from source in a Go build stage (GO_IMAGE, default
#       golang:1.26), so a fresh clone needs nothing else. It pulls that
#       base image and Go modules, so it needs a registry and the module
#       proxy.
#
#   make image            (scripts/image.sh)
#       compiles on the host and builds the target `prebuilt` from
#       bin/image/: nothing is pulled. This is how CI and machines without
#       a registry build it:
#         CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/image/ ./cmd/dhtd ./cmd/dhtctl
#         mkdir -p bin/image/data
#         docker build --target prebuilt -t dht:dev .
#
# The stages are in this order so that `--target prebuilt` never reaches the
# Go stage, with BuildKit or the classic builder.
#
# The image has no shell, no /etc/passwd and no CA certificates; dhtd needs
# none of them. It runs as the numeric non-root user 65532. Every setting
# comes from flags or DHT_* variables (see config.yaml), for example
#   docker run dht:dev --node.id a --http.listen 0.0.0.0:8080 ...
ARG GO_IMAGE=golang:1.26

FROM scratch AS base
USER 65532:65532
# No ENV defaults on purpose: DHT_* variables override the config file, so
# one here would silently beat a mounted config.yaml (the Helm chart's).
# Inside a container every listener must bind 0.0.0.0 (the built-in defaults
# are loopback), node.data_dir should be /data, and the *_advertise
# addresses must name an address peers can reach: docker-compose.yml shows
# a working set. With no flags the relative default ./data still lands on
# the volume, as /data/data.

# HTTP API (client, admin, probes, metrics)
EXPOSE 8080
# serf gossip: membership and failure detection
EXPOSE 7946/tcp 7946/udp
# protoactor remote (gRPC) between nodes
EXPOSE 7070
# dhtctl is in the image for this: exit 0 once /readyz answers 200.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/dhtctl", "--addr", "http://127.0.0.1:8080", "ready"]
ENTRYPOINT ["/dhtd"]

# prebuilt: the binaries `make image` compiled on the host.
FROM base AS prebuilt
COPY bin/image/dhtd /dhtd
COPY bin/image/dhtctl /dhtctl
# An empty directory copied with --chown: there is no shell to mkdir/chown
# in a scratch image. A fresh named volume mounted here inherits the owner.
COPY --chown=65532:65532 bin/image/data /data
# After the copy: a build step that changes a declared volume is discarded.
WORKDIR /data
VOLUME /data

# build: compiles the binaries from this checkout. Exec-form RUN needs no
# shell, so any image with a Go toolchain on its PATH will do as GO_IMAGE.
FROM ${GO_IMAGE} AS build
ENV CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN ["go", "mod", "download"]
COPY . .
RUN ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out/", "./cmd/dhtd", "./cmd/dhtctl"]
# WORKDIR creates the empty directory that becomes /data.
WORKDIR /out/data

# source (the default target): the image from the build stage's binaries.
FROM base AS source
COPY --from=build /out/dhtd /dhtd
COPY --from=build /out/dhtctl /dhtctl
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
VOLUME /data
