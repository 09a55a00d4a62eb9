// Package helm tests the Helm chart helm/dht: it lints and renders the chart
// with the pinned helm (scripts/helm.sh, or $HELM), decodes every rendered
// manifest strictly into the k8s.io/api types, and loads the rendered
// config.yaml with dhtd's own config loader, in the environment the
// StatefulSet gives the pod. With DHT_BOOT_IMAGE set, TestChart_Boots also
// runs the rendered pods as docker containers (boot_test.go).
//
// It is a module of its own, so that the server's go.mod does not carry
// k8s.io/api. Run it with
//
//	cd test/helm && go test ./...
package helm

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	// release and namespace of every rendering: the release name equals the
	// chart name, so the full name (and the StatefulSet) is "dht".
	release   = "dht"
	namespace = "dht-test"
)

var (
	repoRoot string // the server's repository, ../..
	chartDir string // helm/dht
	helmBin  string // the pinned helm: $HELM, or scripts/helm.sh
)

func TestMain(m *testing.M) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot = root
	chartDir = filepath.Join(root, "helm", "dht")
	helmBin = os.Getenv("HELM")
	if helmBin == "" {
		helmBin = filepath.Join(root, "scripts", "helm.sh")
	}
	// scripts/helm.sh installs helm on first use, which takes minutes:
	// do it once here rather than inside a test.
	out, err := exec.Command(helmBin, "version", "--short").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot run helm (%s): %v\n%s", helmBin, err, out)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// runHelm runs helm with args and returns its standard output; the error
// carries its standard error.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// templateArgs are the arguments of `helm template` for the chart with
// extra args (--set, -f, ...).
func templateArgs(extra ...string) []string {
	return append([]string{"template", release, chartDir, "--namespace", namespace}, extra...)
}

// manifest is one rendered object.
type manifest struct {
	Source string // the template it came from, as helm names it
	Raw    []byte
	Obj    runtime.Object // the typed k8s.io/api object
}

func (m manifest) String() string {
	if o, ok := m.Obj.(metav1.Object); ok {
		return fmt.Sprintf("%s %s (%s)", m.Obj.GetObjectKind().GroupVersionKind().Kind, o.GetName(), m.Source)
	}
	return m.Source
}

