package metrics

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Op is a client operation as the request metrics label it (the "op"
// label of dht_requests_total and dht_request_duration_seconds). Its
// String is the label value, so a label is never spelled twice.
type Op uint8

// The client operations. OpOther counts requests with any other method
// (refused 405, but still counted).
const (
	OpOther Op = iota
	OpGet
	OpPut
	OpDelete
)

// String returns the label value: "get", "put", "delete" or "other".
func (o Op) String() string {
	switch o {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return "other"
}

// OpOfMethod returns the operation an HTTP method asks for on /v1/kv. A
// HEAD is counted as the GET it is, less the body.
func OpOfMethod(method string) Op {
	switch method {
	case http.MethodGet, http.MethodHead:
		return OpGet
	case http.MethodPut:
		return OpPut
	case http.MethodDelete:
		return OpDelete
	}
	return OpOther
}

// ObserveRequest counts one client request answered with HTTP status and
// observes how long it took.
func (m *Metrics) ObserveRequest(op Op, status int, took time.Duration) {
	m.Requests.WithLabelValues(op.String(), strconv.Itoa(status)).Inc()
	m.RequestDuration.WithLabelValues(op.String()).Observe(took.Seconds())
}

// VnodeOp is a vnode operation as dht_vnode_operations_total labels it
// (the "kind" label).
type VnodeOp uint8

// The vnode operations.
const (
	VnodeGet VnodeOp = iota
	VnodePut
	VnodeMerge
	VnodeMergeBatch
	VnodeReap
	VnodeHandoffPull
)

// String returns the label value, as the vnode has always spelled it.
func (k VnodeOp) String() string {
	switch k {
	case VnodeGet:
		return "get"
	case VnodePut:
		return "put"
	case VnodeMerge:
		return "merge"
	case VnodeMergeBatch:
		return "merge_batch"
	case VnodeReap:
		return "reap"
	case VnodeHandoffPull:
		return "handoff_pull"
	}
	return fmt.Sprintf("vnode_op(%d)", uint8(k))
}

// ResultOK is the "result" label of a vnode operation that succeeded; a
// failed one is labelled with its error code's name.
const ResultOK = "ok"

// CountVnodeOp counts one vnode operation with its result: ResultOK, or
// the name of the error code it answered (messages.ErrorCode.String()).
func (m *Metrics) CountVnodeOp(op VnodeOp, result string) {
	m.VnodeOps.WithLabelValues(op.String(), result).Inc()
}

// HintResult is a hint-queue event as dht_hints_total labels it (the
// "result" label).
type HintResult uint8

// The hint-queue events.
const (
	HintStored HintResult = iota
	HintRefusedFull
	HintRefusedStorage
	HintDelivered
)

// String returns the label value.
func (r HintResult) String() string {
	switch r {
	case HintStored:
		return "stored"
	case HintRefusedFull:
		return "refused_full"
	case HintRefusedStorage:
		return "refused_storage"
	case HintDelivered:
		return "delivered"
	}
	return fmt.Sprintf("hint_result(%d)", uint8(r))
}

// CountHint counts one hint-queue event.
func (m *Metrics) CountHint(r HintResult) {
	m.Hints.WithLabelValues(r.String()).Inc()
}
