package helm

// The chart boots: TestChart_Boots renders the chart and runs its
// StatefulSet's pods as docker containers, doing by hand what the kubelet
// and the cluster DNS would do, then checks that they form one cluster and
// serve quorum I/O. Nothing about the pods is written here: the command, the
// environment, the mounts, the ports, the security context and the DNS
// names all come from the rendered manifests, so a chart change that would
// keep pods from forming a cluster fails it.
//
// What the kubelet would do, and what the containers get instead:
//
//	pod name, hostname          container hostname <statefulset>-<ordinal>
//	pod IP (status.podIP)       a fixed address on a private docker network
//	<pod>.<serviceName>.<ns>.svc.<domain>
//	                            a network alias, resolved by docker's DNS;
//	                            the pod's resolv.conf search list and ndots:5
//	                            as --dns-search and --dns-option
//	downward API, secretKeyRef  resolved by environ (config_test.go)
//	ConfigMap / Secret volume   the rendered data written to files, bind-
//	                            mounted (read-only as the mount says)
//	volumeClaimTemplate         a tmpfs owned by fsGroup (mode 2775)
//	emptyDir                    a tmpfs (sizeLimit, mode 1777)
//	securityContext             --user, --group-add, --read-only, --cap-drop,
//	                            no-new-privileges
//	resources.limits            --memory, --cpus
//	the client Service          the port it targets, published on 127.0.0.1
//
// One difference: docker's DNS also answers each container's bare host name
// (the pod name), which no other pod could resolve in Kubernetes. So the
// test requires every address a node advertises to be its pod IP.
//
// It needs docker and an image built by `make image`; without
// DHT_BOOT_IMAGE it skips. `make helm-boot-test` builds the image and runs it.
// The containers' logs are printed when it fails, or always with
// DHT_BOOT_LOGS=1. DHT_BOOT_HELM_ARGS adds helm arguments to the rendering
// ("--set config.log.level=debug").

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/dhtkv/dht/cluster/certs"
	"github.com/dhtkv/dht/config"
)

const (
	// bootRelease differs from the chart's name, so the full name is
	// "<release>-dht" and the pods are boot-dht-0, boot-dht-1, ...
	bootRelease = "boot"
	// clusterDomain is the simulated cluster's DNS domain (the kubelet's
	// --cluster-domain), not a chart value: the chart must render names
	// under it with its defaults.
	clusterDomain = "cluster.local"
	// bootLabel marks every container and network the test creates, so a
	// run can remove what an interrupted one left behind.
	bootLabel = "dht.chartboot"
	// bootTimeout bounds the wait for the cluster to form.
	bootTimeout = 90 * time.Second
)

// kubelet is what the simulated node gives every pod.
type kubelet struct {
	network   string // docker network of the pods
	hostDir   string // where ConfigMap and Secret volumes are written
	imageUser string // the image's USER, for runAsNonRoot
}

// hostFile is a file to write on the host before the container starts.
type hostFile struct {
	path string
	data []byte
	mode os.FileMode
	gid  int // group to own the file; -1 leaves it
}

// dockerRun is one pod of the StatefulSet as a docker container.
type dockerRun struct {
	pod
	container string   // docker container name
	fqdn      string   // the pod's DNS name under the headless service
	args      []string // `docker run` arguments, image and command included
	// env are the container's variables as NAME=value. args name them with
	// `-e NAME` and the docker CLI reads the values from its own
	// environment, so the Secret's values stay off command lines.
	env   []string
	dirs  []string // host directories to create (mode 0755) before files
	files []hostFile
	// published are the container ports published on 127.0.0.1: the port
	// the client Service targets and the readiness probe's.
	published   []int32
	tcpPorts    []int32 // the container's declared TCP ports
	apiPort     int32   // the client Service's target port
	remotePort  int32   // the container port named "remote"
	readyPath   string  // the readiness probe's HTTP GET path
	readyPort   int32
	readyScheme corev1.URIScheme // HTTP or HTTPS
}

