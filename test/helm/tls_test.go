package helm

// TLS in the chart: the node certificates of tls.existingSecret or of one
// cert-manager Certificate per pod reach each pod as files, dhtd's config
// names the pod's own, and that certificate names the pod (its node id),
// chains to the cluster CA and is good for what the chart points at it.

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/dhtkv/dht/cluster/certs"
	"github.com/dhtkv/dht/config"
)

// nodeCertSecret does what an operator does for tls.existingSecret: a CA
// and, for each pod, a node certificate (CN = the pod name, client and
// server authentication) for the names clients use: the pod's DNS name
// under the headless service, the client service's, and 127.0.0.1 (dhtctl
// inside the pod, port-forwards). It returns the CA and the Secret, with
// the keys `dhtctl certs` writes: ca.crt, <pod>.crt, <pod>.key.
func nodeCertSecret(t *testing.T, ms []manifest, name string, pods []string) (*certs.Authority, *corev1.Secret) {
	t.Helper()
	sts := one[*appsv1.StatefulSet](t, ms)
	ca, err := certs.NewAuthority("dht test CA", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string][]byte{"ca.crt": ca.CertPEM()}
	for _, pod := range pods {
		hosts := []string{
			fmt.Sprintf("%s.%s.%s.svc.%s", pod, sts.Spec.ServiceName, namespace, clusterDomain),
			fmt.Sprintf("%s.%s.svc.%s", sts.Name, namespace, clusterDomain),
			fmt.Sprintf("%s.%s.svc", sts.Name, namespace),
			"localhost", "127.0.0.1",
		}
		certPEM, keyPEM, err := ca.Issue(certs.Leaf{CommonName: pod, Hosts: hosts, Client: true, Server: true,
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		data[pod+".crt"], data[pod+".key"] = certPEM, keyPEM
	}
	return ca, &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// certManager does what cert-manager does with the rendered Certificates:
// it issues each from ca as its spec says and stores it in its secretName,
// as tls.crt, tls.key and ca.crt. The Secrets are returned as manifests.
func certManager(t *testing.T, ms []manifest, ca *certs.Authority) []manifest {
	t.Helper()
	var out []manifest
	for _, c := range all[*certificate](ms) {
		spec := c.Spec
		certPEM, keyPEM, err := ca.Issue(certs.Leaf{
			CommonName: spec.CommonName,
			Hosts:      append(slices.Clone(spec.DNSNames), spec.IPAddresses...),
			Client:     slices.Contains(spec.Usages, "client auth"),
			Server:     slices.Contains(spec.Usages, "server auth"),
			NotBefore:  time.Now().Add(-time.Minute),
			NotAfter:   time.Now().Add(spec.Duration.Duration),
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, manifest{Source: "test: cert-manager for " + c.Name, Obj: &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: spec.SecretName, Namespace: c.Namespace},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM, "ca.crt": ca.CertPEM()},
		}})
	}
	return out
}

// podTLS is what pod p of the rendering gets: dhtd's config, the
// container, and where its files are on this machine.
type podTLS struct {
	cfg config.Config
	c   corev1.Container
	env map[string]string
	dir string // the pod's volumes, one directory each
}

// file maps a path inside the container to this machine.
func (p podTLS) file(t *testing.T, path string) string {
	t.Helper()
	f, _ := mountedFile(t, p.c, path, p.dir)
	return f
}

// loadPodTLS writes the Secret and projected volumes of pod p's dhtd
// container as the kubelet would (a missing Secret or key fails), then
// loads its config with dhtd's loader.
func loadPodTLS(t *testing.T, ms []manifest, p pod) podTLS {
	t.Helper()
	dir := t.TempDir()
	spec := one[*appsv1.StatefulSet](t, ms).Spec.Template.Spec
	c := container(t, spec, "dhtd")
	for _, m := range c.VolumeMounts {
		for i, v := range spec.Volumes {
			if v.Name != m.Name || (v.Secret == nil && v.Projected == nil) {
				continue
			}
			for f, data := range volumeFiles(t, ms, &spec.Volumes[i]) {
				path := filepath.Join(dir, v.Name, f.path)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	env := map[string]string{}
	for _, kv := range environ(t, ms, c, p) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return podTLS{cfg: loadPod(t, ms, p, dir), c: c, env: env, dir: dir}
}

// checkNodeTLS checks pod p's TLS as dhtd will load it: the files of
// cluster.tls (and http.tls when httpTLS) exist, load as a certs.Store,
// and the certificate names the pod, chains to ca for both client and
// server authentication, and is valid for the hosts.
func checkNodeTLS(t *testing.T, pt podTLS, p pod, ca *certs.Authority, httpTLS bool, hosts ...string) {
	t.Helper()
	tc := pt.cfg.Cluster.TLS
	if !tc.Enabled() || tc.CAFile == "" || tc.CertFile == "" || tc.KeyFile == "" {
		t.Fatalf("%s: cluster.tls = %+v, want all three files", p.name, tc)
	}
	if !strings.Contains(tc.CertFile, p.name) || !strings.Contains(tc.KeyFile, p.name) {
		t.Errorf("%s: cluster.tls %+v does not name the pod's own files", p.name, tc)
	}
	store, err := certs.Open(certs.Files{CA: pt.file(t, tc.CAFile), Cert: pt.file(t, tc.CertFile), Key: pt.file(t, tc.KeyFile)},
		certs.Options{ReloadInterval: -1})
	if err != nil {
		t.Fatalf("%s: dhtd could not load cluster.tls %+v: %v", p.name, tc, err)
	}
	defer store.Close()
	mat := store.Current()
	if got := certs.NodeID(mat.Leaf); got != p.name {
		t.Errorf("%s: the certificate names node %q, want the pod name (the node id)", p.name, got)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := certs.Verify(mat.Cert.Certificate, pool, usage, time.Now()); err != nil {
			t.Errorf("%s: usage %v: %v", p.name, usage, err)
		}
	}
	if _, err := certs.Verify(mat.Cert.Certificate, mat.Pool, x509.ExtKeyUsageClientAuth, time.Now()); err != nil {
		t.Errorf("%s: cluster.tls.ca_file does not verify the node's own certificate: %v", p.name, err)
	}
	for _, h := range hosts {
		if err := mat.Leaf.VerifyHostname(h); err != nil {
			t.Errorf("%s: %v", p.name, err)
		}
	}

	ht := pt.cfg.HTTP.TLS
	if !httpTLS {
		if ht.Enabled() || ht.ClientCAFile != "" {
			t.Errorf("%s: http.tls = %+v, want none", p.name, ht)
		}
		if addr := pt.env["DHTCTL_ADDR"]; !strings.HasPrefix(addr, "http://") {
			t.Errorf("%s: DHTCTL_ADDR = %q, want http://", p.name, addr)
		}
		return
	}
	if ht.CertFile != tc.CertFile || ht.KeyFile != tc.KeyFile {
		t.Errorf("%s: http.tls %+v, want the node certificate %+v", p.name, ht, tc)
	}
	// dhtctl in the pod dials DHTCTL_ADDR and checks it against DHTCTL_CACERT.
	addr := pt.env["DHTCTL_ADDR"]
	host, ok := strings.CutPrefix(addr, "https://")
	if !ok {
		t.Fatalf("%s: DHTCTL_ADDR = %q, want https://", p.name, addr)
	}
	host, _, err = net.SplitHostPort(host)
	if err != nil {
		t.Fatal(err)
	}
	if err := mat.Leaf.VerifyHostname(host); err != nil {
		t.Errorf("%s: dhtctl in the pod dials %s: %v", p.name, addr, err)
	}
	if ca := pt.env["DHTCTL_CACERT"]; ca != tc.CAFile {
		t.Errorf("%s: DHTCTL_CACERT = %q, want the cluster CA %q", p.name, ca, tc.CAFile)
	}
}

// tlsPods are two pods of the default StatefulSet, the first and the last.
var tlsPods = []pod{pod0, {name: "dht-2", ip: "10.244.3.9", node: "node-3", labels: pod0.labels}}

func TestTLS_Off(t *testing.T) {
	ms := render(t)
	if c := all[*certificate](ms); len(c) != 0 {
		t.Errorf("rendered %d Certificates without TLS", len(c))
	}
	spec := one[*appsv1.StatefulSet](t, ms).Spec.Template.Spec
	for _, v := range spec.Volumes {
		if v.Name == "tls" {
			t.Errorf("a tls volume without TLS: %+v", v)
		}
	}
	for _, e := range container(t, spec, "dhtd").Env {
		if strings.Contains(e.Name, "_TLS_") || e.Name == "DHTCTL_CACERT" {
			t.Errorf("%s is set without TLS", e.Name)
		}
	}
	cfg := loadPod(t, ms, pod0, t.TempDir())
	if cfg.Cluster.TLS.Enabled() || cfg.HTTP.TLS.Enabled() {
		t.Errorf("TLS in dhtd's config without TLS: %+v %+v", cfg.Cluster.TLS, cfg.HTTP.TLS)
	}
}

func TestTLS_ExistingSecret(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		httpTLS bool
		scheme  corev1.URIScheme
	}{
		{"with HTTPS", nil, true, corev1.URISchemeHTTPS},
		{"without HTTPS", []string{"--set", "tls.http.enabled=false"}, false, corev1.URISchemeHTTP},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := render(t, append([]string{"--set", "tls.existingSecret=dht-tls"}, tt.args...)...)
			if c := all[*certificate](ms); len(c) != 0 {
				t.Errorf("rendered %d Certificates with tls.existingSecret", len(c))
			}
			spec := one[*appsv1.StatefulSet](t, ms).Spec.Template.Spec
			c := container(t, spec, "dhtd")
			var vol *corev1.Volume
			for i, v := range spec.Volumes {
				if v.Name == "tls" {
					vol = &spec.Volumes[i]
				}
			}
			if vol == nil || vol.Secret == nil || vol.Secret.SecretName != "dht-tls" || len(vol.Secret.Items) != 0 {
				t.Fatalf("tls volume = %+v, want all of Secret dht-tls", vol)
			}
			if m := vol.Secret.DefaultMode; m == nil || *m&0o007 != 0 {
				t.Errorf("tls volume mode %v: the keys are readable by others", m)
			}
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
				return m.Name == "tls" && m.ReadOnly && m.MountPath == "/etc/dht-tls"
			}) {
				t.Errorf("mounts %+v: want tls read-only at /etc/dht-tls", c.VolumeMounts)
			}
			for _, probe := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
				if probe.HTTPGet.Scheme != tt.scheme || probe.HTTPGet.Port.String() != "http" {
					t.Errorf("probe %+v, want %s on port http", probe.HTTPGet, tt.scheme)
				}
			}

			ca, secret := nodeCertSecret(t, ms, "dht-tls", []string{"dht-0", "dht-1", "dht-2"})
			ms = append(ms, manifest{Source: "test", Obj: secret})
			for _, p := range tlsPods {
				checkNodeTLS(t, loadPodTLS(t, ms, p), p, ca, tt.httpTLS)
			}
		})
	}
}

