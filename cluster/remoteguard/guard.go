package remoteguard

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/dhtkv/dht/cluster/certs"
)

// receiveMethod is protoactor's one stream RPC; nothing else is served.
const receiveMethod = "/remote.Remoting/Receive"

// DefaultLogInterval bounds the guard's log lines per peer.
const DefaultLogInterval = 10 * time.Second

// Config configures a Guard.
type Config struct {
	// LocalAddress returns this node's actor address; every target must be
	// there. Called per stream, once the remote has started.
	LocalAddress func() string
	// NodeAt returns the id of the member gossip knows at an actor
	// address, if any.
	NodeAt func(remoteAddr string) (id string, ok bool)
	// AddressOf returns the actor address gossip knows for a node id, if
	// any.
	AddressOf func(id string) (addr string, ok bool)
	// MutualTLS says the server requires peer certificates (the node id is
	// then taken from them, and a stream without one is refused).
	MutualTLS bool
	// Stamp selects the target actor ids whose frames get PeerHeader.
	Stamp func(targetID string) bool
	// OnRefuse, when set, counts refusals (metrics).
	OnRefuse    func()
	LogInterval time.Duration
	Logger      *slog.Logger
}

// Guard is the remote port's pair of interceptors.
type Guard struct {
	cfg Config
	mu  struct {
		sync.Mutex
		logged map[string]*logState // by peer IP
	}
}

type logState struct {
	last       time.Time
	suppressed int
}

// New returns a guard for cfg.
func New(cfg Config) *Guard {
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = DefaultLogInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	g := &Guard{cfg: cfg}
	g.mu.logged = map[string]*logState{}
	return g
}

// ServerOptions installs the guard on a gRPC server (protoactor's
// remote.WithServerOptions).
func (g *Guard) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(g.Unary), grpc.ChainStreamInterceptor(g.Stream)}
}

// Unary refuses every unary RPC: protoactor's two (ListProcesses,
// GetProcessDiagnostics) panic, and nodes never call them.
func (g *Guard) Unary(ctx context.Context, _ any, info *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
	err := refuse("unary RPC %s is not served", info.FullMethod)
	g.logRefusal(ctx, "", err)
	return nil, status.Error(codes.Unimplemented, err.Error())
}

// Stream serves protoactor's Receive stream behind the frame checks, and
// turns a panic on the stream's goroutine into that stream's error.
func (g *Guard) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	if info.FullMethod != receiveMethod {
		err := refuse("stream RPC %s is not served", info.FullMethod)
		g.logRefusal(ss.Context(), "", err)
		return status.Error(codes.Unimplemented, err.Error())
	}
	gs := &guardedStream{ServerStream: ss, g: g, s: stream{local: g.cfg.LocalAddress(), stamp: g.cfg.Stamp}}
	if g.cfg.MutualTLS {
		id, err := peerNodeID(ss.Context())
		if err != nil {
			g.logRefusal(ss.Context(), "", err)
			return status.Error(codes.Unauthenticated, err.Error())
		}
		gs.certNode = id
	}
	defer func() {
		if p := recover(); p != nil {
			perr := fmt.Errorf("%w: recovered a panic in the actor remote's reader: %v", ErrRefused, p)
			g.logRefusal(ss.Context(), gs.s.peer, perr, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "malformed frame")
		}
	}()
	return handler(srv, gs)
}

// guardedStream checks each frame protoactor's reader receives.
type guardedStream struct {
	grpc.ServerStream
	g        *Guard
	s        stream
	certNode string // the node id of the peer's certificate (mutual TLS)
}

func (gs *guardedStream) RecvMsg(m any) error {
	if err := gs.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	msg, ok := m.(*remote.RemoteMessage)
	if !ok {
		return gs.refused(refuse("unexpected frame type %T", m))
	}
	var err error
	switch t := msg.MessageType.(type) {
	case *remote.RemoteMessage_ConnectRequest:
		err = gs.connect(t.ConnectRequest)
	case *remote.RemoteMessage_MessageBatch:
		if t.MessageBatch == nil {
			err = refuse("an empty message batch")
		} else {
			err = gs.s.checkBatch(t.MessageBatch)
		}
	default:
		err = refuse("frame %T is not sent by nodes", msg.MessageType)
	}
	if err != nil {
		return gs.refused(err)
	}
	return nil
}

