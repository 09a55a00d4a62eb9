package api

// RoutingPath is GET /v1/ring: the partition table and the nodes' HTTP
// addresses, for clients that send each key straight to one of its owners
// (client.WithRingRouting). It takes the client token: routing is a
// client's business, and the admin API's token is not.
const RoutingPath = "/v1/ring"

// RingVersionHeader carries, on every key-value answer, the version of the
// ring the answering node routes by (Routing.Version): a client that
// routes by an older table refreshes it.
const RingVersionHeader = "X-Dht-Ring-Version"

// Routing is the body of GET /v1/ring.
type Routing struct {
	// Partitions and N are the ring's shape; a key's partition is
	// ring.PartitionOf(key, Partitions).
	Partitions int `json:"partitions"`
	N          int `json:"n"`
	// Version is the ring's version, as the admin API's.
	Version uint64 `json:"version"`
	// Replicas[p] lists partition p's owners in preference order.
	Replicas [][]string `json:"replicas"`
	// Nodes are the nodes the answering node knows, by id.
	Nodes []RoutingNode `json:"nodes"`
}

// RoutingNode is one node of a Routing table.
type RoutingNode struct {
	ID       string `json:"id"`
	HTTPAddr string `json:"http_addr"`
	// Alive is what gossip says on the answering node.
	Alive bool `json:"alive"`
}
