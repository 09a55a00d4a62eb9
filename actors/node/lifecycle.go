package node

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/dhtkv/dht/actors/topology"
	"github.com/dhtkv/dht/cluster/certs"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/ring"
	"github.com/dhtkv/dht/events"
	"github.com/dhtkv/dht/internal/topo"
)

// Retired is closed once this node was removed from the ring (dhtctl
// decommission) and has handed all its data over; it has then left gossip,
// and the daemon exits.
func (n *Node) Retired() <-chan struct{} { return n.retired }

func (n *Node) onRetired() {
	n.retire.Do(func() {
		n.stopping.Store(true)
		n.logger.Info("decommissioned: every partition is with its new owners; leaving the cluster")
		n.events.Publish(events.Event{Kind: events.MemberLeave, Subject: n.cfg.Node.ID, Detail: "decommissioned and handed over"})
		if agent := n.agent.Load(); agent != nil {
			if err := agent.Leave(); err != nil {
				n.logger.Warn("leaving gossip", "err", err)
			}
		}
		close(n.retired)
	})
}

// Unready makes /readyz answer 503 from now on while the node keeps
// serving: the first step of a graceful stop, which gives a load balancer
// the time to stop sending requests (http.lame_duck) before the node
// leaves.
func (n *Node) Unready() { n.ready.Store(false) }

// LeaveGossip tells the cluster this node is stopping: peers mark it left
// at once, instead of suspecting it for seconds after it stops answering,
// and take a lost connection to it as planned. It stays an owner of its
// partitions (a stop is not a decommission: hints are kept for it) and
// rejoins when it starts again. Stop follows; without LeaveGossip, Stop
// is a crash as peers see it.
func (n *Node) LeaveGossip() {
	n.ready.Store(false)
	n.stopping.Store(true)
	if agent := n.agent.Load(); agent != nil {
		n.logger.Info("leaving gossip: peers see this node stop")
		if err := agent.Leave(); err != nil {
			n.logger.Warn("leaving gossip", "err", err)
		}
	}
}

// plannedDisconnect reports whether losing the connection to the peer at
// the remote address addr is expected: this node is stopping, or the peer
// left gossip (a clean stop, the end of a decommission) or was removed
// from the ring.
func (n *Node) plannedDisconnect(addr string) bool {
	if n.stopping.Load() {
		return true
	}
	agent := n.agent.Load()
	if agent == nil {
		return false
	}
	for _, m := range agent.Members() {
		if m.RemoteAddr != addr {
			continue
		}
		if m.Status == membership.StatusLeft || m.Status == membership.StatusLeaving {
			return true
		}
		if snap := n.view.Load(); snap != nil {
			if e, ok := snap.State.Entry(m.ID); ok && e.Removed() && !snap.Plan.Involved(m.ID) {
				return true
			}
		}
	}
	return false
}

// Stop drains HTTP until ctx ends, stops the actors, and closes storage.
func (n *Node) Stop(ctx context.Context) error {
	n.ready.Store(false)
	n.stopping.Store(true)
	var errs []error
	if n.gw != nil {
		if err := n.gw.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("node: drain http: %w", err))
		}
	}
	return errors.Join(append(errs, n.closeAll())...)
}

