package ticker

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Ticker sends one message to an actor every interval until stopped.
type Ticker struct {
	stop chan struct{}
	once sync.Once
}

// Start begins sending msg to ctx.Self() every interval.
func Start(ctx actor.Context, interval time.Duration, msg any) *Ticker {
	t := &Ticker{stop: make(chan struct{})}
	self, root := ctx.Self(), ctx.ActorSystem().Root
	go func() {
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tk.C:
				root.Send(self, msg)
			}
		}
	}()
	return t
}

// Stop ends the ticks. It is safe to call more than once, and on nil.
func (t *Ticker) Stop() {
	if t != nil {
		t.once.Do(func() { close(t.stop) })
	}
}