// dockerRunFor turns pod p of the rendered StatefulSet into a docker
// container, as the kubelet would start it. Anything in the pod spec that
// it cannot mirror fails the test rather than being dropped.
func dockerRunFor(t *testing.T, ms []manifest, p pod, k kubelet) dockerRun {
	t.Helper()
	sts := one[*appsv1.StatefulSet](t, ms)
	spec := sts.Spec.Template.Spec
	if len(spec.InitContainers) > 0 {
		t.Fatalf("init containers are not simulated (zone.source=nodeLabel needs a kubectl image)")
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers in the pod, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if len(c.EnvFrom) > 0 {
		t.Fatalf("container %s: envFrom is not simulated", c.Name)
	}
	if spec.DNSPolicy != "" && spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Fatalf("dnsPolicy %s is not simulated", spec.DNSPolicy)
	}

	// Names: the StatefulSet controller sets the pod's hostname to its name
	// and its subdomain to serviceName, the headless service that gives it
	// a DNS record even before it is ready.
	headless := named[*corev1.Service](t, ms, sts.Spec.ServiceName)
	if headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Fatalf("serviceName %s is not a headless service: the pods get no DNS names", headless.Name)
	}
	if !headless.Spec.PublishNotReadyAddresses {
		t.Fatalf("%s does not publish not-ready addresses: no pod's name resolves before it is ready, and it cannot become ready before it joins", headless.Name)
	}
	hostname := p.name
	if spec.Hostname != "" {
		hostname = spec.Hostname
	}
	ns := sts.Namespace
	if ns == "" {
		ns = namespace
	}
	r := dockerRun{
		pod:       p,
		container: "chartboot-" + p.name,
		fqdn:      fmt.Sprintf("%s.%s.%s.svc.%s", hostname, headless.Name, ns, clusterDomain),
	}
	image := c.Image
	if image == "" {
		t.Fatalf("container %s has no image", c.Name)
	}
	args := []string{
		"--detach", "--pull", "never",
		"--name", r.container,
		"--label", bootLabel + "=1",
		"--hostname", hostname,
		"--network", k.network, "--ip", p.ip,
		"--network-alias", r.fqdn,
		// A pod's resolv.conf under dnsPolicy ClusterFirst.
		"--dns-search", fmt.Sprintf("%s.svc.%s", ns, clusterDomain),
		"--dns-search", "svc." + clusterDomain,
		"--dns-search", clusterDomain,
		"--dns-option", "ndots:5",
	}
	for _, key := range slices.Sorted(maps.Keys(p.labels)) {
		args = append(args, "--label", key+"="+p.labels[key])
	}
	if g := spec.TerminationGracePeriodSeconds; g != nil {
		args = append(args, "--stop-timeout", strconv.FormatInt(*g, 10))
	}
	args = append(args, securityArgs(t, spec.SecurityContext, c.SecurityContext, k.imageUser)...)
	if mem := c.Resources.Limits.Memory(); !mem.IsZero() {
		args = append(args, "--memory", strconv.FormatInt(mem.Value(), 10))
	}
	if cpu := c.Resources.Limits.Cpu(); !cpu.IsZero() {
		args = append(args, "--cpus", strconv.FormatFloat(float64(cpu.MilliValue())/1000, 'f', -1, 64))
	}

	// Volumes.
	var fsGroup *int64
	if spec.SecurityContext != nil {
		fsGroup = spec.SecurityContext.FSGroup
	}
	for _, m := range c.VolumeMounts {
		if m.SubPath != "" || m.SubPathExpr != "" {
			t.Fatalf("volume mount %s: subPath is not simulated", m.Name)
		}
		vol, claim := podVolume(spec, sts, m.Name)
		switch {
		case claim:
			// A fresh volume: root-owned, unless fsGroup makes it the
			// group's (setgid, group-writable), as the kubelet does.
			opts := "mode=0755"
			if fsGroup != nil {
				opts = fmt.Sprintf("gid=%d,mode=2775", *fsGroup)
			}
			args = append(args, "--tmpfs", m.MountPath+":"+withRO(opts, m.ReadOnly))
		case vol == nil:
			t.Fatalf("volume mount %s: no such volume or claim template", m.Name)
		case vol.EmptyDir != nil:
			opts := "mode=1777"
			if l := vol.EmptyDir.SizeLimit; l != nil && !l.IsZero() {
				opts += ",size=" + strconv.FormatInt(l.Value(), 10)
			}
			args = append(args, "--tmpfs", m.MountPath+":"+withRO(opts, m.ReadOnly))
		case vol.ConfigMap != nil, vol.Secret != nil, vol.Projected != nil:
			dir := filepath.Join(k.hostDir, p.name, m.Name)
			r.dirs = append(r.dirs, dir)
			// The kubelet gives the files of a Secret or projected volume
			// to the fsGroup, readable by it.
			gid := -1
			if fsGroup != nil && vol.ConfigMap == nil {
				gid = int(*fsGroup)
			}
			for name, data := range volumeFiles(t, ms, vol) {
				mode := name.mode
				if gid >= 0 {
					mode |= 0o440
				}
				r.files = append(r.files, hostFile{path: filepath.Join(dir, name.path), data: data, mode: mode, gid: gid})
			}
			mount := fmt.Sprintf("type=bind,source=%s,target=%s", dir, m.MountPath)
			if m.ReadOnly {
				mount += ",readonly"
			}
			args = append(args, "--mount", mount)
		default:
			t.Fatalf("volume %s: only configMap, secret, projected, emptyDir and claim templates are simulated", m.Name)
		}
	}
	slices.SortFunc(r.files, func(a, b hostFile) int { return strings.Compare(a.path, b.path) })

	// Ports: the client Service's target and the readiness probe, on
	// loopback only. Gossip and remote traffic stays on the network.
	r.apiPort = clientServicePort(t, ms, sts, c)
	for _, p := range c.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			r.tcpPorts = append(r.tcpPorts, p.ContainerPort)
		}
	}
	r.remotePort = containerPort(t, c, intstr.FromString("remote"))
	probe := c.ReadinessProbe
	if probe == nil || probe.HTTPGet == nil {
		t.Fatalf("container %s has no HTTP readiness probe", c.Name)
	}
	r.readyPath = probe.HTTPGet.Path
	r.readyPort = containerPort(t, c, probe.HTTPGet.Port)
	r.readyScheme = probe.HTTPGet.Scheme
	if r.readyScheme == "" {
		r.readyScheme = corev1.URISchemeHTTP
	}
	r.published = []int32{r.apiPort}
	if r.readyPort != r.apiPort {
		r.published = append(r.published, r.readyPort)
	}
	for _, port := range r.published {
		args = append(args, "--publish", fmt.Sprintf("127.0.0.1::%d/tcp", port))
	}

	// Environment, then $(VAR) references in the command line, as the
	// kubelet expands them.
	r.env = environ(t, ms, c, p)
	vars := map[string]string{}
	for _, kv := range r.env {
		name, value, _ := strings.Cut(kv, "=")
		vars[name] = value
		args = append(args, "--env", name)
	}
	expand := func(s string) string {
		return envRef.ReplaceAllStringFunc(s, func(ref string) string {
			if v, ok := vars[ref[2:len(ref)-1]]; ok {
				return v
			}
			return ref
		})
	}
	if c.WorkingDir != "" {
		args = append(args, "--workdir", c.WorkingDir)
	}
	// command replaces the image's ENTRYPOINT and args its CMD; docker's
	// --entrypoint takes one word and clears the CMD.
	var cmdline []string
	if len(c.Command) > 0 {
		args = append(args, "--entrypoint", expand(c.Command[0]))
		cmdline = append(cmdline, c.Command[1:]...)
	}
	cmdline = append(cmdline, c.Args...)
	args = append(args, image)
	for _, a := range cmdline {
		args = append(args, expand(a))
	}
	r.args = args
	return r
}

func withRO(opts string, ro bool) string {
	if ro {
		return opts + ",ro"
	}
	return opts
}