func TestTLS_CertManager(t *testing.T) {
	ms := render(t, "--set", "tls.certManager.enabled=true", "--set", "tls.certManager.issuerRef.name=dht-ca",
		"--set", "tls.certManager.issuerRef.kind=ClusterIssuer", "--set", "tls.certManager.extraDnsNames[0]=kv.example.com",
		"--set", "replicaCount=4")
	cs := all[*certificate](ms)
	var names []string
	for _, c := range cs {
		names = append(names, c.Spec.CommonName)
		s := c.Spec
		pod := s.CommonName
		if c.Name != "dht-tls-"+pod || s.SecretName != c.Name {
			t.Errorf("Certificate %s stores into %s, want both dht-tls-%s", c.Name, s.SecretName, pod)
		}
		if s.IssuerRef.Name != "dht-ca" || s.IssuerRef.Kind != "ClusterIssuer" || s.IssuerRef.Group != "cert-manager.io" {
			t.Errorf("%s: issuerRef %+v", c.Name, s.IssuerRef)
		}
		for _, u := range []string{"server auth", "client auth"} {
			if !slices.Contains(s.Usages, u) {
				t.Errorf("%s: usages %v lack %q", c.Name, s.Usages, u)
			}
		}
		for _, n := range []string{pod + ".dht-headless.dht-test.svc.cluster.local", "dht.dht-test.svc", "kv.example.com"} {
			if !slices.Contains(s.DNSNames, n) {
				t.Errorf("%s: dnsNames %v lack %s", c.Name, s.DNSNames, n)
			}
		}
		if !slices.Contains(s.IPAddresses, "127.0.0.1") {
			t.Errorf("%s: ipAddresses %v lack 127.0.0.1 (dhtctl in the pod)", c.Name, s.IPAddresses)
		}
		if s.Duration == nil || s.RenewBefore == nil || s.RenewBefore.Duration >= s.Duration.Duration {
			t.Errorf("%s: duration %v, renewBefore %v", c.Name, s.Duration, s.RenewBefore)
		}
		if s.PrivateKey == nil || s.PrivateKey.RotationPolicy != "Always" {
			t.Errorf("%s: privateKey %+v, want a new key with every renewal", c.Name, s.PrivateKey)
		}
	}
	if want := []string{"dht-0", "dht-1", "dht-2", "dht-3"}; !slices.Equal(names, want) {
		t.Fatalf("Certificates for %v, want one per pod %v", names, want)
	}

	spec := one[*appsv1.StatefulSet](t, ms).Spec.Template.Spec
	for _, v := range spec.Volumes {
		if v.Name == "tls" && (v.Projected == nil || len(v.Projected.Sources) != 4 || v.Projected.DefaultMode == nil || *v.Projected.DefaultMode&0o007 != 0) {
			t.Errorf("tls volume = %+v, want the 4 Secrets projected, unreadable by others", v)
		}
	}
	// Without the Secrets cert-manager makes, the kubelet would not start
	// the pods: the volume needs every one of them.
	ca, err := certs.NewAuthority("dht test issuer", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ms = append(ms, certManager(t, ms, ca)...)
	pods := append(slices.Clone(tlsPods), pod{name: "dht-3", ip: "10.244.1.8", node: "node-1", labels: pod0.labels})
	for _, p := range pods {
		checkNodeTLS(t, loadPodTLS(t, ms, p), p, ca, true,
			p.name+".dht-headless.dht-test.svc.cluster.local", "dht.dht-test.svc", "127.0.0.1", "localhost")
	}
}

func TestTLS_RequireClientCert(t *testing.T) {
	ms := render(t, "--set", "tls.existingSecret=dht-tls", "--set", "tls.http.requireClientCert=true",
		"--set", "config.http.metrics_listen=:9090")
	ca, secret := nodeCertSecret(t, ms, "dht-tls", []string{"dht-0", "dht-1", "dht-2"})
	ms = append(ms, manifest{Source: "test", Obj: secret})
	pt := loadPodTLS(t, ms, pod0)
	checkNodeTLS(t, pt, pod0, ca, true)
	if got := pt.cfg.HTTP.TLS.ClientCAFile; got != pt.cfg.Cluster.TLS.CAFile {
		t.Errorf("http.tls.client_ca_file = %q, want the cluster CA %q", got, pt.cfg.Cluster.TLS.CAFile)
	}
	// dhtctl in the pod presents the node's certificate.
	if pt.env["DHTCTL_CERT"] != pt.cfg.Cluster.TLS.CertFile || pt.env["DHTCTL_KEY"] != pt.cfg.Cluster.TLS.KeyFile {
		t.Errorf("DHTCTL_CERT %q, DHTCTL_KEY %q: want the node's certificate", pt.env["DHTCTL_CERT"], pt.env["DHTCTL_KEY"])
	}
	// The kubelet has no client certificate: the probes use the plain
	// metrics listener.
	for _, probe := range []*corev1.Probe{pt.c.StartupProbe, pt.c.LivenessProbe, pt.c.ReadinessProbe} {
		if probe.HTTPGet.Scheme != corev1.URISchemeHTTP || probe.HTTPGet.Port.String() != "metrics" {
			t.Errorf("probe %+v, want HTTP on port metrics", probe.HTTPGet)
		}
	}
}

func TestMetricsListen(t *testing.T) {
	ms := render(t, "--set", "config.http.metrics_listen=127.0.0.1:9090", "--set", "tls.existingSecret=dht-tls")
	sts := one[*appsv1.StatefulSet](t, ms)
	c := container(t, sts.Spec.Template.Spec, "dhtd")
	if got := containerPort(t, c, intstr.FromString("metrics")); got != 9090 {
		t.Errorf("container port metrics = %d, want 9090", got)
	}
	for _, probe := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		if probe.HTTPGet.Scheme != corev1.URISchemeHTTP || probe.HTTPGet.Port.String() != "metrics" {
			t.Errorf("probe %+v, want HTTP on port metrics (plain even with HTTPS on the API)", probe.HTTPGet)
		}
	}
	ann := sts.Spec.Template.Annotations
	if ann["prometheus.io/port"] != "9090" || ann["prometheus.io/scheme"] != "" {
		t.Errorf("scrape annotations %v, want port 9090, plain HTTP", ann)
	}
	headless := named[*corev1.Service](t, ms, sts.Spec.ServiceName)
	if !slices.ContainsFunc(headless.Spec.Ports, func(p corev1.ServicePort) bool {
		return p.Name == "metrics" && p.Port == 9090 && p.TargetPort.String() == "metrics"
	}) {
		t.Errorf("headless ports %+v lack metrics 9090 (the ServiceMonitor scrapes through it)", headless.Spec.Ports)
	}
	client := named[*corev1.Service](t, ms, release)
	if len(client.Spec.Ports) != 1 || client.Spec.Ports[0].Name != "http" {
		t.Errorf("client service ports %+v, want only http", client.Spec.Ports)
	}
	// The default metrics listener stays off: the default rendering has no
	// metrics port.
	c = container(t, one[*appsv1.StatefulSet](t, render(t)).Spec.Template.Spec, "dhtd")
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			t.Error("a metrics port with config.http.metrics_listen empty")
		}
	}
}

