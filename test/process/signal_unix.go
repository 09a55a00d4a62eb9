//go:build unix

package process

import (
	"errors"
	"os"
	"syscall"
)

// Pause sends SIGSTOP: the process keeps its sockets open but answers
// nothing, like a hung machine or a long stall, so its peers learn of it
// only from timeouts and, seconds later, gossip. Resume continues it; a
// paused node is still killed by the test's cleanup.
func (n *Node) Pause() { n.signal(syscall.SIGSTOP, "pause") }

// Resume sends SIGCONT to a paused node.
func (n *Node) Resume() { n.signal(syscall.SIGCONT, "resume") }

func (n *Node) signal(sig os.Signal, what string) {
	n.t.Helper()
	if !n.Running() {
		n.t.Fatalf("process: %s %s: not running", what, n.opts.ID)
	}
	if err := n.proc.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		n.t.Fatalf("process: %s %s: %v", what, n.opts.ID, err)
	}
}