// podVolume finds the volume a mount names: a pod volume, or (claim true) a
// volume claim template of the StatefulSet.
func podVolume(spec corev1.PodSpec, sts *appsv1.StatefulSet, name string) (vol *corev1.Volume, claim bool) {
	for i, v := range spec.Volumes {
		if v.Name == name {
			return &spec.Volumes[i], false
		}
	}
	for _, c := range sts.Spec.VolumeClaimTemplates {
		if c.Name == name {
			return nil, true
		}
	}
	return nil, false
}

type volumeFile struct {
	path string
	mode os.FileMode
}

// volumeFiles returns the files of a ConfigMap, Secret or projected volume
// as the kubelet projects them: every key, or the items listed, with the
// volume's default mode (0644). A Secret or ConfigMap that is not in ms, or
// an item that is not in its data, fails the test: the kubelet would not
// start the pod.
func volumeFiles(t *testing.T, ms []manifest, vol *corev1.Volume) map[volumeFile][]byte {
	t.Helper()
	modeOf := func(m *int32) os.FileMode {
		if m == nil {
			return 0o644
		}
		return os.FileMode(*m)
	}
	out := map[volumeFile][]byte{}
	seen := map[string]bool{}
	project := func(source string, data map[string][]byte, items []corev1.KeyToPath, mode os.FileMode) {
		add := func(p string, m os.FileMode, v []byte) {
			p = path.Clean(p)
			if seen[p] {
				t.Fatalf("volume %s: two files at %s", vol.Name, p)
			}
			seen[p] = true
			out[volumeFile{p, m}] = v
		}
		if len(items) == 0 {
			for k, v := range data {
				add(k, mode, v)
			}
			return
		}
		for _, it := range items {
			v, ok := data[it.Key]
			if !ok {
				t.Fatalf("volume %s: key %s is not in %s", vol.Name, it.Key, source)
			}
			m := mode
			if it.Mode != nil {
				m = os.FileMode(*it.Mode)
			}
			add(it.Path, m, v)
		}
	}
	configMap := func(name string) map[string][]byte {
		cm := named[*corev1.ConfigMap](t, ms, name)
		data := map[string][]byte{}
		for k, v := range cm.Data {
			data[k] = []byte(v)
		}
		maps.Copy(data, cm.BinaryData)
		return data
	}
	secret := func(name string) map[string][]byte {
		return named[*corev1.Secret](t, ms, name).Data
	}
	switch {
	case vol.ConfigMap != nil:
		project("ConfigMap "+vol.ConfigMap.Name, configMap(vol.ConfigMap.Name), vol.ConfigMap.Items, modeOf(vol.ConfigMap.DefaultMode))
	case vol.Secret != nil:
		project("Secret "+vol.Secret.SecretName, secret(vol.Secret.SecretName), vol.Secret.Items, modeOf(vol.Secret.DefaultMode))
	case vol.Projected != nil:
		mode := modeOf(vol.Projected.DefaultMode)
		for _, src := range vol.Projected.Sources {
			switch {
			case src.Secret != nil:
				project("Secret "+src.Secret.Name, secret(src.Secret.Name), src.Secret.Items, mode)
			case src.ConfigMap != nil:
				project("ConfigMap "+src.ConfigMap.Name, configMap(src.ConfigMap.Name), src.ConfigMap.Items, mode)
			default:
				t.Fatalf("volume %s: only secret and configMap sources of a projected volume are simulated", vol.Name)
			}
		}
	default:
		t.Fatalf("volume %s: not a configMap, secret or projected volume", vol.Name)
	}
	return out
}

// securityArgs mirrors the pod's and the container's securityContext (the
// container's settings win) with what docker offers; a setting it cannot
// mirror fails the test.
func securityArgs(t *testing.T, psc *corev1.PodSecurityContext, sc *corev1.SecurityContext, imageUser string) []string {
	t.Helper()
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	pick := func(c, p *int64) *int64 {
		if c != nil {
			return c
		}
		return p
	}
	var args []string
	uid, gid := pick(sc.RunAsUser, psc.RunAsUser), pick(sc.RunAsGroup, psc.RunAsGroup)
	switch {
	case uid != nil && gid != nil:
		args = append(args, "--user", fmt.Sprintf("%d:%d", *uid, *gid))
	case uid != nil:
		args = append(args, "--user", strconv.FormatInt(*uid, 10))
	case gid != nil:
		t.Fatal("runAsGroup without runAsUser is not simulated")
	}
	nonRoot := sc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	if nonRoot != nil && *nonRoot {
		// The kubelet refuses to start a container that would run as root,
		// or as a user name it cannot check.
		effective := imageUser
		if uid != nil {
			effective = strconv.FormatInt(*uid, 10)
		}
		effective, _, _ = strings.Cut(effective, ":")
		if n, err := strconv.ParseInt(effective, 10, 64); err != nil || n == 0 {
			t.Fatalf("runAsNonRoot, but the container would run as %q: the kubelet would not start it", effective)
		}
	}
	if psc.FSGroup != nil {
		args = append(args, "--group-add", strconv.FormatInt(*psc.FSGroup, 10))
	}
	for _, g := range psc.SupplementalGroups {
		args = append(args, "--group-add", strconv.FormatInt(g, 10))
	}
	if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		args = append(args, "--read-only")
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		args = append(args, "--security-opt", "no-new-privileges")
	}
	if sc.Privileged != nil && *sc.Privileged {
		args = append(args, "--privileged")
	}
	if caps := sc.Capabilities; caps != nil {
		for _, c := range caps.Drop {
			args = append(args, "--cap-drop", string(c))
		}
		for _, c := range caps.Add {
			args = append(args, "--cap-add", string(c))
		}
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp != nil {
		switch seccomp.Type {
		case corev1.SeccompProfileTypeRuntimeDefault: // docker's default profile
		case corev1.SeccompProfileTypeUnconfined:
			args = append(args, "--security-opt", "seccomp=unconfined")
		default:
			t.Fatalf("seccompProfile %s is not simulated", seccomp.Type)
		}
	}
	return args
}