func TestServiceMonitor_Schemes(t *testing.T) {
	sm := []string{"--set", "metrics.serviceMonitor.enabled=true"}
	for _, tt := range []struct {
		name       string
		args       []string
		port       string
		https      bool
		caSecret   string
		serverName string
	}{
		{name: "plain", port: "http"},
		{name: "HTTPS from existingSecret", args: []string{"--set", "tls.existingSecret=dht-tls"},
			port: "http", https: true, caSecret: "dht-tls", serverName: "dht.dht-test.svc"},
		{name: "HTTPS from cert-manager", args: []string{"--set", "tls.certManager.enabled=true", "--set", "tls.certManager.issuerRef.name=ca"},
			port: "http", https: true, caSecret: "dht-tls-dht-0", serverName: "dht.dht-test.svc"},
		{name: "HTTPS, metrics apart", args: []string{"--set", "tls.existingSecret=dht-tls", "--set", "config.http.metrics_listen=:9090"},
			port: "metrics"},
		{name: "own tlsConfig", args: []string{"--set", "tls.existingSecret=dht-tls", "--set", "metrics.serviceMonitor.tlsConfig.insecureSkipVerify=true"},
			port: "http", https: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms := render(t, append(slices.Clone(sm), tt.args...)...)
			eps := one[*monitoringv1.ServiceMonitor](t, ms).Spec.Endpoints
			if len(eps) != 1 {
				t.Fatalf("endpoints %+v, want one", eps)
			}
			ep := eps[0]
			if ep.Port != tt.port {
				t.Errorf("port %q, want %q", ep.Port, tt.port)
			}
			scheme := ""
			if ep.Scheme != nil {
				scheme = ep.Scheme.String()
			}
			if got := scheme == "https"; got != tt.https {
				t.Errorf("scheme %q, want https %v", scheme, tt.https)
			}
			if !tt.https {
				if ep.TLSConfig != nil {
					t.Errorf("tlsConfig %+v on a plain endpoint", ep.TLSConfig)
				}
				return
			}
			tc := ep.TLSConfig
			if tc == nil {
				t.Fatal("https without tlsConfig")
			}
			if tt.caSecret == "" {
				if tc.InsecureSkipVerify == nil || !*tc.InsecureSkipVerify {
					t.Errorf("tlsConfig %+v, want the one given", tc)
				}
				return
			}
			if tc.CA.Secret == nil || tc.CA.Secret.Name != tt.caSecret || tc.CA.Secret.Key != "ca.crt" {
				t.Errorf("tlsConfig CA %+v, want ca.crt of Secret %s", tc.CA, tt.caSecret)
			}
			if tc.ServerName == nil || *tc.ServerName != tt.serverName {
				t.Errorf("tlsConfig serverName %v, want %s", tc.ServerName, tt.serverName)
			}
		})
	}
}

