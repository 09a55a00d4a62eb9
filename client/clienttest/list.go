package clienttest

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dhtkv/dht/api"
)

// handleList answers GET /v1/kv?prefix=&limit=&cursor=&values= with the
// live keys in one global key order (the fake has no partitions), a page
// at a time. Its cursor is its own: the last key listed, base64url, which
// a client must treat as opaque anyway. r is validated (1..3) only.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	if !s.checkQuorum(w, r, "r") {
		return
	}
	q := r.URL.Query()
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, api.CodeBadParameter, "limit: want a whole number from 1 to 10000", false)
			return
		}
		limit = n
	}
	after, err := base64.RawURLEncoding.DecodeString(q.Get("cursor"))
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeBadCursor, "cursor: not one this server made", false)
		return
	}
	values := q.Get("values") == "true"
	prefix := q.Get("prefix")

	s.mu.Lock()
	var keys []string
	for k, sibs := range s.mu.keys {
		if strings.HasPrefix(k, prefix) && k > string(after) && len(liveOf(sibs, s.mu.clock)) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	page := api.ListPage{Keys: []api.ListedKey{}}
	for i, k := range keys {
		if i == limit {
			page.Cursor = base64.RawURLEncoding.EncodeToString([]byte(keys[i-1]))
			break
		}
		lk := api.ListedKey{Key: k}
		if !utf8.ValidString(k) {
			lk.KeyBase64 = []byte(k)
		}
		if values {
			for _, sb := range liveOf(s.mu.keys[k], s.mu.clock) {
				lk.Siblings = append(lk.Siblings, api.Sibling{Value: sb.value, ContentType: sb.contentType, Timestamp: sb.timestamp})
			}
		}
		page.Keys = append(page.Keys, lk)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, page)
}
