package node

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/dhtkv/dht/cluster/certs"
	"github.com/dhtkv/dht/cluster/membership"
	"github.com/dhtkv/dht/cluster/remoteguard"
	"github.com/dhtkv/dht/config"
	"github.com/dhtkv/dht/messages"
)

// remoteLifecycle serialises starting and stopping protoactor remotes in
// this process. Remote.Start sets gRPC's global logger every time, so two
// starts must not run at once. gRPC goroutines of remotes already running
// still read that logger unordered with the write, and no lock here can
// come before their read: one node per process never meets this, and the
// in-process harness, with many nodes, leaves exactly that race out of its
// -race runs (test/cluster/race.supp, docs/design-notes.md).
var remoteLifecycle sync.Mutex

// remoteSecurity is what startRemote needs to guard the remote port.
type remoteSecurity struct {
	// tls, when set, is the node's certificate store: mutual TLS.
	tls *certs.Store
	// agent is read by the guard to tell which member is at an address.
	agent   *atomic.Pointer[membership.Agent]
	cluster string
	refused prometheus.Counter
	logger  *slog.Logger
}

// startRemote starts protoactor's gRPC remote behind the remote guard, with
// mutual TLS when sec.tls is set. protoactor panics when it cannot listen;
// that is turned into an error naming the config key.
func startRemote(system *actor.ActorSystem, listen, advertise string, sec remoteSecurity) (r *remote.Remote, err error) {
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("node: cluster.remote_listen: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("node: cluster.remote_listen: %w", err)
	}
	guard := remoteguard.New(remoteguard.Config{
		LocalAddress: system.Address,
		NodeAt: func(addr string) (string, bool) {
			for _, m := range sec.members() {
				if m.RemoteAddr == addr {
					return m.ID, true
				}
			}
			return "", false
		},
		AddressOf: func(id string) (string, bool) {
			for _, m := range sec.members() {
				if m.ID == id && m.RemoteAddr != "" {
					return m.RemoteAddr, true
				}
			}
			return "", false
		},
		MutualTLS: sec.tls != nil,
		Stamp:     func(id string) bool { return id == nodeActorName+"/"+topologyName },
		OnRefuse:  sec.refused.Inc,
		Logger:    sec.logger.With("component", "remoteguard"),
	})
	serverOpts := guard.ServerOptions()
	opts := []remote.ConfigOption{
		// The default queue preallocates ~16 MB per peer.
		remote.WithEndpointWriterQueueSize(4096),
		remote.WithEndpointManagerQueueSize(4096),
	}
	if sec.tls != nil {
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(sec.tls.PeerServerConfig())))
		opts = append(opts, remote.WithDialOptions(grpc.WithTransportCredentials(credentials.NewTLS(sec.tls.PeerClientConfig()))))
	}
	opts = append(opts, remote.WithServerOptions(serverOpts...))
	if advertise != "" {
		opts = append(opts, remote.WithAdvertisedHost(advertise))
	}
	r = remote.NewRemote(system, remote.Configure(host, port, opts...))
	remoteLifecycle.Lock()
	defer remoteLifecycle.Unlock()
	defer func() {
		if p := recover(); p != nil {
			// The remote never started: nothing to shut down (its Shutdown
			// would stop a nil gRPC server).
			r, err = nil, fmt.Errorf("node: cluster.remote_listen %s: %v", listen, p)
		}
	}()
	r.Start()
	return r, nil
}

// members lists gossip's members of this cluster (none before membership
// starts).
func (sec remoteSecurity) members() []membership.Member {
	a := sec.agent.Load()
	if a == nil {
		return nil
	}
	var out []membership.Member
	for _, m := range a.Members() {
		if m.Cluster == sec.cluster {
			out = append(out, m)
		}
	}
	return out
}

