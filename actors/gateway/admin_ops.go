package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dhtkv/dht/api"
)

// maxNodeIDBytes bounds a node id in an admin request. Real ids are host
// names or short labels; the bound only stops garbage before it reaches the
// ring state, which gossip copies to every node.
const maxNodeIDBytes = 256

// maxAdminBodyBytes bounds the JSON body of an admin request: {"node":ID}
// with the longest id fits many times over.
const maxAdminBodyBytes = 4 << 10

// adminPost serves one ownership change: action names it in the answer,
// takesNode says whether it needs the target node's id, and call carries it
// out on Config.Admin. The input is checked before availability, so a wrong
// command line is reported as such even on a node that is still starting.
func (g *Gateway) adminPost(action string, takesNode bool, call func(ClusterAdmin, string) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		node, apiErr := parseNodeRequest(w, r, action, takesNode)
		if apiErr != nil {
			writeError(w, apiErr)
			return
		}
		named := node
		if !takesNode {
			named = g.selfID()
		}
		g.runAdmin(w, action, func(a ClusterAdmin) error { return call(a, node) },
			api.Accepted{Accepted: true, Node: named, Action: action})
	})
}

// runAdmin carries out a command whose input was checked on Config.Admin
// and answers 202 with accepted, or the error that refused it.
func (g *Gateway) runAdmin(w http.ResponseWriter, action string, call func(ClusterAdmin) error, accepted api.Accepted) {
	if g.cfg.Admin == nil {
		writeError(w, &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: "cluster admin not available"})
		return
	}
	if err := call(g.cfg.Admin); err != nil {
		writeError(w, adminError(action, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(accepted)
}

// adminError maps a ClusterAdmin's error to the answer.
func adminError(action string, err error) *apiError {
	switch {
	case errors.Is(err, ErrUnknownNode):
		return &apiError{status: http.StatusNotFound, code: codeUnknownNode, msg: err.Error()}
	case errors.Is(err, ErrConflict):
		return &apiError{status: http.StatusConflict, code: codeConflict, msg: err.Error()}
	case errors.Is(err, ErrInvalid):
		return &apiError{status: http.StatusBadRequest, code: codeBadParameter, msg: err.Error()}
	}
	return &apiError{status: http.StatusInternalServerError, code: codeInternal, msg: action + ": " + err.Error()}
}

// selfID returns the id of this node as the cluster view knows it, or ""
// before the view is up; join's answer names the node that rejoins.
func (g *Gateway) selfID() string {
	if g.cfg.Cluster == nil {
		return ""
	}
	for _, m := range g.cfg.Cluster.Members() {
		if m.Self {
			return m.ID
		}
	}
	return ""
}

// parseNodeRequest reads the target node of an ownership change from the
// JSON body {"node":ID} or the query ?node=ID; both may be given if they
// agree. An action without a target (join) refuses one, since the node that
// joins is always the one asked.
func parseNodeRequest(w http.ResponseWriter, r *http.Request, action string, takesNode bool) (string, *apiError) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", badRequest(codeBadParameter, "query string %q: %v", r.URL.RawQuery, err)
	}
	for name := range query {
		if name != "node" {
			return "", badRequest(codeBadParameter, "unknown query parameter %q; %s takes only node", name, action)
		}
	}
	fromQuery, inQuery := "", false
	if vs, ok := query["node"]; ok {
		if len(vs) > 1 {
			return "", badRequest(codeBadParameter, "node given %d times in the query; give it once", len(vs))
		}
		fromQuery, inQuery = vs[0], true
	}

	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return "", badRequest(codeBadParameter, "request body over %d bytes; send {\"node\":\"ID\"}", maxAdminBodyBytes)
		}
		return "", badRequest(codeBadParameter, "reading the request body: %v", err)
	}
	fromBody, inBody := "", false
	if len(bytes.TrimSpace(data)) > 0 {
		var body struct {
			// A pointer, to tell {"node":""} from a body without it.
			Node *string `json:"node"`
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			return "", badRequest(codeBadParameter, "request body is not {\"node\":\"ID\"}: %v", err)
		}
		if dec.More() {
			return "", badRequest(codeBadParameter, "request body holds more than one JSON value")
		}
		if body.Node != nil {
			fromBody, inBody = *body.Node, true
		}
	}

	if !takesNode {
		if inQuery || inBody {
			return "", badRequest(codeBadNode, "%s takes no node: the node asked is the one that joins; send it to that node's address", action)
		}
		return "", nil
	}
	switch {
	case inQuery && inBody && fromQuery != fromBody:
		return "", badRequest(codeBadNode, "node %q in the query and %q in the body disagree; give it once", fromQuery, fromBody)
	case !inQuery && !inBody:
		return "", badRequest(codeBadNode, "missing node: %s needs the id of its target, as {\"node\":\"ID\"} or ?node=ID", action)
	}
	node := fromBody
	if inQuery {
		node = fromQuery
	}
	if err := checkNodeID(node); err != nil {
		return "", badRequest(codeBadNode, "node id: %v", err)
	}
	return node, nil
}