// render runs `helm template` with extra args and decodes every manifest
// strictly; any failure is fatal.
func render(t *testing.T, extra ...string) []manifest {
	t.Helper()
	out, err := runHelm(t, templateArgs(extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := decodeAll(out)
	if err != nil {
		t.Fatalf("helm template %s: %v", strings.Join(extra, " "), err)
	}
	return ms
}

// scheme knows every kind the chart may render, and nothing else: a kind
// outside it fails the decoding.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(corev1.AddToScheme(s))
	utilruntime.Must(appsv1.AddToScheme(s))
	utilruntime.Must(policyv1.AddToScheme(s))
	utilruntime.Must(rbacv1.AddToScheme(s))
	utilruntime.Must(networkingv1.AddToScheme(s))
	utilruntime.Must(monitoringv1.AddToScheme(s))
	s.AddKnownTypeWithName(schema.GroupVersionKind{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"}, &certificate{})
	return s
}()

// certificate is cert-manager's cert-manager.io/v1 Certificate, with the
// spec fields of cert-manager's pkg/apis/certmanager/v1 (types_certificate.go)
// that a chart may set; the strict decoding refuses any other. The test
// module does without cert-manager's module and its dependencies.
type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              certificateSpec `json:"spec"`
}

type certificateSpec struct {
	Subject        *certificateSubject `json:"subject,omitempty"`
	CommonName     string              `json:"commonName,omitempty"`
	Duration       *metav1.Duration    `json:"duration,omitempty"`
	RenewBefore    *metav1.Duration    `json:"renewBefore,omitempty"`
	DNSNames       []string            `json:"dnsNames,omitempty"`
	IPAddresses    []string            `json:"ipAddresses,omitempty"`
	URIs           []string            `json:"uris,omitempty"`
	EmailAddresses []string            `json:"emailAddresses,omitempty"`
	SecretName     string              `json:"secretName"`
	SecretTemplate *struct {
		Annotations map[string]string `json:"annotations,omitempty"`
		Labels      map[string]string `json:"labels,omitempty"`
	} `json:"secretTemplate,omitempty"`
	IssuerRef struct {
		Name  string `json:"name"`
		Kind  string `json:"kind,omitempty"`
		Group string `json:"group,omitempty"`
	} `json:"issuerRef"`
	IsCA       bool     `json:"isCA,omitempty"`
	Usages     []string `json:"usages,omitempty"`
	PrivateKey *struct {
		RotationPolicy string `json:"rotationPolicy,omitempty"`
		Encoding       string `json:"encoding,omitempty"`
		Algorithm      string `json:"algorithm,omitempty"`
		Size           int    `json:"size,omitempty"`
	} `json:"privateKey,omitempty"`
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
}

type certificateSubject struct {
	Organizations       []string `json:"organizations,omitempty"`
	Countries           []string `json:"countries,omitempty"`
	OrganizationalUnits []string `json:"organizationalUnits,omitempty"`
	Localities          []string `json:"localities,omitempty"`
	Provinces           []string `json:"provinces,omitempty"`
	StreetAddresses     []string `json:"streetAddresses,omitempty"`
	PostalCodes         []string `json:"postalCodes,omitempty"`
	SerialNumber        string   `json:"serialNumber,omitempty"`
}

// DeepCopyObject makes certificate a runtime.Object.
func (c *certificate) DeepCopyObject() runtime.Object {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	var out certificate
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return &out
}

var sourceLine = regexp.MustCompile(`(?m)^# Source: (.*)$`)

// decodeAll splits helm's output into documents and decodes each into the
// typed object of its apiVersion and kind, strictly: an unknown or
// duplicated field is an error, as is a kind the scheme does not know.
func decodeAll(out string) ([]manifest, error) {
	r := k8syaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	var ms []manifest
	var errs []error
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		source := "?"
		if m := sourceLine.FindSubmatch(doc); m != nil {
			source = string(m[1])
		}
		if isBlank(doc) {
			continue
		}
		obj, err := decodeStrict(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
			continue
		}
		ms = append(ms, manifest{Source: source, Raw: doc, Obj: obj})
	}
	if len(ms) == 0 && len(errs) == 0 {
		return nil, errors.New("no manifests rendered")
	}
	return ms, errors.Join(errs...)
}

// isBlank reports whether a YAML document holds only comments and space.
func isBlank(doc []byte) bool {
	for line := range strings.SplitSeq(string(doc), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && l != "---" {
			return false
		}
	}
	return true
}

func decodeStrict(doc []byte) (runtime.Object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, fmt.Errorf("reading apiVersion and kind: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return nil, fmt.Errorf("no apiVersion or kind in\n%s", doc)
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return nil, err
	}
	obj, err := scheme.New(gv.WithKind(tm.Kind))
	if err != nil {
		return nil, fmt.Errorf("%s %s: not a kind this test knows: %w", tm.APIVersion, tm.Kind, err)
	}
	// UnmarshalStrict converts to JSON (refusing duplicate keys) and decodes
	// with DisallowUnknownFields.
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return obj, nil
}

// all returns the objects of type T.
func all[T runtime.Object](ms []manifest) []T {
	var out []T
	for _, m := range ms {
		if o, ok := m.Obj.(T); ok {
			out = append(out, o)
		}
	}
	return out
}

// one returns the only object of type T; it fails the test unless there is
// exactly one.
func one[T runtime.Object](t *testing.T, ms []manifest) T {
	t.Helper()
	objs := all[T](ms)
	if len(objs) != 1 {
		var zero T
		t.Fatalf("rendered %d objects of type %T, want 1", len(objs), zero)
	}
	return objs[0]
}

// named returns the object of type T with the given name.
func named[T interface {
	runtime.Object
	metav1.Object
}](t *testing.T, ms []manifest, name string) T {
	t.Helper()
	for _, o := range all[T](ms) {
		if o.GetName() == name {
			return o
		}
	}
	var zero T
	t.Fatalf("no %T named %q rendered", zero, name)
	return zero
}

// container returns the container or init container called name.
func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

// renderedConfig returns the config.yaml of the rendered ConfigMap.
func renderedConfig(t *testing.T, ms []manifest) string {
	t.Helper()
	cm := one[*corev1.ConfigMap](t, ms)
	cfg, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no config.yaml", cm.Name)
	}
	return cfg
}
