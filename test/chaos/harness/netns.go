package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The network the harness builds. Every name starts with a prefix of its
// own, so that cleaning up never touches anything the harness did not make.
const (
	// BridgeName is the private bridge every namespace hangs off.
	BridgeName = "dhtchaos0"
	// NamespacePrefix starts every namespace's name: dhtchaos-n1, …
	NamespacePrefix = "dhtchaos-"
	// vethPrefix starts the root-side name of every veth pair.
	vethPrefix = "dhtcv"
	// Subnet is the bridge's /24; the root namespace is .1 and host i is
	// .10+i.
	Subnet = "10.77.0."
	// HostIP is the root namespace's address on the bridge, where the
	// harness's clients come from.
	HostIP = Subnet + "1"
	// ruleComment marks the one rule the harness adds in the root
	// namespace (accepting forwarded traffic within the bridge).
	ruleComment = "dhtchaos"
	// chain is the iptables chain in each namespace that holds the
	// partition's DROP rules; INPUT jumps to it.
	chain = "DHTCHAOS"
	// cmdTimeout bounds one ip or iptables command.
	cmdTimeout = 15 * time.Second
)

// Host is one network namespace on the bridge.
type Host struct {
	Index int
	// Namespace is the namespace's name (ip netns).
	Namespace string
	// IP is the host's address on the bridge.
	IP   string
	veth string
}

// Network is the bridge, its namespaces and the partition rules in them.
// Its methods are safe for concurrent use.
type Network struct {
	mu struct {
		sync.Mutex
		// hosts are the hosts whose set-up completed: partitions apply
		// to them. made are all hosts whose set-up began, for Teardown:
		// a set-up cut short (the fault window closed during a join)
		// leaves a namespace without the chain a partition rewrites.
		hosts   []*Host
		made    []*Host
		forward bool // the root FORWARD rule is in place
	}
}

// NewNetwork removes what a previous run may have left behind, then creates
// the bridge with the root namespace's address on it. Forwarded traffic
// between the bridge's ports is accepted explicitly: with br_netfilter
// loaded (as Docker does) bridged packets cross the root namespace's
// FORWARD chain, whose policy Docker sets to DROP.
func NewNetwork(ctx context.Context) (*Network, error) {
	if err := CleanLeftovers(ctx); err != nil {
		return nil, fmt.Errorf("harness: cleaning a previous run's leftovers: %w", err)
	}
	n := &Network{}
	steps := [][]string{
		{"ip", "link", "add", BridgeName, "type", "bridge"},
		{"ip", "addr", "add", HostIP + "/24", "dev", BridgeName},
		{"ip", "link", "set", BridgeName, "up"},
	}
	for _, s := range steps {
		if _, err := run(ctx, s...); err != nil {
			_ = n.Teardown(context.Background())
			return nil, err
		}
	}
	if _, err := run(ctx, forwardRule("-I")...); err != nil {
		_ = n.Teardown(context.Background())
		return nil, err
	}
	n.mu.Lock()
	n.mu.forward = true
	n.mu.Unlock()
	return n, nil
}

func forwardRule(op string) []string {
	args := []string{"iptables", "-w", op, "FORWARD"}
	if op == "-I" {
		args = append(args, "1")
	}
	return append(args, "-i", BridgeName, "-o", BridgeName, "-m", "comment", "--comment", ruleComment, "-j", "ACCEPT")
}

// AddHost creates namespace i with its veth pair on the bridge, its address
// and an empty partition chain.
func (n *Network) AddHost(ctx context.Context, i int) (*Host, error) {
	h := &Host{Index: i, Namespace: fmt.Sprintf("%sn%d", NamespacePrefix, i), IP: Subnet + strconv.Itoa(10+i), veth: vethPrefix + strconv.Itoa(i)}
	peer := h.veth + "p"
	steps := [][]string{
		{"ip", "netns", "add", h.Namespace},
		{"ip", "link", "add", h.veth, "type", "veth", "peer", "name", peer},
		{"ip", "link", "set", peer, "netns", h.Namespace},
		{"ip", "link", "set", h.veth, "master", BridgeName},
		{"ip", "link", "set", h.veth, "up"},
		{"ip", "-n", h.Namespace, "link", "set", peer, "name", "eth0"},
		{"ip", "-n", h.Namespace, "addr", "add", h.IP + "/24", "dev", "eth0"},
		{"ip", "-n", h.Namespace, "link", "set", "eth0", "up"},
		{"ip", "-n", h.Namespace, "link", "set", "lo", "up"},
		{"ip", "netns", "exec", h.Namespace, "iptables", "-w", "-N", chain},
		{"ip", "netns", "exec", h.Namespace, "iptables", "-w", "-A", "INPUT", "-j", chain},
	}
	n.mu.Lock()
	n.mu.made = append(n.mu.made, h) // before the steps, so Teardown removes a half-made host
	n.mu.Unlock()
	for _, s := range steps {
		if _, err := run(ctx, s...); err != nil {
			return nil, err
		}
	}
	n.mu.Lock()
	n.mu.hosts = append(n.mu.hosts, h)
	n.mu.Unlock()
	return h, nil
}

// Drops says, for each host, the hosts whose packets it drops: host A
// listing B means A no longer hears B (B still hears A unless B lists A).
type Drops map[*Host][]*Host

