// Package history is the record of one fault-injection run: every client
// operation (invoked, then acknowledged, failed or indeterminate), the
// faults injected, and the final state read once the cluster has healed.
// The checker decides from it alone.
//
// A history is a sequence of Op values, written as JSON lines (Encoder,
// Decode) while the run goes on, so that a crashed run still leaves its
// record. Each client has at most one operation in flight: an invoke is
// followed by that client's completion (ok, fail or indeterminate) before its next
// invoke, as in Jepsen histories.
//
// Keys are of two kinds, told apart by their prefix (KindOf):
//
//   - set keys ("set/…"): clients read the siblings, take the union of
//     their elements, add one unique element and write the result back with
//     the read's context. The stored value names the write that made it
//     (SetValue.ID, which is also the element it added), so a read records
//     which writes it saw without copying whole sets.
//   - register keys ("reg/…"): one client writes unique values one after the
//     other, each with the context of its previous write (or of a read after
//     a write whose outcome it does not know). The value is its own ID.
//
// The package is pure: it encodes and decodes through io.Reader and
// io.Writer and touches no files, clocks or goroutines.
package history
