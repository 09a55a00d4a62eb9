package client

import "time"

// RetryPolicy bounds how a call repeats a request that failed for want of
// a node to serve it. The client tries its endpoints in turn, starting
// with the one that answered last; a round that reached every endpoint
// without an answer is followed by a wait, which doubles from BaseDelay
// up to MaxDelay and is jittered (a random part of it is left out) so that
// clients that failed together do not come back together.
//
// What is repeated depends on whether repeating it is safe (see the
// package documentation): a read after any failure without an answer; a
// write only after a failure that proves it was not applied.
type RetryPolicy struct {
	// MaxAttempts bounds the requests one call sends, the first included.
	// A call with several endpoints may still try each of them once, so
	// it sends at most max(MaxAttempts, number of endpoints). Below 1
	// means 1: no retries beyond that first round.
	MaxAttempts int
	// BaseDelay is the wait after the first round; MaxDelay caps the
	// doubling.
	BaseDelay, MaxDelay time.Duration
	// MaxElapsed bounds the time a call spends retrying: no wait that
	// would end after it since the call started is begun. Zero leaves
	// only the caller's context as the bound, which is always respected:
	// a wait that would outlast its deadline is not begun either.
	MaxElapsed time.Duration
	// AttemptTimeout bounds one attempt of a key-value read: a node that
	// has not answered within it (a stopped process, a stalled disk,
	// which keep their sockets open) is left for the next endpoint, as
	// an unreachable one is. Writes are not bounded by it: a write left
	// unanswered may still be applied, so it is not sent again, and
	// giving up on it early would only turn a late answer into an
	// unknown outcome. Zero leaves the caller's context as the only
	// bound. It should exceed the nodes' replication.request_timeout,
	// within which a node answers even when replicas do not.
	AttemptTimeout time.Duration
}

// DefaultRetryPolicy is the policy of a client made without WithRetry:
// four attempts, waits of about 50 ms, 100 ms and 200 ms between rounds,
// retrying for at most 5 s, and a read attempt abandoned after 10 s
// without an answer (twice the nodes' default request_timeout).
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, BaseDelay: 50 * time.Millisecond, MaxDelay: 2 * time.Second, MaxElapsed: 5 * time.Second,
		AttemptTimeout: 10 * time.Second}
}

// NoRetry sends each request once. With several endpoints a call still
// moves to the next one when an endpoint cannot be reached at all, since
// nothing was sent to it.
func NoRetry() RetryPolicy { return RetryPolicy{MaxAttempts: 1} }

// WithRetry sets how calls retry; the default is DefaultRetryPolicy.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) { c.retry = p }
}

// failure is how an attempt failed, as far as repeating it is concerned.
type failure int

const (
	// failedUnsent: nothing reached a node (a refused connection, an
	// unknown host). Any request may be sent again.
	failedUnsent failure = iota + 1
	// failedUnavailable: a node answered that it could not serve the
	// request and applied nothing (a 503 without "indeterminate"), or a
	// proxy answered a read for it (502, 503, 504). Any request may be
	// sent again.
	failedUnavailable
	// failedUnknown: the request may have reached a node and been
	// applied (the connection broke after sending, a 503 that says the
	// outcome is unknown). Only a request that may be applied twice, a
	// read, is sent again.
	failedUnknown
)

// retryable reports whether a request that failed with f may be sent
// again. A write is not repeated after an outcome it cannot know: the
// repeat would carry the same context, which no longer covers the first
// write's dot if that one was applied, so the key would hold the value
// twice as two siblings. Nothing would be lost (DVV keeps both), but the
// reader would have to resolve siblings no one wrote concurrently, and a
// conditional write would fail its own precondition; the caller, told by
// IsIndeterminate, reads the key and decides.
func retryable(f failure, idempotent bool) bool {
	return f == failedUnsent || f == failedUnavailable || (f == failedUnknown && idempotent)
}

// attempts is how many requests one call may send to the given number of
// endpoints: every endpoint once, and at least MaxAttempts.
func (p RetryPolicy) attempts(endpoints int) int {
	return max(p.MaxAttempts, endpoints, 1)
}

// wait returns how long to wait before attempt number made (the count of
// attempts already made, at least 1) to the given number of endpoints,
// and whether that attempt may start at all after elapsed since the call
// began. Within a round the next endpoint is tried at once; after a round
// the wait is BaseDelay·2^(round-1), capped at MaxDelay, of which a part
// is left out at random: it lies between half of it and all of it, rnd
// (in [0, 1)) picking where. The function is pure so that tests pick
// rnd.
func (p RetryPolicy) wait(made, endpoints int, elapsed time.Duration, rnd float64) (time.Duration, bool) {
	if made >= p.attempts(endpoints) {
		return 0, false
	}
	var d time.Duration
	if endpoints < 1 || made%endpoints == 0 {
		round := made / max(endpoints, 1)
		d = p.BaseDelay
		for i := 1; i < round && d < p.MaxDelay; i++ {
			d *= 2
		}
		if p.MaxDelay > 0 && d > p.MaxDelay {
			d = p.MaxDelay
		}
		d = d/2 + time.Duration(rnd*float64(d/2))
	}
	if p.MaxElapsed > 0 && elapsed+d > p.MaxElapsed {
		return 0, false
	}
	return d, true
}
