package harness

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
)

// TestLinkGone_RecognisesEveryWayIpSaysALinkIsGone covers the messages of
// a link that vanished: ip's own lookup failing, the kernel answering the
// delete (the flake of seed 5872053850610556629, where deleting a
// namespace took the veth's peer with it while ip ran), and ip link show.
func TestLinkGone_RecognisesEveryWayIpSaysALinkIsGone(t *testing.T) {
	for _, tc := range []struct {
		out  string
		gone bool
	}{
		{`Cannot find device "dhtcv5"`, true},
		{"RTNETLINK answers: No such device", true},
		{`Device "dhtcv5" does not exist.`, true},
		{"RTNETLINK answers: Operation not permitted", false},
		{"", false},
	} {
		if got := linkGone(tc.out); got != tc.gone {
			t.Errorf("linkGone(%q) = %v, want %v", tc.out, got, tc.gone)
		}
	}
}

// TestDeleteLink_AlreadyGoneIsNoError deletes one end of a real veth pair,
// which takes the other end with it, then deletes the other end: no error,
// as in a teardown that removes a namespace and then its veth. Needs root.
func TestDeleteLink_AlreadyGoneIsNoError(t *testing.T) {
	if syscall.Geteuid() != 0 {
		t.Skip("needs root to create links")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2)")
	}
	ctx := context.Background()
	name := vethPrefix + "t9"
	_ = deleteLink(ctx, name)
	if _, err := run(ctx, "ip", "link", "add", name, "type", "veth", "peer", "name", name+"p"); err != nil {
		t.Fatalf("creating a veth pair: %v", err)
	}
	if err := deleteLink(ctx, name+"p"); err != nil {
		t.Fatalf("deleting the peer: %v", err)
	}
	if err := deleteLink(ctx, name); err != nil {
		t.Fatalf("deleting the end the peer took with it: %v, want no error", err)
	}
	if err := deleteLink(ctx, name); err != nil {
		t.Fatalf("deleting it once more: %v, want no error", err)
	}
}