// TestTLS_PodCanReadKeys: the key files are readable by the pod's user
// through its fsGroup, as the kubelet gives Secret volumes to the fsGroup.
func TestTLS_PodCanReadKeys(t *testing.T) {
	for _, args := range [][]string{
		{"--set", "tls.existingSecret=dht-tls"},
		{"--set", "tls.certManager.enabled=true", "--set", "tls.certManager.issuerRef.name=ca"},
	} {
		spec := one[*appsv1.StatefulSet](t, render(t, args...)).Spec.Template.Spec
		psc := spec.SecurityContext
		if psc == nil || psc.FSGroup == nil || psc.RunAsGroup == nil || *psc.FSGroup != *psc.RunAsGroup {
			t.Errorf("%v: pod securityContext %+v: the fsGroup, which owns the key files, is not the pod's group", args, psc)
		}
		for _, v := range spec.Volumes {
			var mode *int32
			switch {
			case v.Name != "tls":
				continue
			case v.Secret != nil:
				mode = v.Secret.DefaultMode
			case v.Projected != nil:
				mode = v.Projected.DefaultMode
			}
			if mode == nil || *mode&0o040 == 0 {
				t.Errorf("%v: tls volume mode %v: the group cannot read the keys", args, mode)
			}
		}
	}
}

