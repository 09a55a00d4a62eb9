package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dhtkv/dht/events"
)

// DefaultEventsKeepalive is how often an idle event stream sends a comment
// when Config.EventsKeepalive is zero: well under the idle timeouts of
// common proxies (60 s and more).
const DefaultEventsKeepalive = 15 * time.Second

// eventsBuffer is how many events a stream buffers for a slow client before
// it drops them: a burst such as a node failing moves many partitions at
// once.
const eventsBuffer = 256

// streamWriteTimeout bounds each write of an event stream. The server's
// WriteTimeout is lifted for the stream, which would otherwise cut it after
// a few seconds; this bound instead ends a stream whose client stopped
// reading, which would hold its handler (and Shutdown) forever.
const streamWriteTimeout = 10 * time.Second

// serveEvents streams the node's events as server-sent events:
//
//	id: <seq>
//	event: <kind>
//	data: <events.Event as JSON>
//	<blank line>
//
// Query parameters: replay=1 first sends the bus's Recent history, and the
// live events continue exactly where it ends; follow=0 ends the stream after
// the history instead (it needs replay=1). A client that falls behind loses
// events; the stream then says how many with "event: dropped" and data
// {"dropped":N}, where they were lost (see lossReport). An idle stream sends
// ": keepalive" comments. The stream ends when the client goes away or the
// gateway shuts down.
func (g *Gateway) serveEvents(w http.ResponseWriter, r *http.Request) {
	replay, follow, apiErr := parseEventsQuery(r.URL.RawQuery)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	bus := g.cfg.Events
	if bus == nil {
		writeError(w, &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "event stream not available"})
		return
	}
	if r.Method == http.MethodHead {
		// The GET route serves HEAD too. A stream has no length to
		// declare, and following one for a client that reads no body
		// would hold the connection to no purpose: the headers, and done.
		setEventStreamHeaders(w.Header())
		w.WriteHeader(http.StatusOK)
		return
	}
	var (
		recent []events.Event
		sub    *events.Subscription
	)
	switch {
	case replay && follow:
		recent, sub = bus.SubscribeWithHistory(g.eventsBuffer)
	case follow:
		sub = bus.Subscribe(g.eventsBuffer)
	default:
		recent = bus.Recent()
	}
	if sub != nil {
		defer sub.Close()
	}

	rc := http.NewResponseController(w)
	// The request is read. The server's ReadTimeout still arms the
	// connection's read deadline, and net/http cancels the request's
	// context when a read fails, which would cut the stream. Errors mean
	// the writer does not support deadlines (as in tests); the per-write
	// bound below then does not apply either, which is harmless there.
	_ = rc.SetReadDeadline(time.Time{})
	setEventStreamHeaders(w.Header())
	s := &sseWriter{rc: rc, w: w}
	w.WriteHeader(http.StatusOK)
	// Flushing the header at once tells the client the stream is open
	// before the first event, which may be long in coming.
	if s.flush() != nil {
		return
	}

	for _, e := range recent {
		if s.event(e) != nil {
			return
		}
	}
	if s.flush() != nil || sub == nil {
		return
	}
	g.follow(r, s, sub)
}

func setEventStreamHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// Tell nginx-style proxies not to buffer: events must arrive as they
	// happen.
	h.Set("X-Accel-Buffering", "no")
}

// follow streams sub's events until the client goes away, the subscription
// closes or the gateway stops. Split from serveEvents so that tests can
// drive it with a subscription in any state.
func (g *Gateway) follow(r *http.Request, s *sseWriter, sub *events.Subscription) {
	keepalive := time.NewTicker(g.cfg.EventsKeepalive)
	defer keepalive.Stop()
	var losses lossReport
	notice := func(n uint64) error {
		if n == 0 {
			return nil
		}
		return s.dropped(n)
	}
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-g.stopping:
			return
		case <-keepalive.C:
			err = s.comment("keepalive")
		case e, ok := <-sub.C():
			if !ok {
				if notice(losses.settle(sub.Dropped())) == nil {
					_ = s.flush()
				}
				return
			}
			if err = notice(losses.before(e.Seq)); err == nil {
				err = s.event(e)
			}
		}
		// A loss no event has followed yet is reported once the buffer
		// runs dry, rather than whenever the next event comes.
		if err == nil && len(sub.C()) == 0 {
			err = notice(losses.settle(sub.Dropped()))
		}
		// Flush after each step: holding events back for a batch would
		// delay what an operator is watching.
		if err == nil {
			err = s.flush()
		}
		if err != nil {
			return // the client went away, or stopped reading
		}
	}
}

