package node

import (
	"context"
	"fmt"
	"log/slog"
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