// openTLS opens the certificate stores the config names: mutual TLS between
// nodes, and TLS on the HTTP API. Either may be nil (not configured).
func openTLS(cfg config.Config, logger *slog.Logger) (peer, api *certs.Store, err error) {
	if t := cfg.Cluster.TLS; t.Enabled() {
		peer, err = certs.Open(certs.Files{CA: t.CAFile, Cert: t.CertFile, Key: t.KeyFile}, certs.Options{Logger: logger.With("component", "tls", "use", "cluster")})
		if err != nil {
			return nil, nil, fmt.Errorf("node: cluster.tls: %w", err)
		}
		if id := certs.NodeID(peer.Current().Leaf); id != cfg.Node.ID {
			peer.Close()
			return nil, nil, fmt.Errorf("node: cluster.tls.cert_file names node %q (its subject CN), but this node is %q (node.id): peers would refuse it", id, cfg.Node.ID)
		}
	} else if !cfg.Standalone() {
		logger.Warn("the remote port is plaintext: anyone who can reach cluster.remote_listen can read and overwrite every key; set cluster.tls.ca_file, cert_file and key_file (docs/security.md)",
			"remote_listen", cfg.Cluster.RemoteListen)
	}
	if t := cfg.HTTP.TLS; t.Enabled() {
		api, err = certs.Open(certs.Files{CA: t.ClientCAFile, Cert: t.CertFile, Key: t.KeyFile}, certs.Options{Logger: logger.With("component", "tls", "use", "http")})
		if err != nil {
			if peer != nil {
				peer.Close()
			}
			return nil, nil, fmt.Errorf("node: http.tls: %w", err)
		}
	}
	if cfg.Security.ContextSecret == "" {
		logger.Warn("security.context_secret is empty: clients can forge causal contexts; set it to the same secret on every node (docs/security.md)")
	}
	return peer, api, nil
}

// apiTLSConfig is the HTTP API's TLS configuration, nil without one.
func apiTLSConfig(st *certs.Store) *tls.Config {
	if st == nil {
		return nil
	}
	return st.HTTPServerConfig()
}

// Operators' commands travel to every node in a serf user event besides
// ring gossip, so that all apply them at once. Gossip is authenticated by
// the remote port (remoteguard, ring.State.Admit); a user event is not, so
// it is accepted only under a MAC keyed by the cluster's context secret
// (commandEventMAC), or, with no secret and no TLS, as it comes (a cluster
// that trusts its network). With TLS but no secret, commands travel by
// gossip alone.
const (
	userEventCommand    = "dht-command"
	userEventCommandMAC = "dht-command-mac"
	commandMACSize      = sha256.Size
)

// errCommandMAC means a user event's command is not authenticated.
var errCommandMAC = errors.New("node: cluster command MAC does not verify under the context secret")

// commandKey derives the commands' MAC key from a context secret, apart
// from the context tokens' own key.
func commandKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("dht cluster command v1"))
	return m.Sum(nil)
}

// commandEvent returns the user event that carries c under cfg's rules; ""
// means the command is not broadcast.
func commandEvent(cfg config.Config, c *messages.ClusterCommand) (name string, payload []byte, err error) {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return "", nil, err
	}
	switch {
	case cfg.Security.ContextSecret != "":
		m := hmac.New(sha256.New, commandKey(cfg.Security.ContextSecret))
		m.Write(body)
		return userEventCommandMAC, append(m.Sum(nil), body...), nil
	case cfg.Cluster.TLS.Enabled():
		return "", nil, nil
	}
	return userEventCommand, body, nil
}

// commandFromEvent decodes a user event's command, checking its MAC under
// the current or the previous secret. ok is false for events of other
// kinds, and for commands cfg's rules do not accept.
func commandFromEvent(cfg config.Config, name string, payload []byte) (*messages.ClusterCommand, error) {
	var body []byte
	switch name {
	case userEventCommandMAC:
		if len(payload) < commandMACSize {
			return nil, errCommandMAC
		}
		sum, rest := payload[:commandMACSize], payload[commandMACSize:]
		verified := false
		for _, secret := range []string{cfg.Security.ContextSecret, cfg.Security.PreviousContextSecret} {
			if secret == "" {
				continue
			}
			m := hmac.New(sha256.New, commandKey(secret))
			m.Write(rest)
			if hmac.Equal(m.Sum(nil), sum) {
				verified = true
			}
		}
		if !verified {
			return nil, errCommandMAC
		}
		body = rest
	case userEventCommand:
		if cfg.Security.ContextSecret != "" || cfg.Cluster.TLS.Enabled() {
			return nil, errors.New("node: an unauthenticated cluster command, refused on a cluster with TLS or a context secret")
		}
		body = payload
	default:
		return nil, nil
	}
	var c messages.ClusterCommand
	if err := proto.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("node: unreadable cluster command: %w", err)
	}
	return &c, nil
}
