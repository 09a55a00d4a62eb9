// Package security holds the real-process security suite: three-node dhtd
// clusters, started with package test/process, attacked at their node
// boundary the way an outsider on the network (or a client of the HTTP API)
// would, and checked afterwards for what must still hold.
//
// What it covers:
//
//   - the remote (gRPC) port with mutual TLS: no certificate, a certificate
//     of another CA, an expired one, and a valid member certificate whose
//     holder claims another member's address are refused, and neither
//     forged writes (MergeRequest) nor forged ring gossip (removing a
//     member) change anything;
//   - the remote port's frame guard: protoactor's crash shapes and
//     thousands of seeded, mutated message batches leave every node alive
//     and serving, in plaintext and with mutual TLS;
//   - forged causal contexts under security.context_secret (400
//     bad_context), and that they cannot make a key unwritable;
//   - the sibling bound under 1,000 concurrent blind writers;
//   - HTTPS on the API: plain HTTP, an unknown CA and a missing client
//     certificate are refused;
//   - certificate rotation without a restart while clients write.
//
// Every test logs its figures as a small table. The package has no
// non-test code besides this comment; its tests live in *_test.go files.
//
// Randomised parts take a seed from test/testutil, log it in their tables,
// and accept it back through the shared -seed flag or $DHT_TEST_SEED.
package security
