# dht — build, run, test. `make help` lists the targets.

SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin

# Pinned code-generation tools, installed into ./bin by `make tools`.
BUF_VERSION           := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12

# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 20s

IMAGE ?= dht:dev

.PHONY: help build run test test-short lint layers fmt vet tidy-check proto proto-check tools fuzz bench bench-short bench-profile bench-go bench-lint sim scale scale-short clean image examples-test ui-test docker-test helm-test helm-boot-test chaos chaos-short

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# VERSION is stamped into the binaries (dhtd --version, dhtctl version,
# dht_build_info): the nearest tag and the commits since, from git. The go
# command records the commit itself when it can (not with
# GOFLAGS=-buildvcs=false, nor outside a checkout); an empty VERSION leaves
# the version to it.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)

build: ## build dhtd and dhtctl into ./bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X github.com/dhtkv/dht/buildinfo.version=$(VERSION)" -o $(BIN)/ ./cmd/dhtd ./cmd/dhtctl

run: build ## run a local 3-node cluster with data under ./.run (DHT_RUN_TLS=1: with TLS), and print how to use it
	@scripts/run-local.sh

# test/process runs its multi-process tests with race-built daemons, the
# rebuild of a wiped node over 100,000 keys among them: on 2 cores the
# package takes 15-25 minutes, so the limit leaves room above that.
# Every package, test/cluster included: its TestMain leaves out the one race
# of several protoactor remotes in one process, inside the libraries
# (test/cluster/race.supp, docs/design-notes.md).
test: ## unit, property, in-process and multi-process tests, with the race detector
	$(GO) test -race -count=1 -timeout 35m ./...

test-short: ## the tests without the race detector (faster while editing)
	$(GO) test -count=1 ./...

lint: fmt vet tidy-check proto-check layers ## gofmt, go vet, go mod tidy, stale generated code, the purity and layering rules

# internal/lint: pure packages import no actor, I/O, storage or generated
# code and read no clock; imports run down the floors; only actors/node is
# imported from outside actors/.
layers:
	$(GO) test -count=1 ./internal/lint

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

tidy-check:
	$(GO) mod tidy -diff

tools: $(BIN)/buf $(BIN)/protoc-gen-go ## install the pinned code generators into ./bin

$(BIN)/buf:
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

proto: tools ## regenerate messages/*.pb.go from messages/*.proto
	cd messages && PATH=$(BIN):$$PATH $(BIN)/buf lint && PATH=$(BIN):$$PATH $(BIN)/buf generate

