// Package ticker gives actors a periodic message. protoactor's receive
// timeout resets on every message, so it cannot pace background work such
// as gossip, hint delivery or anti-entropy; a plain ticker goroutine can.
//
// Start it on *actor.Started and stop it on both *actor.Stopping and
// *actor.Restarting: a supervisor restart builds a new actor instance,
// which starts a ticker of its own.
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
