package helm

import (
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// valueSets are the renderings every structural test runs over: the
// defaults, and sets that turn on each optional part of the chart.
var valueSets = map[string][]string{
	"defaults": nil,
	"everything": {
		"--set", "zone.source=nodeLabel",
		"--set", "zone.nodeLabel.image.repository=example.com/kubectl",
		"--set", "zone.nodeLabel.image.tag=1.35",
		"--set", "metrics.serviceMonitor.enabled=true",
		"--set", "metrics.serviceMonitor.labels.release=prometheus",
		"--set", "persistentVolumeClaimRetentionPolicy.whenDeleted=Delete",
		"--set", "persistentVolumeClaimRetentionPolicy.whenScaled=Retain",
		"--set", "podDisruptionBudget.unhealthyPodEvictionPolicy=AlwaysAllow",
		"--set", "persistence.storageClass=fast",
		"--set", "persistence.annotations.backup=daily",
		"--set", "service.type=LoadBalancer",
		"--set", "service.annotations.a=b",
		"--set", "headlessService.labels.c=d",
		"--set", "serviceAccount.annotations.e=f",
		"--set", "podAnnotations.g=h",
		"--set", "podLabels.team=storage",
		"--set", "priorityClassName=high",
		"--set", "imagePullSecrets[0].name=registry",
		"--set", "nodeSelector.disk=ssd",
		"--set", "tolerations[0].key=dedicated",
		"--set", "tolerations[0].operator=Exists",
		"--set", "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=disk",
		"--set", "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
		"--set", "topologySpread.zone.whenUnsatisfiable=DoNotSchedule",
		"--set", "topologySpreadConstraints[0].maxSkew=2",
		"--set", "topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/region",
		"--set", "topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
		"--set", "extraEnv[0].name=GOMEMLIMIT",
		"--set", "extraEnv[0].value=900MiB",
		"--set", "ipv6=true",
		"--set", "replicaCount=5",
		"--set", "metrics.prometheusRule.enabled=true",
		"--set", "grafana.dashboard.enabled=true",
		"--set", "tls.certManager.enabled=true",
		"--set", "tls.certManager.issuerRef.name=dht-ca",
		"--set", "tls.certManager.extraDnsNames[0]=kv.example.com",
		"--set", "tls.certManager.extraIpAddresses[0]=192.0.2.10",
		"--set", "tls.http.requireClientCert=true",
		"--set", "config.http.metrics_listen=:9090",
		"--set", "networkPolicy.httpFrom[0].namespaceSelector.matchLabels.team=apps",
		"--set", "networkPolicy.metricsFrom[0].podSelector.matchLabels.app=prometheus",
		"--set", "networkPolicy.peers[0].podSelector.matchLabels.app\\.kubernetes\\.io/instance=dht-zone-b",
	},
	"tls": {
		"--set", "tls.existingSecret=dht-tls",
		"--set", "metrics.serviceMonitor.enabled=true",
		"--set", "secret.contextSecret=0123456789abcdef",
		"--set", "secret.previousContextSecret=fedcba9876543210",
	},
	"minimal": {
		"--set", "persistence.enabled=false",
		"--set", "podDisruptionBudget.enabled=false",
		"--set", "serviceAccount.create=false",
		"--set", "metrics.podAnnotations=false",
		"--set", "zone.source=none",
		"--set", "topologySpread.zone.enabled=false",
		"--set", "topologySpread.hostname.enabled=false",
		"--set", "secret.existingSecret=my-dht-secret",
		"--set", "networkPolicy.enabled=false",
		"--set", "replicaCount=1",
	},
}

func TestLint(t *testing.T) {
	for name, args := range valueSets {
		t.Run(name, func(t *testing.T) {
			out, err := runHelm(t, append([]string{"lint", "--strict", chartDir, "--namespace", namespace}, args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// TestTemplate_DecodesStrictly renders each value set and decodes every
// manifest into its k8s.io/api type with unknown fields refused (render
// fails the test otherwise), then checks the kinds rendered.
func TestTemplate_DecodesStrictly(t *testing.T) {
	want := map[string][]string{
		"defaults": {"ConfigMap", "NetworkPolicy", "PodDisruptionBudget", "Secret", "Service", "Service", "ServiceAccount", "StatefulSet"},
		"everything": {"Certificate", "Certificate", "Certificate", "Certificate", "Certificate", "ClusterRole", "ClusterRoleBinding",
			"ConfigMap", "ConfigMap", "NetworkPolicy", "PodDisruptionBudget", "PrometheusRule", "Secret", "Service", "Service", "ServiceAccount", "ServiceMonitor", "StatefulSet"},
		"tls": {"ConfigMap", "NetworkPolicy", "PodDisruptionBudget", "Secret", "Service", "Service", "ServiceAccount",
			"ServiceMonitor", "StatefulSet"},
		"minimal": {"ConfigMap", "Service", "Service", "StatefulSet"},
	}
	for name, args := range valueSets {
		t.Run(name, func(t *testing.T) {
			ms := render(t, args...)
			var kinds []string
			for _, m := range ms {
				kinds = append(kinds, m.Obj.GetObjectKind().GroupVersionKind().Kind)
				if o, ok := m.Obj.(interface{ GetNamespace() string }); ok {
					ns := o.GetNamespace()
					_, clusterScoped := m.Obj.(*rbacv1.ClusterRole)
					_, binding := m.Obj.(*rbacv1.ClusterRoleBinding)
					if clusterScoped || binding {
						if ns != "" {
							t.Errorf("%s: cluster-scoped object with namespace %q", m, ns)
						}
					} else if ns != namespace {
						t.Errorf("%s: namespace %q, want %q", m, ns, namespace)
					}
				}
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, want[name]) {
				t.Errorf("kinds = %v, want %v", kinds, want[name])
			}
		})
	}
}

// TestDecodeStrict_RefusesUnknownFields guards the guard: the decoder used
// above must refuse a misspelt field and an unknown kind.
func TestDecodeStrict_RefusesUnknownFields(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":   "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  publishNotReadyAdresses: true\n",
		"duplicate field": "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  name: y\n",
		"unknown kind":    "apiVersion: v1\nkind: Servic\nmetadata:\n  name: x\n",
		"wrong type":      "apiVersion: apps/v1\nkind: StatefulSet\nspec:\n  replicas: three\n",
	} {
		if _, err := decodeStrict([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func TestStatefulSet(t *testing.T) {
	ms := render(t)
	sts := one[*appsv1.StatefulSet](t, ms)
	pod := sts.Spec.Template.Spec
	c := container(t, pod, "dhtd")

	if sts.Name != release {
		t.Errorf("StatefulSet name %q, want %q (pod names are node ids)", sts.Name, release)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy = %q, want Parallel", sts.Spec.PodManagementPolicy)
	}
	if got := *sts.Spec.Replicas; got != 3 {
		t.Errorf("replicas = %d, want 3", got)
	}
	if want := []string{"/dhtd", "--config", "/etc/dht/config.yaml"}; !slices.Equal(c.Command, want) {
		t.Errorf("command = %q, want %q", c.Command, want)
	}
	if len(c.Args) != 0 {
		t.Errorf("args = %q, want none: every setting comes from config.yaml and the environment", c.Args)
	}

	// Security: non-root with a numeric uid, read-only root, no capabilities.
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("no container securityContext")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("runAsNonRoot is not true")
	case sc.RunAsUser == nil || *sc.RunAsUser == 0:
		t.Error("runAsUser is not a non-zero uid")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
		t.Error("capabilities do not drop ALL")
	}
	if psc := pod.SecurityContext; psc == nil || psc.FSGroup == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod securityContext lacks runAsNonRoot or fsGroup (the volume must be writable by the uid)")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod automounts a service account token; dhtd never calls the API")
	}

	// Ports and probes.
	ports := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		ports[p.Name] = p
	}
	for name, want := range map[string]corev1.ContainerPort{
		"http":       {Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
		"gossip-tcp": {Name: "gossip-tcp", ContainerPort: 7946, Protocol: corev1.ProtocolTCP},
		"gossip-udp": {Name: "gossip-udp", ContainerPort: 7946, Protocol: corev1.ProtocolUDP},
		"remote":     {Name: "remote", ContainerPort: 7070, Protocol: corev1.ProtocolTCP},
	} {
		if ports[name] != want {
			t.Errorf("port %s = %+v, want %+v", name, ports[name], want)
		}
	}
	for name, probe := range map[string]*corev1.Probe{
		"/healthz startup": c.StartupProbe, "/healthz liveness": c.LivenessProbe, "/readyz readiness": c.ReadinessProbe,
	} {
		path, _, _ := strings.Cut(name, " ")
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.String() != "http" ||
			probe.HTTPGet.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s probe = %+v, want GET %s on port http, HTTP", name, probe, path)
		}
	}

	// Resources from values.
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want cpu and memory requests and a memory limit", c.Resources)
	}

	// Graceful stop: the lame duck and the drain (http.lame_duck 5s,
	// http.shutdown_timeout 10s) plus a margin.
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g < 10+5 {
		t.Errorf("terminationGracePeriodSeconds = %v, want at least shutdown_timeout (10s) + 5s", g)
	}

	// Spread across zones.
	var zoneSpread bool
	podLabels := labels.Set(sts.Spec.Template.Labels)
	for _, tsc := range pod.TopologySpreadConstraints {
		if tsc.TopologyKey == "topology.kubernetes.io/zone" {
			zoneSpread = true
		}
		sel := labels.SelectorFromSet(tsc.LabelSelector.MatchLabels)
		if !sel.Matches(podLabels) {
			t.Errorf("topology spread on %s does not select the pods", tsc.TopologyKey)
		}
	}
	if !zoneSpread {
		t.Error("no topology spread across topology.kubernetes.io/zone")
	}

	// Volumes: the ConfigMap at /etc/dht, the data claim at the mount path.
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	if m := mounts["config"]; m.MountPath != "/etc/dht" || !m.ReadOnly {
		t.Errorf("config mount = %+v, want read-only at /etc/dht", m)
	}
	var configVolume *corev1.Volume
	for i, v := range pod.Volumes {
		if v.Name == "config" {
			configVolume = &pod.Volumes[i]
		}
	}
	cm := one[*corev1.ConfigMap](t, ms)
	if configVolume == nil || configVolume.ConfigMap == nil || configVolume.ConfigMap.Name != cm.Name {
		t.Errorf("config volume = %+v, want ConfigMap %s", configVolume, cm.Name)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Name != "data" {
		t.Fatalf("volumeClaimTemplates = %+v, want one named data", sts.Spec.VolumeClaimTemplates)
	}
	if m := mounts["data"]; m.MountPath != "/var/lib/dht" || m.ReadOnly {
		t.Errorf("data mount = %+v, want writable at /var/lib/dht", m)
	}
	if _, ok := mounts["tmp"]; !ok {
		t.Error("no writable /tmp next to the read-only root")
	}

	// Prometheus scrape annotations on the pods.
	ann := sts.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != "8080" || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod annotations = %v, want prometheus.io scrape/port/path", ann)
	}
	if ann["checksum/config"] == "" {
		t.Error("no checksum/config annotation: a config change would not roll the pods")
	}

	// The environment: pod addresses and the Secret's values.
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	for name, want := range map[string]string{
		"DHT_CLUSTER_GOSSIP_ADVERTISE": "$(POD_IP):7946",
		"DHT_CLUSTER_REMOTE_ADVERTISE": "$(POD_IP):7070",
		"DHT_CLUSTER_HTTP_ADVERTISE":   "$(POD_IP):8080",
	} {
		if env[name].Value != want {
			t.Errorf("%s = %q, want %q", name, env[name].Value, want)
		}
	}
	if e := env["POD_IP"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "status.podIP" {
		t.Errorf("POD_IP = %+v, want the downward API's status.podIP", e)
	}
	secret := one[*corev1.Secret](t, ms)
	for name, key := range map[string]string{
		"DHT_CLUSTER_GOSSIP_KEY": "gossip-key", "DHT_HTTP_CLIENT_TOKEN": "client-token", "DHT_HTTP_ADMIN_TOKEN": "admin-token",
		"DHT_SECURITY_CONTEXT_SECRET": "context-secret", "DHT_SECURITY_PREVIOUS_CONTEXT_SECRET": "previous-context-secret",
	} {
		ref := env[name].ValueFrom
		if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != secret.Name || ref.SecretKeyRef.Key != key {
			t.Errorf("%s = %+v, want key %s of Secret %s", name, env[name], key, secret.Name)
		} else if _, ok := secret.Data[key]; !ok {
			t.Errorf("%s refers to key %s, which the Secret lacks", name, key)
		}
	}
}

func TestServices(t *testing.T) {
	ms := render(t)
	sts := one[*appsv1.StatefulSet](t, ms)
	podLabels := labels.Set(sts.Spec.Template.Labels)

	headless := named[*corev1.Service](t, ms, sts.Spec.ServiceName)
	if headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("%s: clusterIP = %q, want None (headless)", headless.Name, headless.Spec.ClusterIP)
	}
	if !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("%s: publishNotReadyAddresses is false; starting nodes could not find each other", headless.Name)
	}
	type port struct {
		name  string
		port  int32
		proto corev1.Protocol
	}
	var got []port
	for _, p := range headless.Spec.Ports {
		got = append(got, port{p.Name, p.Port, p.Protocol})
	}
	for _, want := range []port{{"gossip-tcp", 7946, "TCP"}, {"gossip-udp", 7946, "UDP"}, {"remote", 7070, "TCP"}} {
		if !slices.Contains(got, want) {
			t.Errorf("%s: ports %v lack %v", headless.Name, got, want)
		}
	}

	client := named[*corev1.Service](t, ms, release)
	if client.Spec.ClusterIP == corev1.ClusterIPNone || client.Spec.PublishNotReadyAddresses {
		t.Errorf("%s: the client service must be a normal service of ready pods", client.Name)
	}
	if len(client.Spec.Ports) != 1 || client.Spec.Ports[0].Port != 8080 || client.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("%s: ports = %+v, want http 8080", client.Name, client.Spec.Ports)
	}

	for _, svc := range []*corev1.Service{headless, client} {
		if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
			t.Errorf("%s: selector %v does not select the pods %v", svc.Name, svc.Spec.Selector, podLabels)
		}
		for _, p := range svc.Spec.Ports {
			if !containerHasPort(sts.Spec.Template.Spec, p.TargetPort.String()) {
				t.Errorf("%s: port %s targets %s, which no container names", svc.Name, p.Name, p.TargetPort.String())
			}
		}
	}

	pdb := one[*policyv1.PodDisruptionBudget](t, ms)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("PodDisruptionBudget: maxUnavailable = %v, minAvailable = %v; want maxUnavailable 1", pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
	}
	if !labels.SelectorFromSet(pdb.Spec.Selector.MatchLabels).Matches(podLabels) {
		t.Error("PodDisruptionBudget does not select the pods")
	}

	sa := one[*corev1.ServiceAccount](t, ms)
	if sts.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("pods run as %q, want the chart's ServiceAccount %q", sts.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}
}

func containerHasPort(spec corev1.PodSpec, name string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func TestSecret_Generated(t *testing.T) {
	secret := one[*corev1.Secret](t, render(t))
	keys := slices.Sorted(maps.Keys(secret.Data))
	if want := []string{"admin-token", "client-token", "context-secret", "gossip-key", "previous-context-secret"}; !slices.Equal(keys, want) {
		t.Fatalf("Secret keys = %v, want %v", keys, want)
	}
	// serf takes base64 of 16, 24 or 32 bytes.
	raw, err := base64.StdEncoding.DecodeString(string(secret.Data["gossip-key"]))
	if err != nil || len(raw) != 32 {
		t.Errorf("generated gossip key %q: %d bytes, %v; want base64 of 32 bytes", secret.Data["gossip-key"], len(raw), err)
	}
	for _, k := range []string{"client-token", "admin-token", "context-secret"} {
		if v := string(secret.Data[k]); len(v) < 32 || strings.TrimSpace(v) != v {
			t.Errorf("generated %s %q: want 32 characters without white space", k, v)
		}
	}
	if string(secret.Data["client-token"]) == string(secret.Data["admin-token"]) ||
		string(secret.Data["context-secret"]) == string(secret.Data["client-token"]) {
		t.Error("two generated secrets are the same")
	}
	// The previous context secret exists only during a rotation.
	if v := secret.Data["previous-context-secret"]; len(v) != 0 {
		t.Errorf("previous-context-secret %q generated; want it empty", v)
	}
	// Each rendering without the cluster generates anew (no lookup).
	if again := one[*corev1.Secret](t, render(t)); string(again.Data["context-secret"]) == string(secret.Data["context-secret"]) {
		t.Error("two renderings generated the same context secret")
	}
}

func TestSecret_GivenAndNotGenerated(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	secret := one[*corev1.Secret](t, render(t,
		"--set", "secret.gossipKey="+key,
		"--set", "config.http.client_token=from-config", // moved into the Secret
		"--set", "secret.generate.adminToken=false",
		"--set", "secret.contextSecret=context-0123456789",
		"--set", "config.security.previous_context_secret=previous-0123456789",
	))
	for k, want := range map[string]string{"gossip-key": key, "client-token": "from-config", "admin-token": "",
		"context-secret": "context-0123456789", "previous-context-secret": "previous-0123456789"} {
		if got := string(secret.Data[k]); got != want {
			t.Errorf("Secret %s = %q, want %q", k, got, want)
		}
	}
}

func TestSecret_Existing(t *testing.T) {
	ms := render(t, "--set", "secret.existingSecret=mine")
	if s := all[*corev1.Secret](ms); len(s) != 0 {
		t.Errorf("rendered %d Secrets with secret.existingSecret set, want none", len(s))
	}
	c := container(t, one[*appsv1.StatefulSet](t, ms).Spec.Template.Spec, "dhtd")
	for _, e := range c.Env {
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
			if ref.SecretKeyRef.Name != "mine" || ref.SecretKeyRef.Optional == nil || !*ref.SecretKeyRef.Optional {
				t.Errorf("%s refers to %+v, want an optional key of Secret mine", e.Name, ref.SecretKeyRef)
			}
		}
	}
}

// TestZone_NodeLabel checks the wiring of zone.source=nodeLabel: RBAC that
// allows reading nodes and nothing else, bound to the pods' account, and
// an API token mounted only into the init container.
func TestZone_NodeLabel(t *testing.T) {
	ms := render(t, valueSets["everything"]...)
	sts := one[*appsv1.StatefulSet](t, ms)
	pod := sts.Spec.Template.Spec
	role := one[*rbacv1.ClusterRole](t, ms)
	want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}}}
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].Resources, want[0].Resources) ||
		!slices.Equal(role.Rules[0].Verbs, want[0].Verbs) || !slices.Equal(role.Rules[0].APIGroups, want[0].APIGroups) {
		t.Errorf("ClusterRole rules = %+v, want %+v", role.Rules, want)
	}
	binding := one[*rbacv1.ClusterRoleBinding](t, ms)
	if binding.RoleRef.Name != role.Name || len(binding.Subjects) != 1 ||
		binding.Subjects[0].Name != pod.ServiceAccountName || binding.Subjects[0].Namespace != namespace {
		t.Errorf("ClusterRoleBinding %+v does not bind %s to ServiceAccount %s/%s", binding, role.Name, namespace, pod.ServiceAccountName)
	}

	initC := container(t, pod, "zone")
	dhtd := container(t, pod, "dhtd")
	hasMount := func(c corev1.Container, path string) bool {
		return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == path })
	}
	const tokenDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	if !hasMount(initC, tokenDir) {
		t.Error("the zone init container has no API token mounted")
	}
	if hasMount(dhtd, tokenDir) {
		t.Error("dhtd has an API token mounted")
	}
	for _, e := range dhtd.Env {
		if e.Name == "DHT_CLUSTER_ZONE" {
			t.Error("DHT_CLUSTER_ZONE is set with zone.source=nodeLabel; it would override the zone in the file")
		}
	}
	if initC.SecurityContext == nil || initC.SecurityContext.ReadOnlyRootFilesystem == nil || !*initC.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("the zone init container's root is not read-only")
	}

	sm := one[*monitoringv1.ServiceMonitor](t, ms)
	headless := named[*corev1.Service](t, ms, sts.Spec.ServiceName)
	if !labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(headless.Labels)) {
		t.Errorf("ServiceMonitor selector %v does not select the headless service %v", sm.Spec.Selector.MatchLabels, headless.Labels)
	}
	if client := named[*corev1.Service](t, ms, release); labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(client.Labels)) {
		t.Error("ServiceMonitor also selects the client service: every node would be scraped twice")
	}
}

