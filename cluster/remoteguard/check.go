package remoteguard

import (
	"errors"
	"fmt"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
)

// EnvelopeType is the message type nodes exchange on the remote port
// (messages.Envelope). The only other type admitted is protoactor's answer
// to a request whose target is gone (a node stopping while a peer asks it),
// which carries nothing and goes to the requester. Any other type name is
// refused: protoactor would decode system messages (Stop, Watch) for any
// local actor, and panic on a type it does not know.
const (
	EnvelopeType       = "dht.v1.Envelope"
	deadLetterResponse = "actor.DeadLetterResponse"
)

// protoSerializer is protoactor's serializer id for protobuf, the only one
// nodes use.
const protoSerializer = 0

// PeerHeader is the message-header key under which the guard tells the
// topology actor which node a frame came from (its node id, or "" when the
// guard could not tell); PeerAddrHeader carries the actor address it
// connected as.
const (
	PeerHeader     = "dht-peer"
	PeerAddrHeader = "dht-peer-addr"
	headerPrefix   = "dht-"
)

// ErrRefused wraps every reason a frame is refused.
var ErrRefused = errors.New("remoteguard: refused")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRefused}, args...)...)
}

// stream is what Check knows of the stream a frame arrived on.
type stream struct {
	// local is this node's actor address: every target must be there.
	local string
	// claimed is the actor address the peer connected as ("" until its
	// ConnectRequest).
	claimed string
	// peer is the peer's node id ("" when unknown).
	peer string
	// stamp lists the target ids whose envelopes get the peer headers.
	stamp func(targetID string) bool
}

// checkBatch validates a MessageBatch in place, before protoactor's reader
// indexes into it: every index in range, every PID present and where it
// must be, the one type and serializer nodes use. It also removes headers
// under the guard's prefix and stamps the peer headers on envelopes for
// the stamped targets.
func (s *stream) checkBatch(b *remote.MessageBatch) error {
	if s.claimed == "" {
		return refuse("a message batch before the ConnectRequest")
	}
	for i, name := range b.TypeNames {
		if name != EnvelopeType && name != deadLetterResponse {
			return refuse("type name %q at %d: only %s travels between nodes", clip(name), i, EnvelopeType)
		}
	}
	for i, pid := range b.Targets {
		if err := checkPID(pid); err != nil {
			return refuse("target %d: %v", i, err)
		}
		if pid.Address != s.local {
			return refuse("target %d is at %q, not this node (%q)", i, clip(pid.Address), s.local)
		}
	}
	for i, pid := range b.Senders {
		if err := checkPID(pid); err != nil {
			return refuse("sender %d: %v", i, err)
		}
		if pid.Address != s.claimed {
			return refuse("sender %d is at %q, but the peer connected as %q", i, clip(pid.Address), s.claimed)
		}
	}
	for i, e := range b.Envelopes {
		switch {
		case e == nil:
			return refuse("envelope %d is empty", i)
		case e.TypeId < 0 || int(e.TypeId) >= len(b.TypeNames):
			return refuse("envelope %d: type index %d of %d", i, e.TypeId, len(b.TypeNames))
		case e.SerializerId != protoSerializer:
			return refuse("envelope %d: serializer %d; nodes use protobuf (%d)", i, e.SerializerId, protoSerializer)
		case e.Target < 0 || int(e.Target) >= len(b.Targets):
			return refuse("envelope %d: target index %d of %d", i, e.Target, len(b.Targets))
		case e.Sender < 0 || int(e.Sender) > len(b.Senders):
			// 0 is "no sender"; i means Senders[i-1].
			return refuse("envelope %d: sender index %d of %d", i, e.Sender, len(b.Senders))
		}
		if h := e.MessageHeader; h != nil {
			for k := range h.HeaderData {
				if strings.HasPrefix(k, headerPrefix) {
					delete(h.HeaderData, k)
				}
			}
		}
		if s.stamp != nil && s.stamp(b.Targets[e.Target].Id) {
			if e.MessageHeader == nil {
				e.MessageHeader = &remote.MessageHeader{}
			}
			if e.MessageHeader.HeaderData == nil {
				e.MessageHeader.HeaderData = map[string]string{}
			}
			e.MessageHeader.HeaderData[PeerHeader] = s.peer
			e.MessageHeader.HeaderData[PeerAddrHeader] = s.claimed
		}
	}
	return nil
}

func checkPID(pid *actor.PID) error {
	switch {
	case pid == nil:
		return errors.New("missing")
	case pid.Id == "":
		return errors.New("no actor id")
	}
	return nil
}

// clip bounds a peer-supplied string quoted in a log line.
func clip(s string) string {
	const most = 64
	if len(s) > most {
		return s[:most] + "…"
	}
	return s
}