// closeAll stops whatever Start got running. Gossip stops without leaving
// unless LeaveGossip ran: either way a stopped node keeps its place in the
// ring, and peers mark it down.
func (n *Node) closeAll() error {
	if n.cancelJoin != nil {
		n.cancelJoin()
		n.joining.Wait()
	}
	if agent := n.agent.Load(); agent != nil {
		_ = agent.Shutdown()
	}
	if n.remote != nil {
		remoteLifecycle.Lock()
		n.remote.Shutdown(false)
		remoteLifecycle.Unlock()
	}
	if n.system != nil {
		if n.pid != nil {
			// StopFuture returns once the node actor and all its children
			// have stopped, so no vnode is mid-write when storage closes.
			_ = n.system.Root.StopFuture(n.pid).Wait()
		}
		n.system.Shutdown()
	}
	if n.pool != nil {
		n.pool.Close()
	}
	for _, ln := range []net.Listener{n.httpLn, n.metricsLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	for _, st := range []*certs.Store{n.peerTLS, n.apiTLS} {
		if st != nil {
			st.Close()
		}
	}
	if n.engine != nil {
		if err := n.engine.Close(); err != nil {
			return fmt.Errorf("node: close storage: %w", err)
		}
	}
	return nil
}

// readiness is what /readyz reports: storage open and actors running, the
// node has joined (a seed answered, or it started a new cluster), it knows
// a ring in which it owns replicas, and the live peers gossip reports route
// by that ring (see agreed).
func (n *Node) readiness() error {
	if !n.ready.Load() {
		return errors.New("starting or stopping")
	}
	if !n.joined.Load() {
		return errors.New("not joined: no seed has answered yet")
	}
	snap := n.view.Load()
	if snap == nil || len(snap.Table.Replicas) == 0 || !snap.State.Owner(n.cfg.Node.ID) {
		return errors.New("no ring known yet")
	}
	if err := n.rejoinPending(snap); err != nil {
		return err
	}
	if err := n.ringStale(); err != nil {
		return fmt.Errorf("the cluster's ring has not reached this node yet: %w", err)
	}
	if !n.cfg.Standalone() && !n.handoff.Checked() {
		return errors.New("handoff has not yet compared this node's data with the ring")
	}
	return n.agreed(snap)
}

// ringStale reports whether the ring this node routes by may be older
// than the cluster's: it has not merged a peer's ring since it started
// while a peer is alive to give it one (the gateway's RingStale). A node
// alone keeps serving by the ring it has: that is what keeps it writable.
func (n *Node) ringStale() error {
	snap := n.view.Load()
	if snap == nil || snap.Synced || !n.hasAlivePeer() {
		return nil
	}
	return errors.New("it has not merged a live peer's ring since it started")
}

// rejoinPending holds readiness while a node restarted without seeds, on a
// ring that names other owners, waits for serf to rejoin the peers it knew:
// serf does that from its snapshot in the background, so without this wait
// the node would be ready in the moment before, and then, once a peer is
// alive, refuse requests until it has merged that peer's ring (ringStale).
// The wait ends when a peer is alive (ringStale then waits for its ring) or
// after cluster.ready_agreement_wait, when the node serves alone by the
// ring it stored: its peers may all be down, and it stays writable.
func (n *Node) rejoinPending(snap *topology.Snapshot) error {
	if snap.Synced || len(n.cfg.SeedList()) > 0 || n.hasAlivePeer() {
		return nil
	}
	return topo.RejoinWait(n.cfg.Node.ID, snap.State.Owners(), n.now().Sub(n.gossipStarted), n.cfg.Cluster.ReadyAgreementWait)
}

// agreed asks topo.Agreement whether the live peers gossip reports announce
// the ring of snap, the one this node routes by: a client that waits for
// every node's readiness must find every node sending writes to the same
// owners. The agreement waits a bounded time, then lets the node be ready
// and logs why it was not; once reached it stays for the run.
func (n *Node) agreed(snap *topology.Snapshot) error {
	var peers []topo.Peer
	if agent := n.agent.Load(); agent != nil {
		for _, m := range agent.Members() {
			peers = append(peers, topo.Peer{
				ID: m.ID, RemoteAddr: m.RemoteAddr, Alive: m.Status == membership.StatusAlive, Ring: m.Ring,
				Shape: ring.Shape{Cluster: m.Cluster, Partitions: m.Partitions, N: m.N},
			})
		}
	}
	n.agreement.Lock()
	logs, err := n.agreement.a.Check(n.now(), topo.MarkOf(snap.State), peers)
	n.agreement.Unlock()
	for _, l := range logs {
		n.logger.Log(context.Background(), l.Level, l.Msg, l.Args...)
	}
	return err
}