// Partition replaces every host's DROP rules with drops (hosts not named
// drop nothing). The root namespace, where the clients are, is never cut
// off. Each host's chain is replaced in one iptables-restore, so a host
// never drops half of a partition.
//
// The rules are applied whole even when ctx ends meanwhile: a scenario's
// fault window can close between its check and this call, and a deadline
// that cut the loop over hosts short would leave some hosts partitioned
// and report a harness failure for what is only the window's end. Each
// command is still bounded by cmdTimeout.
func (n *Network) Partition(ctx context.Context, drops Drops) error {
	ctx = context.WithoutCancel(ctx)
	n.mu.Lock()
	hosts := slices.Clone(n.mu.hosts)
	n.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		var b strings.Builder
		fmt.Fprintf(&b, "*filter\n:%s - [0:0]\n", chain)
		for _, from := range drops[h] {
			fmt.Fprintf(&b, "-A %s -s %s/32 -j DROP\n", chain, from.IP)
		}
		b.WriteString("COMMIT\n")
		if _, err := runInput(ctx, b.String(), "ip", "netns", "exec", h.Namespace, "iptables-restore", "-w", "--noflush"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Heal removes every DROP rule.
func (n *Network) Heal(ctx context.Context) error { return n.Partition(ctx, nil) }

// Teardown kills whatever still runs in the namespaces, deletes them, the
// veth pairs, the bridge and the root FORWARD rule. It carries on past
// errors and returns them all.
func (n *Network) Teardown(ctx context.Context) error {
	n.mu.Lock()
	hosts := slices.Clone(n.mu.made)
	forward := n.mu.forward
	n.mu.hosts, n.mu.made, n.mu.forward = nil, nil, false
	n.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		errs = append(errs, removeNamespace(ctx, h.Namespace))
		// Deleting the namespace deletes the pair, though not always
		// before ip returns.
		errs = append(errs, deleteLink(ctx, h.veth))
	}
	errs = append(errs, deleteLink(ctx, BridgeName))
	if forward {
		_, err := run(ctx, forwardRule("-D")...)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CleanLeftovers removes what a crashed earlier run left: processes in
// namespaces named NamespacePrefix…, those namespaces, veths named
// vethPrefix…, the bridge, and root FORWARD rules with the harness's
// comment. Nothing else is touched.
func CleanLeftovers(ctx context.Context) error {
	var errs []error
	out, err := run(ctx, "ip", "netns", "list")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], NamespacePrefix) {
			errs = append(errs, removeNamespace(ctx, f[0]))
		}
	}
	out, err = run(ctx, "ip", "-o", "link", "show")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		// "12: dhtcv1@if11: <…" or "5: dhtchaos0: <…"
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if strings.HasPrefix(name, vethPrefix) || name == BridgeName {
			errs = append(errs, deleteLink(ctx, name))
		}
	}
	out, err = run(ctx, "iptables", "-w", "-S", "FORWARD")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "-A FORWARD ") || !strings.Contains(line, "--comment "+ruleComment+" ") {
			continue
		}
		args := append([]string{"iptables", "-w", "-D"}, strings.Fields(line)[1:]...)
		_, err := run(ctx, args...)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeNamespace SIGKILLs every process in the namespace (a stopped one
// too), waits briefly for them to go, and deletes the namespace.
func removeNamespace(ctx context.Context, ns string) error {
	for attempt := 0; attempt < 50; attempt++ {
		pids := namespacePids(ctx, ns)
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err := run(ctx, "ip", "netns", "del", ns)
	return err
}

func namespacePids(ctx context.Context, ns string) []int {
	out, err := run(ctx, "ip", "netns", "pids", ns)
	if err != nil {
		return nil
	}
	var pids []int
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if pid, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil && pid > 1 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// deleteLink deletes a link; one that is already gone is no error. Deleting
// a namespace or one end of a veth pair removes the other end in the
// kernel's own time, so the link may vanish between the caller's look and
// ip's: "Cannot find device" (ip's own lookup failed) and "No such device"
// (the kernel's answer to the delete) both mean it is gone, and any other
// failure is checked against whether the link still exists.
func deleteLink(ctx context.Context, name string) error {
	out, err := run(ctx, "ip", "link", "del", name)
	if err == nil || linkGone(out) {
		return nil
	}
	if show, serr := run(ctx, "ip", "link", "show", name); serr != nil && linkGone(show) {
		return nil
	}
	return err
}

// linkGone reports whether ip's output says the link does not exist.
func linkGone(out string) bool {
	return strings.Contains(out, "Cannot find device") || strings.Contains(out, "No such device") ||
		strings.Contains(out, "does not exist")
}

// run runs a command, bounded by cmdTimeout, and returns its output; the
// error quotes the output.
func run(ctx context.Context, args ...string) (string, error) {
	return runInput(ctx, "", args...)
}

func runInput(ctx context.Context, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// CheckTools reports what the harness needs and cannot find: root, ip,
// iptables and iptables-restore.
func CheckTools() error {
	var missing []string
	if syscall.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces and iptables)")
	}
	for _, tool := range []string{"ip", "iptables", "iptables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("harness: needs %s", strings.Join(missing, ", "))
	}
	return nil
}
