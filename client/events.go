package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/events"
)

// ErrEventsEnded is returned by Events when the node ended the stream, as it
// does when it shuts down. Reconnect, with replay, to carry on.
var ErrEventsEnded = errors.New("client: events: the node ended the stream")

// maxEventLineBytes bounds one line of an event stream. An event is one
// line of JSON holding a few ids and a short detail; the bound stops a
// wrong address from feeding an endless line into memory.
const maxEventLineBytes = 1 << 20

// Events streams the answering node's cluster events to fn, in order, until
// ctx ends (it returns ctx's error), fn returns an error (it returns that
// error), or the node ends the stream (ErrEventsEnded). With replay, the
// node's recent history comes first, and the live events continue exactly
// where it ends.
//
// The stream is best effort: a client that reads too slowly loses events.
// fn is then called with an Event of Kind events.StreamDropped whose Detail
// is the number lost (decimal) and whose other fields are zero; the Seq
// numbers of the events around it show which were lost.
//
// ctx bounds the whole stream, so give it no deadline to follow the node
// indefinitely; bound the connection with the HTTP client's transport (for
// example its ResponseHeaderTimeout) instead.
func (c *Client) Events(ctx context.Context, replay bool, fn func(events.Event) error) error {
	q := ""
	if replay {
		q = "replay=1"
	}
	err := c.streamEvents(ctx, q, fn)
	if err == nil {
		return ErrEventsEnded
	}
	return err
}

// RecentEvents returns the answering node's recent events, oldest first:
// the history a stream with replay starts with.
func (c *Client) RecentEvents(ctx context.Context) ([]events.Event, error) {
	var out []events.Event
	err := c.streamEvents(ctx, "replay=1&follow=0", func(e events.Event) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []events.Event{}
	}
	return out, nil
}

// streamEvents GETs the event stream with rawQuery and hands each event to
// fn. It returns nil when the node ends the stream between events.
func (c *Client) streamEvents(ctx context.Context, rawQuery string, fn func(events.Event) error) error {
	if fn == nil {
		return errors.New("client: events: nil callback")
	}
	resp, err := c.roundTrip(ctx, call{what: "events", method: http.MethodGet, path: api.EventsPath, query: rawQuery,
		header: http.Header{"Accept": {"text/event-stream"}}, token: c.adminToken(), idempotent: true})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		defer closeBody(resp)
		return decodeError(resp, false)
	}
	// Closed without draining: a live stream has no end to drain to.
	defer func() { _ = resp.Body.Close() }()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("client: events: the answer is %q, not an event stream; is %s a dht node?", ct, nodeOf(resp))
	}
	var fnErr error
	err = decodeEventStream(resp.Body, func(e events.Event) error {
		fnErr = fn(e)
		return fnErr
	})
	if err != nil && err != fnErr && ctx.Err() != nil {
		// The read failed because ctx ended; say so rather than how the
		// transport noticed.
		return ctx.Err()
	}
	return err
}

// decodeEventStream reads server-sent events from r and hands each to fn
// (see Events for the dropped notice). It returns nil at the end of r
// between events; an event cut off by the end is discarded, as the SSE
// specification says. Lines end with "\n" or "\r\n".
func decodeEventStream(r io.Reader, fn func(events.Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4<<10), maxEventLineBytes)
	var (
		kind string
		data strings.Builder
		// hasData tells an empty data field, which still makes an event,
		// from none.
		hasData bool
	)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if hasData {
				e, err := decodeEvent(kind, data.String())
				if err != nil {
					return err
				}
				if err := fn(e); err != nil {
					return err
				}
			}
			kind, hasData = "", false
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment, such as the node's keepalives
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			kind = value
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		}
		// id repeats the event's seq, which its data holds; retry and
		// unknown fields are ignored, as the specification asks.
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("client: events: reading the stream: %w", err)
	}
	return nil
}

// decodeEvent turns one event's type and data into an Event.
func decodeEvent(kind, data string) (events.Event, error) {
	if kind == events.StreamDropped {
		var notice struct {
			Dropped *uint64 `json:"dropped"`
		}
		if err := json.Unmarshal([]byte(data), &notice); err != nil || notice.Dropped == nil {
			return events.Event{}, fmt.Errorf("client: events: malformed dropped notice %q", data)
		}
		return events.Event{Kind: events.StreamDropped, Detail: strconv.FormatUint(*notice.Dropped, 10)}, nil
	}
	var e events.Event
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		return events.Event{}, fmt.Errorf("client: events: malformed event %q: %w", data, err)
	}
	if e.Kind == "" {
		e.Kind = kind
	}
	return e, nil
}

// nodeOf returns the scheme and host of the node that sent resp.
func nodeOf(resp *http.Response) string {
	if resp.Request == nil || resp.Request.URL == nil {
		return "the node"
	}
	return resp.Request.URL.Scheme + "://" + resp.Request.URL.Host
}
