package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/dhtkv/dht/actors/coordinator"
	"github.com/dhtkv/dht/api"
	"github.com/dhtkv/dht/internal/quorum"
	"github.com/dhtkv/dht/messages"
)

// apiError is an error with the HTTP status and stable code it is answered
// with. Codes are part of the API: clients may switch on them.
type apiError struct {
	status        int
	code          api.Code
	msg           string
	indeterminate bool
}

func (e *apiError) Error() string { return e.msg }

func badRequest(code api.Code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

// The error codes of the client and admin APIs, as package api names them;
// short local names keep the handlers readable.
const (
	codeBadKey          = api.CodeBadKey
	codeKeyTooLong      = api.CodeKeyTooLong
	codeValueTooLarge   = api.CodeValueTooLarge
	codeBodyTooLarge    = api.CodeBodyTooLarge
	codeBadContext      = api.CodeBadContext
	codeBadRequest      = api.CodeBadRequest
	codeBadQuorum       = api.CodeBadQuorum
	codeBadParameter    = api.CodeBadParameter
	codeBadContentType  = api.CodeBadContentType
	codeMethod          = api.CodeMethod
	codeUnauthorized    = api.CodeUnauthorized
	codeTooManySiblings = api.CodeTooManySiblings
	codeUnavailable     = api.CodeUnavailable
	codeTimeout         = api.CodeTimeout
	codeNotFound        = api.CodeNotFound
	codeInternal        = api.CodeInternal
	codeBadNode         = api.CodeBadNode
	codeUnknownNode     = api.CodeUnknownNode
	codeConflict        = api.CodeConflict

	codePreconditionFailed = api.CodePreconditionFailed
	codeUnknownPath        = api.CodeUnknownPath
	codeHeadersTooLarge    = api.CodeHeadersTooLarge
	codeBadTTL             = api.CodeBadTTL
)

// replyError maps a coordinator's error to the client's answer.
func replyError(err error) *apiError {
	var refused *coordinator.RefusedError
	switch {
	case errors.As(err, &refused) && refused.Code == messages.ErrorCode_ERROR_CODE_TOO_MANY_SIBLINGS:
		return &apiError{status: http.StatusConflict, code: codeTooManySiblings,
			msg: refused.Message + "; read the key and write back a resolved value with its context"}
	case errors.As(err, &refused) && refused.Code == messages.ErrorCode_ERROR_CODE_BAD_CONTEXT:
		return &apiError{status: http.StatusBadRequest, code: codeBadContext, msg: refused.Message}
	case errors.As(err, &refused) && refused.Code == messages.ErrorCode_ERROR_CODE_PRECONDITION_FAILED:
		// Checked by the coordinating replica as it would have minted the
		// write: nothing was stored.
		return &apiError{status: http.StatusPreconditionFailed, code: codePreconditionFailed,
			msg: strings.TrimPrefix(refused.Message, "vnode: ") + "; read the key again for its current ETag"}
	case errors.As(err, &refused) && refused.Code == messages.ErrorCode_ERROR_CODE_UNKNOWN_MESSAGE:
		// A coordinating replica of an older version (a rolling upgrade)
		// does not know the request, a conditional write: it stored
		// nothing rather than ignore the condition.
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable,
			msg: "the key's coordinating replica runs a version that cannot make this request (a conditional write?); nothing was stored; retry once every node is upgraded: " + refused.Message}
	case errors.As(err, &refused) && refused.Code == messages.ErrorCode_ERROR_CODE_EXPIRED:
		// Nothing was stored: the replicas asked to coordinate took the
		// request too late. Safe to retry.
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: refused.Message}
	case errors.As(err, &refused):
		return &apiError{status: http.StatusBadRequest, code: codeBadRequest, msg: refused.Message}
	case errors.Is(err, quorum.ErrIndeterminate):
		return &apiError{status: http.StatusServiceUnavailable, code: codeTimeout, msg: err.Error(), indeterminate: true}
	case errors.Is(err, quorum.ErrTimeout):
		return &apiError{status: http.StatusServiceUnavailable, code: codeTimeout, msg: err.Error()}
	case errors.Is(err, quorum.ErrUnavailable):
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, msg: err.Error()}
	}
	return &apiError{status: http.StatusInternalServerError, code: codeInternal, msg: err.Error()}
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	writeJSON(w, e.status, api.Error{Error: e.msg, Code: e.code, Indeterminate: e.indeterminate})
}

// writeJSON answers status with v as a JSON body of a declared length, so
// that a HEAD gets the same headers as its GET.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("gateway: encoding an answer: %v", err)) // the API's own types always encode
	}
	body = append(body, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
