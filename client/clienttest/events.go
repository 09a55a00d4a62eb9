package clienttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Event is a cluster event as the fake's stream sends it.
type Event struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Node      string    `json:"node"`
	Kind      string    `json:"kind"`
	Subject   string    `json:"subject,omitempty"`
	Partition *uint32   `json:"partition,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// EventStream is what GET /admin/events sends.
type EventStream struct {
	// Recent is the history a stream with replay=1 starts with.
	Recent []Event
	// Live is sent to a following stream (not follow=0) after the
	// history. An entry of Kind "dropped" is sent as the stream's notice
	// of lost events instead, its Detail the count.
	Live []Event
	// End ends a following stream after Live, as a node that shuts down
	// does. Otherwise the stream stays open until the client goes away or
	// the fake is closed.
	End bool
}

// SetEvents sets what the event stream sends. Until it is called, or after
// it is called with nil, GET /admin/events answers 503 unavailable, as a
// node without an event bus does. Streams already open are not affected.
func (s *Server) SetEvents(es *EventStream) {
	var clone *EventStream
	if es != nil {
		clone = &EventStream{Recent: slices.Clone(es.Recent), Live: slices.Clone(es.Live), End: es.End}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.events = clone
}

// serveEvents streams like a node: a keepalive comment first, then the
// history with replay=1, then, unless follow=0, the live events.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method "+r.Method+" not allowed; use GET", false)
		return
	}
	q := r.URL.Query()
	replay, follow := q.Get("replay") == "1" || q.Get("replay") == "true", q.Get("follow") != "0"
	if !replay && !follow {
		writeError(w, http.StatusBadRequest, "bad_parameter", "follow=0 without replay=1 would send nothing", false)
		return
	}
	s.mu.Lock()
	es := s.mu.events
	s.mu.Unlock()
	if es == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "event stream not available", false)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": keepalive\n\n")
	if replay {
		for _, e := range es.Recent {
			writeEvent(w, e)
		}
	}
	if follow {
		for _, e := range es.Live {
			writeEvent(w, e)
		}
	}
	http.NewResponseController(w).Flush()
	if !follow || es.End {
		return
	}
	select {
	case <-r.Context().Done():
	case <-s.closing:
	}
}

func writeEvent(w http.ResponseWriter, e Event) {
	if e.Kind == "dropped" {
		n, _ := strconv.ParseUint(e.Detail, 10, 64)
		fmt.Fprintf(w, "event: dropped\ndata: {\"dropped\":%d}\n\n", n)
		return
	}
	data, _ := json.Marshal(e)
	fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Kind, data)
}