// checkNodeID rejects ids no node could have: empty, oversized, or with
// characters that would garble logs and tables.
func checkNodeID(id string) error {
	switch {
	case id == "":
		return errors.New("empty")
	case len(id) > maxNodeIDBytes:
		return fmt.Errorf("%d bytes, over the limit of %d", len(id), maxNodeIDBytes)
	case !utf8.ValidString(id):
		return errors.New("not valid UTF-8")
	case strings.IndexFunc(id, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("%q holds a control or other non-printing character", id)
	}
	return nil
}

// serveResize grows the ring's partition count: POST /admin/resize with
// {"partitions":N} or ?partitions=N (both may be given if they agree).
func (g *Gateway) serveResize(w http.ResponseWriter, r *http.Request) {
	q, apiErr := parseResizeRequest(w, r)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	g.runAdmin(w, api.ActionResize, func(a ClusterAdmin) error { return a.Resize(q) },
		api.Accepted{Accepted: true, Action: api.ActionResize, Partitions: q})
}

// parseResizeRequest reads the partition count of a resize from the JSON
// body {"partitions":N} or the query ?partitions=N.
func parseResizeRequest(w http.ResponseWriter, r *http.Request) (int, *apiError) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return 0, badRequest(codeBadParameter, "query string %q: %v", r.URL.RawQuery, err)
	}
	fromQuery := 0
	for name, vs := range query {
		if name != "partitions" {
			return 0, badRequest(codeBadParameter, "unknown query parameter %q; resize takes only partitions", name)
		}
		if len(vs) > 1 {
			return 0, badRequest(codeBadParameter, "partitions given %d times in the query; give it once", len(vs))
		}
		if fromQuery, err = strconv.Atoi(vs[0]); err != nil || fromQuery < 1 {
			return 0, badRequest(codeBadParameter, "partitions=%q: want a positive power of two", vs[0])
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBodyBytes))
	if err != nil {
		return 0, badRequest(codeBadParameter, "reading the request body: %v", err)
	}
	fromBody := 0
	if len(bytes.TrimSpace(data)) > 0 {
		var body api.ResizeRequest
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || dec.More() {
			return 0, badRequest(codeBadParameter, "request body is not {\"partitions\":N}")
		}
		if body.Partitions < 1 {
			return 0, badRequest(codeBadParameter, "partitions %d: want a positive power of two", body.Partitions)
		}
		fromBody = body.Partitions
	}
	switch {
	case fromQuery == 0 && fromBody == 0:
		return 0, badRequest(codeBadParameter, "resize needs the partition count: {\"partitions\":N} or ?partitions=N")
	case fromQuery != 0 && fromBody != 0 && fromQuery != fromBody:
		return 0, badRequest(codeBadParameter, "partitions is %d in the query and %d in the body", fromQuery, fromBody)
	}
	return max(fromQuery, fromBody), nil
}