func TestBoot_DockerRunTLS(t *testing.T) {
	ms := renderBoot(t, "dht:dev", "--set", "tls.existingSecret="+bootTLSSecret)
	pods := bootPods(t, ms, netip.MustParsePrefix("172.30.0.0/24"))
	_, secret := nodeCertSecret(t, ms, bootTLSSecret, podNames(pods))
	ms = append(ms, manifest{Source: "test", Obj: secret})
	hostDir := t.TempDir()
	r := dockerRunFor(t, ms, pods[1], kubelet{network: "net", hostDir: hostDir, imageUser: "65532:65532"})
	args := strings.Join(r.args, " ")
	if want := "--mount type=bind,source=" + filepath.Join(hostDir, "boot-dht-1", "tls") + ",target=/etc/dht-tls,readonly"; !strings.Contains(args, want) {
		t.Errorf("docker run %s\nlacks %q", args, want)
	}
	for _, want := range []string{
		"DHT_CLUSTER_TLS_CERT_FILE=/etc/dht-tls/boot-dht-1.crt",
		"DHT_CLUSTER_TLS_KEY_FILE=/etc/dht-tls/boot-dht-1.key",
		"DHT_CLUSTER_TLS_CA_FILE=/etc/dht-tls/ca.crt",
		"DHT_HTTP_TLS_CERT_FILE=/etc/dht-tls/boot-dht-1.crt",
		"DHTCTL_ADDR=https://127.0.0.1:8080",
		"DHTCTL_CACERT=/etc/dht-tls/ca.crt",
	} {
		if !slices.Contains(r.env, want) {
			t.Errorf("env %q lacks %s", r.env, want)
		}
	}
	var keyFile *hostFile
	for i, f := range r.files {
		if f.path == filepath.Join(hostDir, "boot-dht-1", "tls", "boot-dht-1.key") {
			keyFile = &r.files[i]
		}
	}
	if keyFile == nil || keyFile.gid != 65532 || keyFile.mode != 0o440 {
		t.Errorf("key file %+v, want mode 0440 owned by the fsGroup 65532", keyFile)
	}
	if r.readyScheme != corev1.URISchemeHTTPS {
		t.Errorf("readiness scheme %s, want HTTPS", r.readyScheme)
	}
}