func TestZone_PodLabelAndStatic(t *testing.T) {
	zoneEnv := func(ms []manifest) *corev1.EnvVar {
		for _, e := range container(t, one[*appsv1.StatefulSet](t, ms).Spec.Template.Spec, "dhtd").Env {
			if e.Name == "DHT_CLUSTER_ZONE" {
				return &e
			}
		}
		return nil
	}
	e := zoneEnv(render(t))
	if e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil ||
		e.ValueFrom.FieldRef.FieldPath != "metadata.labels['topology.kubernetes.io/zone']" {
		t.Errorf("DHT_CLUSTER_ZONE = %+v, want the pod's topology.kubernetes.io/zone label", e)
	}
	// A static zone in the config must not be overridden by the environment.
	ms := render(t, "--set", "config.cluster.zone=eu-west-1a")
	if e := zoneEnv(ms); e != nil {
		t.Errorf("DHT_CLUSTER_ZONE = %+v with config.cluster.zone set; it would override it", e)
	}
	if rbac := all[*rbacv1.ClusterRole](ms); len(rbac) != 0 {
		t.Error("RBAC rendered without zone.source=nodeLabel")
	}
}

func TestPorts_FromConfig(t *testing.T) {
	ms := render(t,
		"--set", "config.http.listen=:9090",
		"--set", "config.cluster.gossip_listen=127.0.0.1:8301",
		"--set", "config.cluster.remote_listen=0.0.0.0:9070",
	)
	sts := one[*appsv1.StatefulSet](t, ms)
	c := container(t, sts.Spec.Template.Spec, "dhtd")
	got := map[string]int32{}
	for _, p := range c.Ports {
		got[p.Name] = p.ContainerPort
	}
	if want := map[string]int32{"http": 9090, "gossip-tcp": 8301, "gossip-udp": 8301, "remote": 9070}; !maps.Equal(got, want) {
		t.Errorf("container ports = %v, want %v", got, want)
	}
	for _, svc := range all[*corev1.Service](ms) {
		for _, p := range svc.Spec.Ports {
			if p.Port != got[p.TargetPort.String()] {
				t.Errorf("%s: port %s = %d, container port %d", svc.Name, p.Name, p.Port, got[p.TargetPort.String()])
			}
		}
	}
	if a := sts.Spec.Template.Annotations["prometheus.io/port"]; a != "9090" {
		t.Errorf("prometheus.io/port = %q, want 9090", a)
	}
}