// clientServicePort is the container port that the chart's client Service
// (the one that is not headless and selects the pods) sends its HTTP port to.
func clientServicePort(t *testing.T, ms []manifest, sts *appsv1.StatefulSet, c corev1.Container) int32 {
	t.Helper()
	var found []int32
	for _, svc := range all[*corev1.Service](ms) {
		if svc.Spec.ClusterIP == corev1.ClusterIPNone || !selects(svc.Spec.Selector, sts.Spec.Template.Labels) {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == "http" {
				target := p.TargetPort
				if target.Type == intstr.Int && target.IntVal == 0 {
					target = intstr.FromInt32(p.Port)
				}
				found = append(found, containerPort(t, c, target))
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one client Service with an http port selecting the pods, found %d", len(found))
	}
	return found[0]
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// containerPort resolves a port number or name of container c.
func containerPort(t *testing.T, c corev1.Container, port intstr.IntOrString) int32 {
	t.Helper()
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal && (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no TCP port named %q", c.Name, port.StrVal)
	return 0
}

// bootPods are the simulated pods of a StatefulSet of n replicas: names
// from the StatefulSet, addresses from subnet, one zone each as the
// PodTopologyLabels admission plugin would copy it from the node.
func bootPods(t *testing.T, ms []manifest, subnet netip.Prefix) []pod {
	t.Helper()
	sts := one[*appsv1.StatefulSet](t, ms)
	n := 1
	if sts.Spec.Replicas != nil {
		n = int(*sts.Spec.Replicas)
	}
	pods := make([]pod, n)
	addr := subnet.Masked().Addr()
	for range 10 { // .1 is docker's gateway; the pods start at .11
		addr = addr.Next()
	}
	for i := range pods {
		addr = addr.Next()
		if !subnet.Contains(addr) {
			t.Fatalf("subnet %s has no room for %d pods", subnet, n)
		}
		labels := map[string]string{"topology.kubernetes.io/zone": fmt.Sprintf("zone-%c", 'a'+i)}
		for k, v := range sts.Spec.Template.Labels {
			labels[k] = v
		}
		labels["statefulset.kubernetes.io/pod-name"] = fmt.Sprintf("%s-%d", sts.Name, i)
		pods[i] = pod{
			name:   fmt.Sprintf("%s-%d", sts.Name, i),
			ip:     addr.String(),
			node:   fmt.Sprintf("node-%c", 'a'+i),
			labels: labels,
		}
	}
	return pods
}

// renderBoot renders the chart as the boot test runs it: release
// bootRelease, the image given, everything else the chart's defaults unless
// extra (helm arguments) says otherwise.
func renderBoot(t *testing.T, image string, extra ...string) []manifest {
	t.Helper()
	repo, tag := image, ""
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		repo, tag = image[:i], image[i+1:]
	}
	args := []string{"template", bootRelease, chartDir, "--namespace", namespace, "--set", "image.repository=" + repo}
	if tag != "" {
		args = append(args, "--set", "image.tag="+tag)
	}
	args = append(args, extra...)
	out, err := runHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := decodeAll(out)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestBoot_DockerRun checks the translation of the default rendering into
// docker containers, without docker.
func TestBoot_DockerRun(t *testing.T) {
	ms := renderBoot(t, "dht:dev")
	pods := bootPods(t, ms, netip.MustParsePrefix("172.30.0.0/24"))
	if len(pods) != 3 || pods[0].name != "boot-dht-0" || pods[2].ip != "172.30.0.13" {
		t.Fatalf("pods = %+v, want boot-dht-0..2 at 172.30.0.11..13", pods)
	}
	hostDir := t.TempDir()
	r := dockerRunFor(t, ms, pods[1], kubelet{network: "net", hostDir: hostDir, imageUser: "65532:65532"})
	args := strings.Join(r.args, " ")
	for _, want := range []string{
		"--hostname boot-dht-1 --network net --ip 172.30.0.12 --network-alias boot-dht-1.boot-dht-headless.dht-test.svc.cluster.local",
		"--dns-search dht-test.svc.cluster.local --dns-search svc.cluster.local --dns-search cluster.local --dns-option ndots:5",
		"--user 65532:65532", "--group-add 65532", "--read-only", "--security-opt no-new-privileges", "--cap-drop ALL",
		"--memory 1073741824", "--cpus 2",
		"--mount type=bind,source=" + filepath.Join(hostDir, "boot-dht-1", "config") + ",target=/etc/dht,readonly",
		"--tmpfs /var/lib/dht:gid=65532,mode=2775",
		"--tmpfs /tmp:mode=1777,size=67108864",
		"--publish 127.0.0.1::8080/tcp",
		"--env POD_IP", "--env DHT_CLUSTER_GOSSIP_ADVERTISE", "--env DHT_HTTP_ADMIN_TOKEN",
		"--entrypoint /dhtd dht:dev --config /etc/dht/config.yaml",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("docker run %s\nlacks %q", args, want)
		}
	}
	if !strings.HasSuffix(args, " dht:dev --config /etc/dht/config.yaml") {
		t.Errorf("docker run %s\ndoes not end with the image and the StatefulSet's command", args)
	}
	if !slices.Contains(r.env, "DHT_CLUSTER_GOSSIP_ADVERTISE=172.30.0.12:7946") || !slices.Contains(r.env, "DHT_CLUSTER_ZONE=zone-b") {
		t.Errorf("env = %q, want the pod's IP and zone resolved", r.env)
	}
	if len(r.files) != 1 || r.files[0].path != filepath.Join(hostDir, "boot-dht-1", "config", "config.yaml") ||
		string(r.files[0].data) != renderedConfig(t, ms) || r.files[0].mode != 0o644 {
		t.Errorf("files = %+v, want the ConfigMap's config.yaml, mode 0644", r.files)
	}
	if r.apiPort != 8080 || r.readyPath != "/readyz" || r.readyPort != 8080 || r.readyScheme != corev1.URISchemeHTTP || r.remotePort != 7070 {
		t.Errorf("api port %d, readiness %s %s on %d, remote port %d; want 8080, /readyz HTTP on 8080, 7070", r.apiPort, r.readyScheme, r.readyPath, r.readyPort, r.remotePort)
	}
}

// TestChart_Boots starts the rendered StatefulSet's pods as containers of
// $DHT_BOOT_IMAGE and checks that they form one ring and serve a quorum
// write and read: with the chart's defaults ("plain"), and with TLS on
// ("tls": mutual TLS between nodes and HTTPS on the API, from a
// tls.existingSecret of node certificates the test issues). The two run
// one after the other; -run 'TestChart_Boots/tls' picks one.
func TestChart_Boots(t *testing.T) {
	image := os.Getenv("DHT_BOOT_IMAGE")
	if image == "" {
		t.Skip("set DHT_BOOT_IMAGE to an image built by `make image` (or run `make helm-boot-test`)")
	}
	extra := strings.Fields(os.Getenv("DHT_BOOT_HELM_ARGS"))
	t.Run("plain", func(t *testing.T) { bootChart(t, image, false, extra...) })
	t.Run("tls", func(t *testing.T) { bootChart(t, image, true, extra...) })
}

// bootTLSSecret is the tls.existingSecret of the TLS boot: the Secret an
// operator would create from `dhtctl certs`, which the test issues itself.
const bootTLSSecret = "boot-dht-tls"

// bootChart renders the chart (with tls.existingSecret when withTLS), boots
// its pods and checks them.
func bootChart(t *testing.T, image string, withTLS bool, extra ...string) {
	start := time.Now()
	if withTLS {
		extra = append([]string{"--set", "tls.existingSecret=" + bootTLSSecret}, extra...)
	}
	ms := renderBoot(t, image, extra...)
	sts := one[*appsv1.StatefulSet](t, ms)
	if got := sts.Spec.Template.Spec.Containers[0].Image; got != image {
		t.Fatalf("the chart renders image %q, want %q", got, image)
	}

	d := &docker{t: t}
	imageUser, err := d.run("image", "inspect", "-f", "{{.Config.User}}", image)
	if err != nil {
		t.Fatalf("image %s: %v (build it with `make image`)", image, err)
	}
	d.removeLeftovers()

	// Tear down on the way out, and on an interrupt too.
	var teardown sync.Once
	var started []dockerRun // the containers docker created
	down := func() {
		teardown.Do(func() {
			if t.Failed() || os.Getenv("DHT_BOOT_LOGS") != "" {
				d.dumpLogs(started)
			}
			d.removeLeftovers()
		})
	}
	t.Cleanup(down)
	stop := onInterrupt(func() { down(); os.Exit(1) })
	t.Cleanup(stop)

	network := "chartboot"
	subnet := d.createNetwork(network)
	k := kubelet{network: network, hostDir: t.TempDir(), imageUser: imageUser}
	pods := bootPods(t, ms, subnet)

	// With TLS, what the operator does before installing: a CA and one
	// certificate per pod in the Secret that tls.existingSecret names.
	var ca *certs.Authority
	if withTLS {
		var secret *corev1.Secret
		ca, secret = nodeCertSecret(t, ms, bootTLSSecret, podNames(pods))
		ms = append(ms, manifest{Source: "test: kubectl create secret generic " + bootTLSSecret, Obj: secret})
	}
	var runs []dockerRun
	for _, p := range pods {
		runs = append(runs, dockerRunFor(t, ms, p, k))
	}

	// What dhtd will run with in each pod, by its own loader; the seeds must
	// be the pods' DNS names, this pod's own among them.
	cfg := loadPod(t, ms, pods[0], t.TempDir())
	if withTLS != cfg.Cluster.TLS.Enabled() || withTLS != cfg.HTTP.TLS.Enabled() {
		t.Fatalf("rendered with TLS %v, but dhtd's config has cluster.tls %+v, http.tls %+v", withTLS, cfg.Cluster.TLS, cfg.HTTP.TLS)
	}
	seeds := strings.Split(cfg.Cluster.Seeds, ",")
	var seedPods []string
	for _, r := range runs {
		if slices.Contains(seeds, net.JoinHostPort(r.fqdn, gossipPort(t, cfg))) {
			seedPods = append(seedPods, r.name)
		}
	}
	t.Logf("rendered: image %s, %d pods; seeds %s", image, len(pods), cfg.Cluster.Seeds)
	t.Logf("pods named by the seeds: %v (each of them finds itself in its seeds)", seedPods)
	t.Logf("docker run %s", strings.Join(runs[0].args, " "))

	// Start every pod, as podManagementPolicy Parallel does.
	for _, r := range runs {
		if err := writeHostFiles(r); err != nil {
			t.Fatal(err)
		}
	}
	upAt := time.Now()
	for _, r := range runs {
		if _, err := d.runEnv(r.env, append([]string{"run"}, r.args...)...); err != nil {
			t.Fatalf("starting %s: %v", r.name, err)
		}
		started = append(started, r)
	}
	startedIn := time.Since(upAt)

	// The test's client: plain HTTP, or HTTPS trusting the cluster CA only.
	// The probes, like the kubelet's, verify no certificate.
	scheme, client := "http", httpClient
	if cfg.HTTP.TLS.Enabled() {
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		tc := &tls.Config{RootCAs: pool}
		// tls.http.requireClientCert: a client certificate of the CA.
		if cfg.HTTP.TLS.ClientCAFile != "" {
			tc.Certificates = []tls.Certificate{clientCert(t, ca, "chartboot-client")}
		}
		scheme = "https"
		client = &http.Client{Timeout: httpClient.Timeout, Transport: &http.Transport{TLSClientConfig: tc}}
	}
	nodes := make([]*node, len(runs))
	for i, r := range runs {
		nodes[i] = &node{dockerRun: r, client: client, adminToken: cfg.HTTP.AdminToken, clientToken: cfg.HTTP.ClientToken}
		for _, port := range r.published {
			hostPort, err := d.hostPort(r.container, port)
			if err != nil {
				t.Fatalf("%v (container %s)", err, d.state(r.container))
			}
			if port == r.apiPort {
				nodes[i].api = scheme + "://" + hostPort
			}
			if port == r.readyPort {
				nodes[i].ready = strings.ToLower(string(r.readyScheme)) + "://" + hostPort + r.readyPath
			}
		}
	}

	// Ready, then one ring: every node sees every pod alive and owning
	// replicas, and all route by the same ring.
	readyAt := make([]time.Duration, len(nodes))
	var allReady, formed time.Duration
	err = retry(bootTimeout, 250*time.Millisecond, func() error {
		for i, n := range nodes {
			if readyAt[i] == 0 && n.isReady() {
				readyAt[i] = time.Since(upAt)
			}
		}
		for i, n := range nodes {
			if readyAt[i] == 0 {
				err := fmt.Errorf("%s: %s is not 200: %v", n.name, n.readyPath, n.readyErr())
				// The kubelet would restart it into a crash loop: the
				// same pod spec never comes up, so stop waiting.
				if state := d.state(n.container); !strings.HasPrefix(state, "running") {
					return giveUp{fmt.Errorf("%s is %s: %w", n.container, state, err)}
				}
				return err
			}
		}
		if allReady == 0 {
			allReady = time.Since(upAt)
		}
		return oneRing(nodes, cfg)
	})
	if err != nil {
		for _, r := range runs {
			t.Logf("%s: %s", r.container, d.state(r.container))
		}
		t.Fatalf("the %d pods did not form one cluster (waited up to %s): %v", len(nodes), bootTimeout, err)
	}
	formed = time.Since(upAt)

	// A quorum write through the first pod, read back through the last.
	key := fmt.Sprintf("chartboot-%d", time.Now().UnixNano())
	value := "booted from the rendered chart " + key
	first, last := nodes[0], nodes[len(nodes)-1]
	w, r := cfg.Replication.W, cfg.Replication.R
	status, body, err := first.do(http.MethodPut, fmt.Sprintf("/v1/kv/%s?w=%d", key, w), first.clientToken, value)
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("PUT %s?w=%d through %s: %d %s %v, want 204", key, w, first.name, status, body, err)
	}
	status, body, err = last.do(http.MethodGet, fmt.Sprintf("/v1/kv/%s?r=%d", key, r), last.clientToken, "")
	if err != nil || status != http.StatusOK || body != value {
		t.Fatalf("GET %s?r=%d through %s: %d %q %v, want 200 %q", key, r, last.name, status, body, err, value)
	}
	// The Secret's client token is in force: without it, 401.
	if status, _, err := last.do(http.MethodGet, "/v1/kv/"+key, "", ""); err != nil || status != http.StatusUnauthorized {
		t.Errorf("GET without the client token through %s: %d %v, want 401", last.name, status, err)
	}
	if withTLS {
		checkTLSBoot(t, nodes, ca, cfg.HTTP.TLS.ClientCAFile != "")
	}
	// `kubectl exec <pod> -- /dhtctl members` works as the chart's NOTES
	// promise: the container's environment points dhtctl at its node (over
	// HTTPS with the CA, when TLS is on).
	out, err := d.run("exec", runs[0].container, "/dhtctl", "members")
	if err != nil {
		t.Errorf("/dhtctl members in %s: %v", runs[0].container, err)
	}
	for _, r := range runs {
		if !strings.Contains(out, r.name) {
			t.Errorf("/dhtctl members in %s does not list %s:\n%s", runs[0].container, r.name, out)
		}
	}

	ms2 := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }
	t.Logf("chart boot: %d pods of %s from release %q, TLS %v", len(nodes), image, bootRelease, withTLS)
	t.Logf("  containers started (docker run x%d)   %s", len(nodes), ms2(startedIn))
	for i, n := range nodes {
		t.Logf("  %-34s %s", n.name+" ready", ms2(readyAt[i]))
	}
	t.Logf("  %-34s %s", "all ready", ms2(allReady))
	t.Logf("  %-34s %s", "one ring, all alive owners", ms2(formed))
	t.Logf("  quorum write w=%d via %s, read r=%d via %s over %s: ok", w, first.name, r, last.name, scheme)
	t.Logf("  total, render to checked            %s", ms2(time.Since(start)))
}

// checkTLSBoot checks what TLS promises on the booted pods: the API serves
// each node's own certificate and refuses plain HTTP, and the remote port
// refuses a peer without a certificate of the cluster CA. The remote port
// is not published; it is dialled at the pod IP, when this host reaches
// the docker network (it does on Linux).
func checkTLSBoot(t *testing.T, nodes []*node, ca *certs.Authority, clientCerts bool) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, n := range nodes {
		resp, err := n.client.Get(n.api + "/healthz")
		if err != nil {
			t.Errorf("%s: GET /healthz over HTTPS: %v", n.name, err)
			continue
		}
		resp.Body.Close()
		if got := resp.TLS.PeerCertificates[0].Subject.CommonName; got != n.name {
			t.Errorf("%s: the API presents the certificate of %q", n.name, got)
		}
		// tls.http.requireClientCert: no client certificate, no HTTPS.
		if clientCerts {
			bare := &http.Client{Timeout: httpClient.Timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			if resp, err := bare.Get(n.api + "/healthz"); err == nil {
				resp.Body.Close()
				t.Errorf("%s: HTTPS without a client certificate answers %d, want the handshake refused", n.name, resp.StatusCode)
			}
		}
		plain := "http://" + strings.TrimPrefix(n.api, "https://") + "/healthz"
		if resp, err := httpClient.Get(plain); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Errorf("%s: plain HTTP on the HTTPS port answers %d", n.name, resp.StatusCode)
			}
		}
	}

	// The remote port: a handshake without a client certificate, and one
	// with a certificate of another CA, must fail; one with a node
	// certificate of the cluster CA succeeds.
	n := nodes[0]
	addr := net.JoinHostPort(n.ip, strconv.Itoa(int(n.remotePort)))
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Logf("the remote port %s is not reachable from this host (%v): not probed", addr, err)
		return
	}
	c.Close()
	other, err := certs.NewAuthority("not the cluster CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		issuer *certs.Authority // nil: no client certificate
		ok     bool
	}{
		{"no client certificate", nil, false},
		{"a certificate of another CA", other, false},
		{"a node certificate of the cluster CA", ca, true},
	} {
		// As a node dials a peer: the chain checked against the cluster CA,
		// no host name (a peer is known by its certificate's CN).
		cfg := &tls.Config{MinVersion: tls.VersionTLS13, ServerName: n.name, NextProtos: []string{"h2"},
			InsecureSkipVerify: true, //nolint:gosec // checked by VerifyPeerCertificate
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				_, err := certs.Verify(raw, pool, x509.ExtKeyUsageServerAuth, time.Now())
				return err
			}}
		if tt.issuer != nil {
			// Another pod's identity: the test holds the cluster CA.
			cfg.Certificates = []tls.Certificate{clientCert(t, tt.issuer, nodes[1].name)}
		}
		err := remoteHandshake(addr, cfg)
		switch {
		case tt.ok && err != nil:
			t.Errorf("remote port of %s with %s: %v, want a handshake", n.name, tt.name, err)
		case !tt.ok && err == nil:
			t.Errorf("remote port of %s with %s: handshake completed, want it refused", n.name, tt.name)
		case err != nil:
			t.Logf("remote port %s with %s: refused (%v)", addr, tt.name, err)
		default:
			t.Logf("remote port %s with %s: handshake and HTTP/2 settings", addr, tt.name)
		}
	}
}

