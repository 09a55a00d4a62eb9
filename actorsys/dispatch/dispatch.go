package dispatch

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// DefaultThroughput is how many messages a mailbox processes before it
// yields, protoactor's own default.
const DefaultThroughput = 300

var _ actor.Dispatcher = (*Pool)(nil)

// Pool is an actor.Dispatcher running mailboxes on a fixed set of worker
// goroutines, or on a new goroutine when none is idle.
type Pool struct {
	throughput int
	// work is unbuffered: a send succeeds only when a worker is idle and
	// takes the mailbox at once, so no mailbox waits behind a busy one.
	work     chan func()
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New starts a pool of workers goroutines whose mailboxes process up to
// throughput messages before yielding. Close stops the workers.
func New(workers, throughput int) *Pool {
	if throughput <= 0 {
		throughput = DefaultThroughput
	}
	p := &Pool{throughput: throughput, work: make(chan func()), stop: make(chan struct{})}
	for range workers {
		p.wg.Go(p.worker)
	}
	return p
}

func (p *Pool) worker() {
	for {
		select {
		case fn := <-p.work:
			fn()
		case <-p.stop:
			return
		}
	}
}

// Schedule runs fn on an idle worker, or on a new goroutine if there is
// none. It never blocks, and keeps working after Close (on new goroutines),
// so that actors stopping late still drain their mailboxes.
func (p *Pool) Schedule(fn func()) {
	select {
	case p.work <- fn:
	default:
		go fn()
	}
}

// Throughput implements actor.Dispatcher.
func (p *Pool) Throughput() int { return p.throughput }

// Close stops the workers once they finish what they are running. It is
// idempotent.
func (p *Pool) Close() {
	p.stopOnce.Do(func() { close(p.stop) })
	p.wg.Wait()
}
