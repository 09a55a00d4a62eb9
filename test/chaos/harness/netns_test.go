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

// TestHeal_SkipsAHostWhoseSetUpWasCutShort: a join's host set-up cut short
// by the end of a fault window (its context cancelled) leaves a host
// without the chain a partition rewrites. Heal must not touch it: it used
// to run iptables-restore in a namespace that was never made, and the
// scenario failed on a harness error (chaos joins, seed
// 5638542054148363105). No root needed: the cancelled set-up runs nothing.
func TestHeal_SkipsAHostWhoseSetUpWasCutShort(t *testing.T) {
	var n Network
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.AddHost(ctx, 97); err == nil {
		t.Fatal("AddHost with a cancelled context succeeded")
	}
	if err := n.Heal(context.Background()); err != nil {
		t.Fatalf("Heal after a set-up cut short: %v, want nil", err)
	}
}