// clientCert issues a certificate for client and server use named cn.
func clientCert(t *testing.T, ca *certs.Authority, cn string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(certs.Leaf{CommonName: cn, NotBefore: time.Now().Add(-time.Minute),
		NotAfter: time.Now().Add(time.Hour), Client: true, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// remoteHandshake completes a TLS handshake with addr and reads once, since
// under TLS 1.3 a server refuses the client's certificate only after the
// client has finished its side of the handshake.
func remoteHandshake(addr string, cfg *tls.Config) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != cfg.ServerName {
		return fmt.Errorf("the remote port presents the certificate of %q", cn)
	}
	// An HTTP/2 client preface gets a SETTINGS frame back from a gRPC
	// server that accepted the certificate; a refusal is an alert instead.
	if _, err := c.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")); err != nil {
		return err
	}
	if err := c.SetReadDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return err
	}
	_, err = c.Read(make([]byte, 64))
	return err
}

// podNames returns the names of pods.
func podNames(pods []pod) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.name)
	}
	return names
}

func gossipPort(t *testing.T, cfg config.Config) string {
	t.Helper()
	_, port, err := net.SplitHostPort(cfg.Cluster.GossipListen)
	if err != nil {
		t.Fatalf("cluster.gossip_listen %q: %v", cfg.Cluster.GossipListen, err)
	}
	return port
}