// lossReport works out the "dropped" notices of a stream. A subscription's
// Dropped counter is exact but says nothing of where the losses were; Seq
// numbers, which a bus hands out without gaps, do. So before each event the
// notice reports the gap since the previous one, and when the buffer runs
// dry, settle reports what the counter knows beyond that: losses no event
// has followed yet. They are owed to the gaps that come later (credit), so
// that no loss is reported twice. The first event has no gap before it: a
// loss needs a full buffer, which holds an earlier event.
type lossReport struct {
	prev     uint64 // the Seq of the last event received; 0 before the first
	reported uint64 // losses reported so far
	credit   uint64 // losses settle reported ahead of their gap
}

// before returns the losses to report before the event numbered seq.
func (l *lossReport) before(seq uint64) uint64 {
	prev := l.prev
	l.prev = seq
	if prev == 0 || seq <= prev+1 {
		return 0
	}
	gap := seq - prev - 1
	owed := min(gap, l.credit)
	l.credit -= owed
	l.reported += gap - owed
	return gap - owed
}

// settle returns the losses the subscription's counter, dropped, knows of
// beyond those reported.
func (l *lossReport) settle(dropped uint64) uint64 {
	if dropped <= l.reported {
		return 0
	}
	n := dropped - l.reported
	l.reported = dropped
	l.credit += n
	return n
}

// parseEventsQuery reads replay (default false) and follow (default true).
func parseEventsQuery(raw string) (replay, follow bool, apiErr *apiError) {
	query, err := url.ParseQuery(raw)
	if err != nil {
		return false, false, badRequest(codeBadParameter, "query string %q: %v", raw, err)
	}
	replay, follow = false, true
	for name, vs := range query {
		var dst *bool
		switch name {
		case "replay":
			dst = &replay
		case "follow":
			dst = &follow
		default:
			return false, false, badRequest(codeBadParameter, "unknown query parameter %q; the event stream takes replay and follow", name)
		}
		if len(vs) > 1 {
			return false, false, badRequest(codeBadParameter, "%s given %d times; give it once", name, len(vs))
		}
		v, err := strconv.ParseBool(vs[0])
		if err != nil {
			return false, false, badRequest(codeBadParameter, "%s=%q is not a boolean; use 1 or 0", name, vs[0])
		}
		*dst = v
	}
	if !replay && !follow {
		return false, false, badRequest(codeBadParameter, "follow=0 without replay=1 would send nothing")
	}
	return replay, follow, nil
}

// sseWriter writes the server-sent-events framing. Every method returns the
// first write error, after which the stream is dead.
type sseWriter struct {
	rc *http.ResponseController
	w  http.ResponseWriter
}

// event writes one event. Its JSON holds no newline (encoding/json escapes
// them in strings), so one data line carries it; the kind, written in a
// field of its own, is stripped of line breaks, which would end the field.
func (s *sseWriter) event(e events.Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err // cannot happen: Event always encodes
	}
	s.deadline()
	kind := strings.NewReplacer("\r", "", "\n", "").Replace(e.Kind)
	_, err = io.WriteString(s.w, "id: "+strconv.FormatUint(e.Seq, 10)+"\nevent: "+kind+"\ndata: "+string(data)+"\n\n")
	return err
}

// dropped writes the notice that n events were lost.
func (s *sseWriter) dropped(n uint64) error {
	s.deadline()
	_, err := io.WriteString(s.w, "event: "+events.StreamDropped+"\ndata: {\"dropped\":"+strconv.FormatUint(n, 10)+"}\n\n")
	return err
}

// comment writes a comment line, which clients ignore.
func (s *sseWriter) comment(text string) error {
	s.deadline()
	_, err := io.WriteString(s.w, ": "+text+"\n\n")
	return err
}

// flush sends what the response buffers to the client.
func (s *sseWriter) flush() error {
	s.deadline()
	return s.rc.Flush()
}

// deadline bounds the next write (see streamWriteTimeout).
func (s *sseWriter) deadline() {
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
}
