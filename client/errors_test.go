package client_test

import (
	"testing"

	"github.com/dhtkv/dht/client"
)

func TestError_SaysEachThingOnce(t *testing.T) {
	tests := []struct {
		name string
		err  client.Error
		want string
	}{
		{"the code's sentinel leads the node's chain",
			client.Error{Status: 409, Code: "conflict", Message: "conflict: refused: node-b is alive; decommission it"},
			"dht: 409 conflict: refused: node-b is alive; decommission it"},
		{"the code spelled with spaces",
			client.Error{Status: 404, Code: "unknown_node", Message: "unknown node: node-x"},
			"dht: 404 unknown_node: node-x"},
		{"a proxy's body repeats the status",
			client.Error{Status: 404, Message: "404 page not found"},
			"dht: 404: page not found"},
		{"a proxy's body is the status text",
			client.Error{Status: 502, Message: "502 Bad Gateway"},
			"dht: 502: bad gateway"},
		{"a message that is only the code",
			client.Error{Status: 404, Code: "not_found", Message: "not found"},
			"dht: 404 not_found"},
		{"a word inside the message stays",
			client.Error{Status: 503, Code: "timeout", Message: "timeout waiting for 2 replicas"},
			"dht: 503 timeout: timeout waiting for 2 replicas"},
		{"nothing repeated",
			client.Error{Status: 400, Code: "bad_quorum", Message: "r=5 exceeds n=3"},
			"dht: 400 bad_quorum: r=5 exceeds n=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
