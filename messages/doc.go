// Package messages holds the store's protobuf messages, generated from
// dht.proto by `make proto`; this file and the .proto are the only hand-written
// parts, and it holds no logic.
//
// Everything sent between nodes travels in an Envelope, whose oneof body
// names the request or reply: protoactor-go crashes a receiver that meets a
// top-level proto type it does not know, whereas an unknown oneof case
// decodes cleanly, so nodes of different versions can meet during a rolling
// upgrade. Conversion to the domain types lives in wire.
package messages