# proto-check regenerates into a scratch copy and fails if the committed code
# differs, so a .proto edit without `make proto` cannot land.
proto-check: tools
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	cp messages/*.proto messages/buf.yaml messages/buf.gen.yaml $$tmp/ && \
	(cd $$tmp && PATH=$(BIN):$$PATH $(BIN)/buf lint && PATH=$(BIN):$$PATH $(BIN)/buf generate) && \
	for f in $$tmp/*.pb.go; do \
	  diff -u messages/$$(basename $$f) $$f >/dev/null || { echo "messages/$$(basename $$f) is stale: run 'make proto'"; exit 1; }; \
	done && echo "generated code is up to date"

# Both modules: the server's, and bench/ (the YCSB record decoder).
fuzz: ## run every fuzz target of the server and bench modules for FUZZTIME each
	@set -e; for mod in . bench; do \
	  for pkg in $$(cd $$mod && $(GO) list ./...); do \
	    for f in $$(cd $$mod && $(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	      echo "== $$pkg $$f"; (cd $$mod && $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg); \
	    done; \
	  done; \
	done

# The YCSB comparison (docs/benchmarks.md): a separate Go module, bench/,
# keeps go-ycsb, etcd's client and the plotting library out of the server's
# go.mod. scripts/bench.sh fetches etcd from Debian's etcd-server package
# into ./bin. BENCH_FLAGS adds flags of `dhtbench compare`, e.g.
# BENCH_FLAGS='-note "quiet machine"' or '-systems dht-n3,etcd'.
bench: build ## YCSB against etcd, full profile (about 30 min on 2 cores): writes docs/benchmarks.md and docs/ycsb/
	scripts/bench.sh -profile full $(BENCH_FLAGS)

bench-short: build ## the same comparison, short profile (about 5 min), for CI-like runs
	scripts/bench.sh -profile short $(BENCH_FLAGS)

bench-profile: build ## CPU profile of a node of the 3-node cluster under YCSB workload A, into bin/profile
	scripts/bench-profile.sh $(BENCH_FLAGS)

bench-go: ## the Go micro-benchmarks (single-node pipeline, engines, dvv, claim, merkle)
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-lint: ## gofmt, go vet, tests and go mod tidy of the bench module
	@out=$$(gofmt -l bench); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./... && $(GO) mod tidy -diff

# The scale simulation (internal/sim, docs/scale.md): claim, plans, routing
# and the quorum machines at 100, 300 and 1,000 nodes, Q = 1,024 and 4,096,
# on a simulated clock and network, with a fixed seed. SIM_FLAGS adds flags
# of dhtsim: -steps for each run's steps, -seed N, -nodes, -partitions,
# -zones, -joins, -scenario "resize, join" for steps of your own.
sim: ## the 100/300/1,000-node simulation at Q = 1,024 and 4,096: a markdown table of movement, balance, zones, availability and settle times (about 30 s on 2 cores)
	$(GO) run ./test/sim/cmd/dhtsim $(SIM_FLAGS)

# Real dhtd processes on one machine (test/process/scale_test.go,
# docs/scale.md): in-memory nodes at Q = 256, N = 3, grown by joins 4 at a
# time and shrunk by decommissions under a light load; a markdown table of
# convergence, transfer time, movement, balance, gossip bytes, lost and
# false not-found per size. SCALE names the sizes (grow:shrink), SCALE_CHART
# the SVG written, SCALE_BATCH how many nodes join or leave at once: one by
# default; 4 joins 4 at a time (docs/scale.md tells of the false not-found
# that concurrent joins answered before they were fixed).
SCALE       ?= 3,16,32,64:32
SCALE_CHART ?= $(CURDIR)/docs/scale-processes-serial.svg
SCALE_BATCH ?= 1

scale: ## 3 -> 16 -> 32 -> 64 dhtd processes by joins, then 32 by decommissions, under load; prints the table and writes docs/scale-processes-serial.svg (about 20 min and 4 GiB on 2 cores; SCALE_BATCH=4: 11 min)
	DHT_SCALE=$(SCALE) DHT_SCALE_BATCH=$(SCALE_BATCH) DHT_SCALE_CHART=$(SCALE_CHART) $(GO) test -count=1 -v -timeout 60m -run '^TestScale_GrowShrink$$' ./test/process/

# The short version joins three nodes at once and decommissions two at
# once, so CI checks concurrent changes for loss, false not-found and
# movement against the ideal.
scale-short: ## the same at 3 -> 6 -> 4 nodes, three joins at once then two decommissions at once, as CI runs it (about 1.5 min)
	DHT_SCALE=3,6:4 DHT_SCALE_BATCH=3 $(GO) test -count=1 -v -timeout 10m -run '^TestScale_GrowShrink$$' ./test/process/

helm-test: ## lint and render the Helm chart; check it against config.yaml and dhtd's config loader; promtool on its alerts and dashboard
	scripts/helm.sh version --short
	scripts/promtool.sh --version
	cd test/helm && HELM=$(BIN)/helm $(GO) vet ./... && HELM=$(BIN)/helm PROMTOOL=$(BIN)/promtool $(GO) test -count=1 ./...

# The chart boots: the rendered StatefulSet's pods as 3 containers of $(IMAGE)
# (test/helm/boot_test.go). Needs Docker; about half a minute after the image.
helm-boot-test: image ## boot the rendered chart as containers of $(IMAGE): one ring, quorum write and read
	scripts/helm.sh version --short
	cd test/helm && HELM=$(BIN)/helm DHT_BOOT_IMAGE=$(IMAGE) $(GO) test -count=1 -v -timeout 5m -run '^TestChart_Boots$$' .

image: ## build static dhtd and dhtctl and the FROM scratch image $(IMAGE)
	DHT_IMAGE=$(IMAGE) scripts/image.sh

# The dashboard in a real browser (test/ui): headless Chromium, from
# Debian's chromium package, driven by chromedp against dhtd processes. A
# module of its own, so that chromedp stays out of the server's go.mod and
# `make test` needs no browser. Screenshots go to test/ui/screenshots/.
ui-test: build ## the web dashboard (/ui) in headless Chromium against a cluster of dhtd processes: ring, join, crash, force-remove, admin token, and rendering against a fake API (needs chromium; about 40 s)
	@command -v chromium >/dev/null || command -v google-chrome >/dev/null || [ -n "$$CHROME" ] || { echo "ui-test needs Chromium: apt-get install chromium (or set CHROME)"; exit 1; }
	@out=$$(gofmt -l test/ui); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	cd test/ui && $(GO) vet ./... && $(GO) mod tidy -diff
	cd test/ui && DHTD_BINARY=$(BIN)/dhtd $(GO) test -count=1 -v -timeout 5m ./...

examples-test: build ## run the make run banner's and the README's examples as written against fresh local clusters, plain and TLS (curl, jq; about a minute)
	test/examples/run.sh

docker-test: ## docker suite: image, 5-node compose cluster, quorum I/O, kill and restart a node
	DHT_IMAGE=$(IMAGE) test/docker/run.sh

# The fault-injection suite (test/chaos): 5 dhtd processes (built with
# -tags chaos) in network namespaces on a private bridge, faults injected
# while numbered clients record a history, then a checker over it. Needs
# root, ip and iptables. CHAOS_FLAGS adds flags: -seed N to replay,
# -scenarios a,b, -keep, -faults 60s, -race.
chaos: ## fault-injection suite: every scenario at length, then the lww self-test (root; about 20 minutes)
	$(GO) build -o $(BIN)/dhtchaos ./test/chaos/cmd/dhtchaos
	$(BIN)/dhtchaos $(CHAOS_FLAGS)

chaos-short: ## the fault-injection suite's short version, as CI runs it (root; about 5 minutes)
	$(GO) build -o $(BIN)/dhtchaos ./test/chaos/cmd/dhtchaos
	$(BIN)/dhtchaos -short $(CHAOS_FLAGS)

clean: ## remove build output and local run data
	rm -rf $(BIN) .run
