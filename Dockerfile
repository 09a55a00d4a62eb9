# The dhtd node image: static dhtd and dhtctl on an empty base.
#
# No base image can be pulled, so nothing is compiled in here: build the
# binaries first, then the image. scripts/image.sh (`make image`) does both:
#
#   CGO_ENABLED=0 go build -trimpath -o bin/image/ ./cmd/dhtd ./cmd/dhtctl
#   mkdir -p bin/image/data        # empty; becomes /data, owned by 65532
#   docker build -t dht:dev .
#
# The image has no shell, no /etc/passwd and no CA certificates; dhtd needs
# none of them. It runs as the numeric non-root user 65532. Every setting
# comes from flags or DHT_* variables (see config.yaml), for example
#   docker run dht:dev --node.id a --http.listen 0.0.0.0:8080 ...
FROM scratch

COPY bin/image/dhtd /dhtd
COPY bin/image/dhtctl /dhtctl
# An empty directory copied with --chown: there is no shell to mkdir/chown
# in a scratch image. A fresh named volume mounted here inherits the owner.
COPY --chown=65532:65532 bin/image/data /data

USER 65532:65532
WORKDIR /data
VOLUME /data

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

ENTRYPOINT ["/dhtd"]
