package gateway

import "net/http"

// collectionPath is the client API's collection: every key, as opposed to
// one key under kvPrefix. It is registered (routes) so that GET /v1/kv is
// answered here rather than redirected by ServeMux to /v1/kv/, the path of
// the empty key.
const collectionPath = "/v1/kv"

// serveCollection answers GET /v1/kv. Key listing is not available yet: the
// answer is a JSON 404 unknown_path saying so, rather than a redirect and an
// HTML body. Key listing, when it comes, replaces this handler and its
// registration in routes.
func (g *Gateway) serveCollection(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{status: http.StatusNotFound, code: codeUnknownPath,
		msg: "key listing is not available: " + collectionPath + " lists no keys; read a key at " + kvPrefix + "{key}"})
}