func (gs *guardedStream) refused(err error) error {
	gs.g.logRefusal(gs.Context(), gs.s.peer, err)
	return status.Error(codes.PermissionDenied, err.Error())
}

// connect checks the peer's ConnectRequest: the address it claims must be
// its own, by its certificate (mutual TLS) or by where the connection
// comes from (plaintext, where the address is an IP).
func (gs *guardedStream) connect(c *remote.ConnectRequest) error {
	if gs.s.claimed != "" {
		return refuse("a second ConnectRequest on one stream")
	}
	sc := c.GetServerConnection()
	if sc == nil || sc.Address == "" {
		return refuse("a ConnectRequest without the peer's address")
	}
	addr := sc.Address
	if addr == gs.s.local {
		return refuse("the peer claims this node's own address %q", addr)
	}
	known, atAddr := "", false
	if gs.g.cfg.NodeAt != nil {
		known, atAddr = gs.g.cfg.NodeAt(addr)
	}
	if gs.g.cfg.MutualTLS {
		id := gs.certNode
		if atAddr && known != id {
			return refuse("the certificate names node %q, but %q is the address of %q", id, addr, known)
		}
		if gs.g.cfg.AddressOf != nil {
			if own, ok := gs.g.cfg.AddressOf(id); ok && own != addr {
				return refuse("the certificate names node %q, which is at %q, not %q", id, own, addr)
			}
		}
		gs.s.peer = id
	} else {
		if err := sameIP(gs.Context(), addr); err != nil {
			return err
		}
		if atAddr {
			gs.s.peer = known
		}
	}
	gs.s.claimed = addr
	return nil
}

// sameIP refuses a plaintext peer that claims an address other than the
// one it connects from: an IP must be that IP, a name must resolve to it.
// Without TLS this is the only proof of who a peer is, and it is only as
// good as the network (docs/security.md).
func sameIP(ctx context.Context, claimed string) error {
	host, _, err := net.SplitHostPort(claimed)
	if err != nil {
		return refuse("the claimed address %q is not host:port", clip(claimed))
	}
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return nil
	}
	from, err := netip.ParseAddrPort(p.Addr.String())
	if err != nil {
		return nil
	}
	var want []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		want = []netip.Addr{ip}
	} else {
		// A name (docker compose, a pod's DNS name): it must resolve to
		// where the connection comes from.
		lctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		want, err = net.DefaultResolver.LookupNetIP(lctx, "ip", host)
		cancel()
		if err != nil {
			return refuse("the claimed address %q does not resolve: %v", clip(claimed), err)
		}
	}
	for _, ip := range want {
		if ip.Unmap() == from.Addr().Unmap() {
			return nil
		}
	}
	return refuse("the peer claims address %q but connects from %s", clip(claimed), from.Addr())
}

// resolveTimeout bounds the look-up of a plaintext peer's claimed name.
const resolveTimeout = 2 * time.Second

// peerNodeID returns the node id of the peer's verified certificate.
func peerNodeID(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", refuse("no peer information on the stream")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return "", refuse("the peer presented no certificate")
	}
	id := certs.NodeID(info.State.PeerCertificates[0])
	if id == "" {
		return "", certs.ErrNoNodeID
	}
	return id, nil
}

// logRefusal logs a refusal at most once per peer IP per LogInterval.
func (g *Guard) logRefusal(ctx context.Context, node string, err error, extra ...any) {
	if g.cfg.OnRefuse != nil {
		g.cfg.OnRefuse()
	}
	from := "unknown"
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		from = p.Addr.String()
		if host, _, err := net.SplitHostPort(from); err == nil {
			from = host
		}
	}
	now := time.Now()
	g.mu.Lock()
	st := g.mu.logged[from]
	if st == nil {
		if len(g.mu.logged) > 4096 {
			// Bound the table against a sweep of source addresses.
			clear(g.mu.logged)
		}
		st = &logState{}
		g.mu.logged[from] = st
	}
	if !st.last.IsZero() && now.Sub(st.last) < g.cfg.LogInterval {
		st.suppressed++
		g.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	g.mu.Unlock()
	args := append([]any{"peer_ip", from, "peer_node", node, "reason", err.Error(), "refused_since_last_line", suppressed}, extra...)
	g.cfg.Logger.Warn("refused traffic on the remote port", args...)
}
