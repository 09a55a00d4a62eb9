package noop

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/dhtkv/dht/bench/ycsbdb"
	"github.com/dhtkv/dht/client"
)

// token is the fixed context token the server hands out. The dht binding
// only sends it back.
const token = "bm9vcA"

// Handler serves /v1/kv/{key}, /healthz and /readyz.
type Handler struct {
	record []byte
}

var _ http.Handler = (*Handler)(nil)

// New returns a handler whose GETs answer a record of fieldCount fields of
// fieldLength bytes each, named as YCSB names them (field0, field1, ...).
func New(fieldCount, fieldLength int) *Handler {
	rec := make(map[string][]byte, fieldCount)
	for i := range fieldCount {
		v := make([]byte, fieldLength)
		for j := range v {
			v[j] = byte('a' + (i+j)%26)
		}
		rec[fmt.Sprintf("field%d", i)] = v
	}
	return &Handler{record: ycsbdb.EncodeRecord(rec)}
}

// ServeHTTP answers like a node whose every key holds the one record.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz" || r.URL.Path == "/readyz":
		w.WriteHeader(http.StatusOK)
		return
	case !strings.HasPrefix(r.URL.Path, "/v1/kv/") || len(r.URL.Path) == len("/v1/kv/"):
		http.NotFound(w, r)
		return
	}
	w.Header().Set(client.HeaderContext, token)
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(len(h.record)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(h.record)
	case http.MethodPut, http.MethodDelete:
		// Read the body as a node must, so that the client's write costs
		// what it costs against a node.
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set(client.HeaderSiblings, "1")
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}
