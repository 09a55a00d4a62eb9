package node

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// logAndDecide returns a supervisor strategy that logs a child's failure at
// error level — protoactor itself reports it only at info — and then applies
// directive: vnodes, the topology actor and the gateway restart (they rebuild
// their state from storage), a failed coordinator stops and its client sees
// a timeout.
func logAndDecide(logger *slog.Logger, what string, directive actor.Directive) actor.SupervisorStrategy {
	return actor.NewOneForOneStrategy(10, time.Minute, func(reason interface{}) actor.Directive {
		logger.Error("actor failed", "actor", what, "reason", fmt.Sprint(reason), "directive", directive.String())
		return directive
	})
}

// levelFloor drops records below min, to quiet a library's routine logging.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFloor{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{Handler: h.Handler.WithGroup(name), min: h.min}
}

// plannedDisconnects lowers protoactor's connection errors to info when
// the peer at the address meant to go: it left gossip on its way out (a
// clean stop, or the end of a decommission), or this node itself is
// stopping. An operator who alerts on ERROR is then paged by a crash, not
// by a rolling restart. Whether a peer left is asked when the record
// comes, so the check costs nothing while connections are healthy.
type plannedDisconnects struct {
	slog.Handler
	// planned reports whether losing the connection to the peer at a
	// remote address is expected.
	planned func(addr string) bool
}

// plannedMessages are protoactor's records of a connection to a peer
// that broke or could not be made.
var plannedMessages = []string{
	"EndpointWriter lost connection",
	"EndpointWriter failed to connect",
	"EndpointWriter failed to create receive stream",
	"EndpointReader failed to read",
}

func (h plannedDisconnects) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && slices.Contains(plannedMessages, r.Message) {
		var addr string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "address" {
				addr = a.Value.String()
				return false
			}
			return true
		})
		if addr != "" && h.planned(addr) {
			if !h.Handler.Enabled(ctx, slog.LevelInfo) {
				return nil
			}
			planned := slog.NewRecord(r.Time, slog.LevelInfo, r.Message, r.PC)
			r.Attrs(func(a slog.Attr) bool { planned.AddAttrs(a); return true })
			planned.AddAttrs(slog.Bool("planned", true))
			r = planned
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h plannedDisconnects) WithAttrs(attrs []slog.Attr) slog.Handler {
	return plannedDisconnects{Handler: h.Handler.WithAttrs(attrs), planned: h.planned}
}

func (h plannedDisconnects) WithGroup(name string) slog.Handler {
	return plannedDisconnects{Handler: h.Handler.WithGroup(name), planned: h.planned}
}