func TestTerminationGrace(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want int64
	}{
		{nil, 5 + 10 + 20}, // lame duck, drain, margin
		{[]string{"--set", "config.http.shutdown_timeout=1m30s"}, 5 + 90 + 20},
		{[]string{"--set", "config.http.shutdown_timeout=2500ms", "--set", "config.http.lame_duck=0s", "--set", "terminationGraceMarginSeconds=5"}, 3 + 5},
		{[]string{"--set", "terminationGracePeriodSeconds=120"}, 120},
	} {
		sts := one[*appsv1.StatefulSet](t, render(t, tt.args...))
		if g := sts.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != tt.want {
			t.Errorf("%v: terminationGracePeriodSeconds = %v, want %d", tt.args, g, tt.want)
		}
	}
}

// TestRefusedValues: values that cannot work fail at `helm template`, with
// a message naming the value, rather than as a crash-looping pod.
func TestRefusedValues(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "config.node.id=n1"}, "config.node.id must stay empty"},
		{[]string{"--set", "config.cluster.gossip_advertise=10.0.0.1:7946"}, "config.cluster.gossip_advertise must stay empty"},
		{[]string{"--set", "config.http.listen=127.0.0.1:0"}, "fixed port"},
		{[]string{"--set", "config.http.listen=localhost:http"}, "numeric port"},
		{[]string{"--set", "terminationGracePeriodSeconds=5"}, "shorter than config.http.lame_duck plus shutdown_timeout"},
		{[]string{"--set", "zone.source=nodeLabel"}, "zone.nodeLabel.image.repository is required"},
		{[]string{"--set", "zone.source=magic"}, "zone/source"},
		// values.schema.json: config has exactly config.yaml's keys and types.
		{[]string{"--set", "config.replication.nn=5"}, "additional properties 'nn' not allowed"},
		{[]string{"--set", "config.storage.sync_writes=yes"}, "want boolean"},
		{[]string{"--set", "config.replication.n=three"}, "want integer"},
		{[]string{"--set", "config.http.read_timeout=30"}, "read_timeout"},
		{[]string{"--set", "config.log.level=verbose"}, "log/level"},
		{[]string{"-f", valuesFile(t, "secret:\n  clientToken: \"tok \"\n")}, "white space"},
		// TLS.
		{[]string{"--set", "tls.existingSecret=a", "--set", "tls.certManager.enabled=true", "--set", "tls.certManager.issuerRef.name=ca"}, "set one"},
		{[]string{"--set", "tls.certManager.enabled=true"}, "tls.certManager.issuerRef.name is required"},
		{[]string{"--set", "tls.existingSecret=a", "--set", "tls.http.requireClientCert=true"}, "needs config.http.metrics_listen"},
		{[]string{"--set", "tls.existingSecret=a", "--set", "tls.http.enabled=false", "--set", "tls.http.requireClientCert=true"}, "needs tls.http.enabled"},
		{[]string{"--set", "config.cluster.tls.ca_file=/ca.crt"}, "config.cluster.tls.ca_file must stay empty"},
		{[]string{"--set", "config.http.tls.cert_file=/tls.crt"}, "config.http.tls.cert_file must stay empty"},
		{[]string{"--set", "tls.certManager.issuerRef.kind=Foo"}, "issuerRef/kind"},
		{[]string{"--set", "tls.http.enabled=yes"}, "want boolean"},
		{[]string{"--set", "config.cluster.tls.crt=x"}, "additional properties 'crt' not allowed"},
		// The metrics listener.
		{[]string{"--set", "config.http.metrics_listen=:8080"}, "another port than config.http.listen"},
		{[]string{"--set", "config.http.metrics_listen=127.0.0.1:0"}, "fixed port"},
		// The context secrets: dhtd's rules, before any pod starts.
		{[]string{"--set", "secret.contextSecret=short"}, "at least 16 characters"},
		{[]string{"--set", "config.security.context_secret=short"}, "at least 16 characters"},
		{[]string{"--set", "secret.previousContextSecret=previous-0123456789"}, "without secret.contextSecret"},
		{[]string{"--set", "secret.previousContextSecret=same-0123456789ab", "--set", "secret.contextSecret=same-0123456789ab"}, "must differ"},
		{[]string{"--set", "networkPolicy.enabled=maybe"}, "want boolean"},
		// A bare n is false in YAML 1.1, which is how Helm reads values files.
		{[]string{"-f", valuesFile(t, "config:\n  replication:\n    n: 5\n")}, "additional properties 'false' not allowed"},
	} {
		_, err := runHelm(t, templateArgs(tt.args...)...)
		if err == nil {
			t.Errorf("%v: rendered without error", tt.args)
		} else if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error does not mention %q:\n%v", tt.args, tt.want, err)
		}
	}
}
