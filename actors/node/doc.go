// Package node assembles one store node and orders its lifecycle. Start
// runs the steps in the order a node comes up, each a method of its own:
//
//  1. openStorage (storage.go): the engine under node.data_dir, and the dot
//     minter whose replica identity lives in it;
//  2. openListeners (node.go): the certificates, the API and metrics ports;
//  3. startActorSystem (spawn.go): the actor system, its dispatcher pool,
//     and the remote port behind the remote guard;
//  4. spawnActors (spawn.go): every actor's config, then the node actor
//     (nodeactor.go), which spawns one vnode per partition, the topology,
//     hint-queue, anti-entropy and handoff actors and the gateway; Start
//     waits for the first ring;
//  5. startMembership (membership.go): serf gossip, whose events one
//     goroutine turns into messages to the topology actor, and the join.
//
// cluster.go adapts the topology snapshot for the coordinator (routes) and
// the admin API; security.go holds the remote guard's wiring, TLS and the
// MAC of cluster commands; lifecycle.go stops the node and reports
// readiness.
//
// Readiness (/readyz) means the node can serve and agrees with its peers:
// storage open and actors running, joined, a ring in which it owns
// replicas, merged from a peer when a peer is alive (a node restarted
// without seeds first waits, at most cluster.ready_agreement_wait, for
// gossip to rejoin the peers its ring names), its data compared
// with that ring by handoff, and every peer gossip sees alive announcing
// the ring this node routes by. The topology actor announces each new
// ring's mark (topo.RingMark) in gossip's tags after publishing it
// (announceRing); readiness asks topo.Agreement, under a mutex since
// probes come on many goroutines, whether the peers' marks match, waiting
// at most cluster.ready_agreement_wait before it reports ready anyway and
// logs which peers disagree. Once agreed, a node stays so for its run.
//
// Start and Stop are the node's lifecycle for cmd/dhtd and for the
// in-process test harness; both are called from one goroutine. Stop drains
// HTTP first, so requests in flight complete, then stops the actors, then
// closes storage, so no actor writes to a closed engine.
package node