func writeHostFiles(r dockerRun) error {
	for _, dir := range r.dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		// The container's user must enter it whatever the umask.
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
	}
	for _, f := range r.files {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(f.path, f.mode); err != nil {
			return err
		}
		if f.gid >= 0 {
			if err := os.Chown(f.path, -1, f.gid); err != nil {
				return err
			}
		}
	}
	return nil
}

// oneRing reports why the nodes do not yet form one cluster, or nil: each
// sees exactly the pods, all alive owners with replicas and their own
// addresses and zones, and all route by the same ring of the configured
// size and replication.
func oneRing(nodes []*node, cfg config.Config) error {
	var want []string
	for _, n := range nodes {
		want = append(want, n.name)
	}
	slices.Sort(want)
	var first *ringInfo
	for _, n := range nodes {
		var members struct {
			Members []struct {
				ID         string `json:"id"`
				Zone       string `json:"zone"`
				Status     string `json:"status"`
				Owner      bool   `json:"owner"`
				HTTPAddr   string `json:"http_addr"`
				RemoteAddr string `json:"remote_addr"`
				Replicas   int    `json:"replicas"`
			} `json:"members"`
		}
		if err := n.getJSON("/admin/members", &members); err != nil {
			return err
		}
		var ids []string
		for _, m := range members.Members {
			ids = append(ids, m.ID)
			p := nodeNamed(nodes, m.ID)
			switch {
			case p == nil:
				return fmt.Errorf("%s sees a member %s that is no pod", n.name, m.ID)
			case m.Status != "alive" || !m.Owner || m.Replicas == 0:
				return fmt.Errorf("%s sees %s %s, owner %v, %d replicas", n.name, m.ID, m.Status, m.Owner, m.Replicas)
			// A node's advertised addresses never change: a wrong one
			// fails at once.
			case m.HTTPAddr != net.JoinHostPort(p.ip, strconv.Itoa(int(p.apiPort))):
				return giveUp{fmt.Errorf("%s sees %s at http %s, not its pod IP %s", n.name, m.ID, m.HTTPAddr, p.ip)}
			case !p.declares(m.RemoteAddr):
				return giveUp{fmt.Errorf("%s sees %s at remote %s, not its pod IP %s and a port the pod declares %v", n.name, m.ID, m.RemoteAddr, p.ip, p.tcpPorts)}
			case m.Zone != p.labels["topology.kubernetes.io/zone"]:
				return fmt.Errorf("%s sees %s in zone %q, not its pod's %q", n.name, m.ID, m.Zone, p.labels["topology.kubernetes.io/zone"])
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, want) {
			return fmt.Errorf("%s sees members %v, want %v", n.name, ids, want)
		}
		var ring ringInfo
		if err := n.getJSON("/admin/ring", &ring); err != nil {
			return err
		}
		if ring.Partitions != cfg.Ring.Partitions || ring.N != cfg.Replication.N || len(ring.Replicas) != ring.Partitions {
			return fmt.Errorf("%s routes by %d partitions (%d listed), n=%d; config says %d, n=%d",
				n.name, ring.Partitions, len(ring.Replicas), ring.N, cfg.Ring.Partitions, cfg.Replication.N)
		}
		for p, owners := range ring.Replicas {
			if len(owners) != min(ring.N, len(nodes)) {
				return fmt.Errorf("%s: partition %d has replicas %v, want %d", n.name, p, owners, min(ring.N, len(nodes)))
			}
		}
		if first == nil {
			first = &ring
		} else if !slices.EqualFunc(first.Replicas, ring.Replicas, slices.Equal) {
			return fmt.Errorf("%s routes by another ring than %s", n.name, nodes[0].name)
		}
	}
	return nil
}

type ringInfo struct {
	Partitions int        `json:"partitions"`
	N          int        `json:"n"`
	Version    uint64     `json:"version"`
	Replicas   [][]string `json:"replicas"`
}

func nodeNamed(nodes []*node, name string) *node {
	for _, n := range nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// declares reports whether addr is the pod's IP with a TCP port its
// container declares. Peers must be told addresses like that: in
// Kubernetes a pod's bare name resolves nowhere but in the pod itself, while
// docker's DNS answers container host names, so a name advertised here would
// work in the test and not in a cluster.
func (r dockerRun) declares(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != r.ip {
		return false
	}
	n, err := strconv.ParseInt(port, 10, 32)
	return err == nil && slices.Contains(r.tcpPorts, int32(n))
}

// node is one running pod as the test talks to it, over its published ports.
type node struct {
	dockerRun
	api, ready              string       // base URL of the API, URL of the readiness probe
	client                  *http.Client // the API's client
	adminToken, clientToken string
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

// probeClient gets as the kubelet's HTTP probes do: HTTPS without
// verifying the certificate.
var probeClient = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as the kubelet
}}

func (n *node) isReady() bool { return n.readyErr() == nil }

func (n *node) readyErr() error {
	resp, err := probeClient.Get(n.ready)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// do sends a request with the bearer token (none when empty) and returns
// the status and the body.
func (n *node) do(method, path, token, body string) (int, string, error) {
	req, err := http.NewRequest(method, n.api+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

func (n *node) getJSON(path string, v any) error {
	status, body, err := n.do(http.MethodGet, path, n.adminToken, "")
	if err != nil {
		return fmt.Errorf("%s: GET %s: %w", n.name, path, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s: GET %s: %d %s", n.name, path, status, strings.TrimSpace(body))
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		return fmt.Errorf("%s: GET %s: %w", n.name, path, err)
	}
	return nil
}

// giveUp marks an error that no amount of waiting mends.
type giveUp struct{ error }

func (g giveUp) Unwrap() error { return g.error }

// retry calls check every interval until it returns nil; after timeout, or
// at once when the error is a giveUp, it returns check's last error.
func retry(timeout, interval time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if errors.As(err, new(giveUp)) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(interval)
	}
}

// onInterrupt runs f on SIGINT or SIGTERM until the returned stop is called.
func onInterrupt(f func()) (stop func()) {
	sig := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-sig:
			f()
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
		wg.Wait()
	}
}

// docker runs the docker CLI for a test.
type docker struct{ t *testing.T }

// run runs docker with args and returns its trimmed standard output; the
// error carries its standard error.
func (d *docker) run(args ...string) (string, error) { return d.runEnv(nil, args...) }

// runEnv runs docker with env added to its environment.
func (d *docker) runEnv(env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// removeLeftovers removes every container and network with bootLabel: this
// run's, or those of an interrupted one.
func (d *docker) removeLeftovers() {
	if ids, err := d.run("ps", "-aq", "--filter", "label="+bootLabel); err == nil && ids != "" {
		if _, err := d.run(append([]string{"rm", "-f", "-v"}, strings.Fields(ids)...)...); err != nil {
			d.t.Errorf("removing containers: %v", err)
		}
	}
	if ids, err := d.run("network", "ls", "-q", "--filter", "label="+bootLabel); err == nil && ids != "" {
		if _, err := d.run(append([]string{"network", "rm"}, strings.Fields(ids)...)...); err != nil {
			d.t.Errorf("removing networks: %v", err)
		}
	}
}

// createNetwork creates a bridge network with a subnet of its own. Fixed
// addresses (the pod IPs the containers must know before they start) need
// a subnet given at creation; docker picks a free one for a network
// created without, which is then made again with that subnet given.
func (d *docker) createNetwork(name string) netip.Prefix {
	d.t.Helper()
	if _, err := d.run("network", "create", "--label", bootLabel+"=1", name+"-probe"); err != nil {
		d.t.Fatal(err)
	}
	subnet, err := d.run("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", name+"-probe")
	if _, rmErr := d.run("network", "rm", name+"-probe"); rmErr != nil {
		d.t.Fatal(rmErr)
	}
	if err != nil {
		d.t.Fatal(err)
	}
	var prefix netip.Prefix
	for _, s := range strings.Fields(subnet) {
		if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Is4() {
			prefix = p
		}
	}
	if !prefix.IsValid() {
		d.t.Fatalf("docker gave network %s no IPv4 subnet: %q", name, subnet)
	}
	if _, err := d.run("network", "create", "--label", bootLabel+"=1", "--subnet", prefix.String(), name); err != nil {
		d.t.Fatal(err)
	}
	return prefix
}

// hostPort returns the 127.0.0.1:port that a container port is published on.
func (d *docker) hostPort(container string, port int32) (string, error) {
	out, err := d.run("port", container, fmt.Sprintf("%d/tcp", port))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if ap, err := netip.ParseAddrPort(strings.TrimSpace(line)); err == nil && ap.Addr().IsLoopback() {
			return ap.String(), nil
		}
	}
	return "", fmt.Errorf("%s: port %d is not published on loopback: %q", container, port, out)
}

// state describes a container's state: "running", "exited (exit code 2)".
func (d *docker) state(container string) string {
	out, err := d.run("inspect", "-f", "{{.State.Status}} (exit code {{.State.ExitCode}}, OOM killed {{.State.OOMKilled}})", container)
	if err != nil {
		return err.Error()
	}
	return out
}

// dumpLogs logs the last lines of every container's output.
func (d *docker) dumpLogs(runs []dockerRun) {
	for _, r := range runs {
		cmd := exec.Command("docker", "logs", "--tail", "80", r.container)
		out, err := cmd.CombinedOutput()
		if err != nil && len(out) == 0 {
			out = []byte(err.Error())
		}
		d.t.Logf("=== %s (last 80 lines)\n%s", r.container, out)
	}
}
