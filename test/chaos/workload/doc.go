// Package workload runs the fault-injection suite's clients against a
// cluster and records what they do as a history.
//
// Each numbered client loops, until told to stop or a bound on its
// operations, over three kinds of operation against a random node of
// those that run:
//
//   - add: a read-modify-write of a random set key: read the siblings with
//     their context, merge them (the union of their elements, or, with the
//     lossy LWW resolver, the latest sibling's elements only), add a unique
//     element, and write the result back with the read's context;
//   - write: the next value of one of the client's own register keys, with
//     the context of its previous acknowledged write, or of a fresh read
//     after a write whose outcome it does not know; or, when the workload
//     has shared registers, half the time a read-modify-write of a shared
//     register: read it, write a new value with the read's context;
//   - read: any key. With the lossy LWW resolver, a read of a register
//     records only the latest sibling: what a client library that
//     resolves by last-write-wins hands the application.
//
// With Config.ColdKeys, each client first writes its share of the cold
// keys, once each; from then on they are only read, like data at rest.
//
// Every read (a plain one, or an add's) asks for Config.ReadR replies, or
// the nodes' default R when it is 0.
//
// Every operation is recorded before it is sent (invoke) and when it ends:
// ok, fail (known not to have taken effect) or indeterminate (a
// timeout or a connection lost after sending; client.IsIndeterminate).
// Operations run on their own deadline, so stopping the workload never cuts
// one short.
//
// Concurrency: Run starts one goroutine per client and returns when all
// have ended. Recorder is safe for concurrent use.
package workload
