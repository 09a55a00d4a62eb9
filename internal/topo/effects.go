package topo

import (
	"log/slog"

	"github.com/dhtkv/dht/cluster/ring"
)

// Effects is what the actor must do after one event, in this order:
// persist, log, report the ring changes (events of KindRingChange), publish,
// announce, report the rest of the events, broadcast, answer, gossip. A
// ring change is reported before the snapshot that shows it is published,
// and an operator's command after, as the node's event stream always had
// them.
type Effects struct {
	// Persist: the ring state changed; store Machine.State before anything
	// else, so a restart keeps it.
	Persist bool
	// Logs are the lines to log, in order.
	Logs []Log
	// Publish: publish a new snapshot (state, plan, members, synced).
	Publish bool
	// Announce, when set, is the mark of the ring the node now routes by
	// (MarkOf(Machine.State)): tell the peers, in gossip's tags, after the
	// publish, so that a peer that reads it can count on this node routing
	// by that ring. It is set when the ownership changes, not for handoff
	// records; peers' Agreement compares it with their own.
	Announce *RingMark
	// Events are the node's event stream entries, in order; see above for
	// where they fall around Publish.
	Events []Event
	// Broadcast, when set, is an operator's command to carry to every node
	// at once; ring gossip carries it anyway.
	Broadcast *Broadcast
	// Respond: answer the gossip's sender with this node's full ring state
	// (it lacks something this node has, or sent only a digest that
	// differs), as a request of its own, so that the sender can answer it
	// in turn when this node is the one missing something.
	Respond bool
	// GossipTo, when set, is the remote address of the peer to send the
	// digest of this node's ring state to.
	GossipTo string
	// LossChecked: the node's storage is new (Config.NewEpoch), and the
	// machine has now decided whether that means lost data, recording the
	// loss in the ring when it does. Until then the node must not answer
	// replica reads: its empty storage may be a wiped disk that the other
	// nodes do not know of yet, and its answers would count toward R as
	// the keys' state. After it, the node must clear NewEpoch, so that no
	// later machine of this run looks again: it would take the data the
	// node has received since for a fresh loss and restart every
	// partition's rebuild.
	LossChecked bool
}

// Log is one log line: slog's level, message and key-value pairs.
type Log struct {
	Level slog.Level
	Msg   string
	Args  []any
}

// Event kinds of the node's event stream.
const (
	// KindRingChange: the ring's ownership changed.
	KindRingChange = "ring-change"
	// KindClusterEvent: an operator's command was applied.
	KindClusterEvent = "cluster-event"
	// KindRebuildStart and KindRebuildFinish: this node began receiving
	// every partition it holds again after losing its data, and has them
	// all back.
	KindRebuildStart  = "rebuild-start"
	KindRebuildFinish = "rebuild-finish"
)

// Event is an entry of the node's event stream.
type Event struct {
	Kind, Subject, Detail string
}

// Broadcast is a command's outcome for the other nodes: the entry of the
// member it changed, which every node merges, so they agree at once.
type Broadcast struct {
	Action string
	Entry  ring.MemberState
}

func (e *Effects) log(level slog.Level, msg string, args ...any) {
	e.Logs = append(e.Logs, Log{Level: level, Msg: msg, Args: args})
}

func (e *Effects) event(kind, subject, detail string) {
	e.Events = append(e.Events, Event{Kind: kind, Subject: subject, Detail: detail})
}
