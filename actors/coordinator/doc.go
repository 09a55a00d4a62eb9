// Package coordinator holds the request coordinator: a long-lived actor
// that runs many client requests at once, each driven by its own quorum
// machine (package quorum) to its answer. A node's gateway runs a few per
// CPU and hands each request to the next. The actor decides nothing itself:
// a request's machine (quorum.Put or quorum.Get) says what to send and when
// to answer, and its ledger (quorum.Ledger) says which answer is whose and
// which misses are hinted; the actor turns messages into their events and
// carries out the effects they return (send, reply, repair).
//
// Requests are numbered. A request's ledger numbers its messages under the
// request's number (quorum.MessageBits), so that a replica's answer, which
// carries the message's id back, finds its request without a lookup table.
// No actor is spawned and no future registered per request: a spawn, its
// stop and a future cost more than a quorum step.
//
// # A PUT, step by step
//
// Steps 1-2 and 7 are in package gateway (see its doc).
//
//  3. The HTTP handler sends a coordinator a *Start with the request and
//     the channel it waits on (Done).
//  4. start numbers the request, arms its deadline timer, asks the Router
//     for the partition's Route, and starts quorum.NewPut; carryPut sends
//     the coordinating
//     replica (the first live primary) a PutRequest marked Early (send,
//     quorum.KindCoordinate), and arms that replica's coordinator timer
//     (Config.CoordinateTimeout). If it fires before the replica answered
//     (onCoordinatorLate → Put.CoordinatorLate), the machine may name the
//     next owner, which carryPut sends the same PutRequest, arming its
//     timer in turn; dht_coordinator_handovers_total counts these. Both
//     may land: their objects are siblings of one value (see quorum.Put).
//  5. That vnode answers twice under one request id: first the object it
//     minted, not yet durable (onAnswer → onCoordinated → Put.Minted), which
//     carryPut sends to the other replicas at once as MergeRequests
//     (KindReplicate) or, to a fallback, as a HintRequest to its hint queue
//     (KindHint); sendAlongside also hints down owners no fallback covers
//     and sends pending owners the object. Then the confirmation that its
//     write is durable (Put.Coordinated). A vnode that writes synchronously
//     answers once with both.
//  6. Each replica's answer arrives at onAnswer (onReplicated, onHintAnswer)
//     and steps the machine (Put.Acked, Put.Failed). Once W replicas (PW of
//     them primaries) hold the write, the machine's Reply is carried out by
//     reply: a *Reply on Done. A refusal arrives as a *RefusedError; a
//     write that may or may not have landed as quorum.ErrIndeterminate.
//  8. The request lingers for the stragglers' answers; at the deadline
//     (onDeadline) it hints every replica that never answered (hintLate)
//     and is forgotten. An answer after that names no request and is
//     ignored.
//
// A conditional write (Request.Precondition) goes to the coordinating
// replica as a ConditionalPutRequest, and its machine is pinned
// (quorum.Put.Pin): the test is that replica's, against what it stores,
// and a second coordinator could pass the same test again. A refusal
// (ERROR_CODE_PRECONDITION_FAILED) is the definite answer.
//
// A DELETE sent without a context or a precondition (Request.readsFirst)
// first runs a read, as for a GET, whose answer goes to deleteRead instead
// of the client: quorum.BlindDelete then starts the write with the read's
// context, or answers NotFound (or the read's failure) with nothing
// written. The read's machine goes on repairing stale replicas beside the
// write's.
//
// # A GET, step by step
//
//  3. As for a PUT.
//  4. start runs quorum.NewGet on quorum.ReadTargets (the live owners:
//     fallbacks hold hints, not replicas); carryGet sends each a GetRequest
//     (KindRead).
//  5. Each answer arrives at onAnswer → onRead and steps the machine
//     (Get.Answered, Get.Failed). After R answers (PR from primaries) the
//     machine's Reply carries the merge of the answers to replyTo.
//  6. Once every owner answered or the deadline passed, the machine names
//     the replicas whose copy differs from the merge; carryGet sends each
//     the merge as a MergeRequest (KindRepair), not awaited, and counts it
//     in dht_read_repairs_total. The request is then forgotten.
//
// # Expiry
//
// A PUT's TTL goes to the coordinating replica as PutRequest.ttl_ms; that
// replica fixes the absolute expiry. Every answer (reply) is the object
// read at Config.Now (dvv.Set.At): a value past its expiry is a tombstone
// to the client, so a read finds it absent, a blind delete finds nothing
// to delete, and X-Dht-Siblings does not count it. What goes to replicas
// (replication, hints, read repair) is the object as stored, expiry
// included, so that no path can revive the value.
//
// Every request to a replica travels in a messages.Envelope, whether the
// vnode is local or on another node, with its own request id and the
// request's deadline.
//
// A coordinator that stops or restarts (a panic) loses its requests' state;
// it first answers every request still unanswered, a write as
// indeterminate and a read as timed out (abandon), so that no caller waits
// out its deadline for nothing.
//
// Concurrency: a coordinator is an actor; its requests' machines and
// ledgers are touched only from its Receive. The Router is shared by every
// coordinator of a node and must be safe for concurrent use.
package coordinator
