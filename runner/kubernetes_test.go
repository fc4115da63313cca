package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/certmanager"
	"github.com/containercraft/konductor-action/modules/kubernetes"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/modules/versions"
	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/testenv"
)

func newKubeRunner(t *testing.T) *runner.Runner { return newKubeRunnerEnv(t, nil) }

// newKubeRunnerEnv is newKubeRunner with extra environment.
func newKubeRunnerEnv(t *testing.T, extra map[string]string) *runner.Runner {
	t.Helper()
	environ := testenv.Environ(t, extra)
	eng, err := engine.New(engine.Options{Environ: environ})
	if err != nil {
		t.Fatal(err)
	}
	return &runner.Runner{
		Registry: modules.NewRegistry(kubernetes.Module, certmanager.Module),
		Engine:   eng,
		Getenv:   testenv.Getenv(environ),
	}
}

func runOp(t *testing.T, r *runner.Runner, dir string, op result.Operation) *result.Result {
	t.Helper()
	start := time.Now()
	res, err := r.Run(context.Background(), runner.Request{Operation: op, Dir: dir, Stack: "dev"})
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	t.Logf("%s: %s in %s, counts %v", op, res.Status, time.Since(start).Round(time.Millisecond), res.Counts)
	if res.Status != result.Succeeded {
		t.Fatalf("%s: status %s: %s\n%s", op, res.Status, res.Error, report.Markdown(res, report.Options{}))
	}
	return res
}

// kubeStack is the stack config of both tests; target is the kubernetes
// module's provider setting (render_dir or kubeconfig).
func kubeStack(target, chart string, issuers bool, tier string) string {
	return fmt.Sprintf(`config:
  platform:kubernetes:
    enabled: true
%s
    namespaces:
      - name: team-a
        labels:
          tier: %s
        annotations:
          owner: team-a@example.com
        baseline:
          resource_quota:
            requests_cpu: "2"
            pods: 20
            hard:
              services: "10"
          limit_range: {}
          default_deny: true
      - name: team-b
        labels:
          tier: batch
  platform:cert_manager:
    enabled: true
    chart_path: %s
    keep_crds: false
    resources:
      webhook:
        limits:
          memory: 96Mi
    issuers:
      enabled: %t
`, target, tier, chart, issuers)
}

// object is one rendered manifest.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec map[string]any `yaml:"spec"`
	raw  map[string]any
}

func readManifests(t *testing.T, dir string) map[string]object {
	t.Helper()
	objs := map[string]object{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var node yaml.Node
			if err := dec.Decode(&node); err == io.EOF {
				break
			} else if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			var o object
			if err := node.Decode(&o); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if err := node.Decode(&o.raw); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if o.Kind == "" {
				continue
			}
			objs[key(o.Kind, o.Metadata.Namespace, o.Metadata.Name)] = o
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func key(kind, ns, name string) string { return kind + " " + ns + "/" + name }

// dig walks a decoded object by map keys and list indexes.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch s := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[s]
		case int:
			l, ok := v.([]any)
			if !ok || s >= len(l) {
				return nil
			}
			v = l[s]
		}
	}
	return v
}

func str(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestKubernetesCertManagerRender runs the real engine with the real
// kubernetes provider in render mode: no cluster, `up` writes the manifests.
// They prove what the modules send, including the cert-manager issuers that
// a kwok cluster's webhook-less API server cannot admit.
func TestKubernetesCertManagerRender(t *testing.T) {
	start := time.Now()
	chart := testenv.CertManagerChart(t)
	dir := testenv.Project(t, "platform", "dev", kubeStack("    render_dir: rendered", chart, true, "apps"))
	r := newKubeRunner(t)
	res := runOp(t, r, dir, result.Up)
	if res.Counts[result.OpCreate] < 50 {
		t.Errorf("up created %d resources, want the namespaces, baseline, chart and issuers (50+)", res.Counts[result.OpCreate])
	}
	if o := res.Outputs["cert_manager"]; !strings.Contains(o.Value, `"konductor-ca"`) || !strings.Contains(o.Value, versions.Get("cert_manager", "version")) {
		t.Errorf("cert_manager output = %q, want the issuer and the version", o.Value)
	}
	objs := readManifests(t, filepath.Join(dir, "rendered"))
	t.Logf("%d manifests rendered", len(objs))
	get := func(kind, ns, name string) object {
		t.Helper()
		o, ok := objs[key(kind, ns, name)]
		if !ok {
			t.Fatalf("no %s rendered", key(kind, ns, name))
		}
		return o
	}

	// Namespaces: user labels and annotations plus the global metadata.
	teamA := get("Namespace", "", "team-a")
	for k, v := range map[string]string{"tier": "apps", metadata.LabelManagedBy: metadata.ManagedByValue,
		metadata.LabelStack: "dev", metadata.LabelModule: "kubernetes"} {
		if teamA.Metadata.Labels[k] != v {
			t.Errorf("namespace team-a label %s = %q, want %q (labels %v)", k, teamA.Metadata.Labels[k], v, teamA.Metadata.Labels)
		}
	}
	if teamA.Metadata.Annotations["owner"] != "team-a@example.com" {
		t.Errorf("namespace team-a annotations %v, want owner", teamA.Metadata.Annotations)
	}
	if l := get("Namespace", "", "team-b").Metadata.Labels; l["tier"] != "batch" {
		t.Errorf("namespace team-b labels %v", l)
	}
	cmNS := get("Namespace", "", "cert-manager")
	if cmNS.Metadata.Labels[metadata.LabelModule] != "cert_manager" {
		t.Errorf("namespace cert-manager labels %v, want module cert_manager", cmNS.Metadata.Labels)
	}

	// Baseline of team-a only.
	quota := get("ResourceQuota", "team-a", kubernetes.QuotaName)
	wantHard := map[string]any{"requests.cpu": "2", "requests.memory": "8Gi", "limits.cpu": "8", "limits.memory": "16Gi", "pods": "20", "services": "10"}
	if got := str(quota.Spec["hard"]); got != str(wantHard) {
		t.Errorf("quota hard = %s, want %s", got, str(wantHard))
	}
	lr := get("LimitRange", "team-a", kubernetes.LimitRangeName)
	if got, want := str(dig(lr.Spec, "limits", 0)), `{"default":{"cpu":"500m","memory":"512Mi"},"defaultRequest":{"cpu":"100m","memory":"128Mi"},"type":"Container"}`; got != want {
		t.Errorf("limit range = %s, want %s", got, want)
	}
	deny := get("NetworkPolicy", "team-a", kubernetes.DefaultDenyName)
	if got, want := str(deny.Spec), `{"podSelector":{},"policyTypes":["Ingress","Egress"]}`; got != want {
		t.Errorf("default-deny spec = %s, want %s", got, want)
	}
	dns := get("NetworkPolicy", "team-a", kubernetes.AllowDNSName)
	if got, want := str(dns.Spec["egress"]), `[{"ports":[{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}]}]`; got != want {
		t.Errorf("allow-dns egress = %s, want %s", got, want)
	}
	for k := range objs {
		if strings.Contains(k, " team-b/") {
			t.Errorf("team-b has no baseline, but %s was rendered", k)
		}
	}

	// cert-manager: CRDs, deployments with requests and limits.
	for _, crd := range []string{"certificates", "certificaterequests", "issuers", "clusterissuers", "orders", "challenges"} {
		group := "cert-manager.io"
		if crd == "orders" || crd == "challenges" {
			group = "acme.cert-manager.io"
		}
		get("CustomResourceDefinition", "", crd+"."+group)
	}
	wantRes := map[string]string{
		"cert-manager":            `{"limits":{"cpu":"500m","memory":"512Mi"},"requests":{"cpu":"50m","memory":"128Mi"}}`,
		"cert-manager-webhook":    `{"limits":{"cpu":"200m","memory":"96Mi"},"requests":{"cpu":"20m","memory":"64Mi"}}`,
		"cert-manager-cainjector": `{"limits":{"cpu":"200m","memory":"512Mi"},"requests":{"cpu":"20m","memory":"128Mi"}}`,
	}
	for name, want := range wantRes {
		d := get("Deployment", "cert-manager", name)
		if got := str(dig(d.Spec, "template", "spec", "containers", 0, "resources")); got != want {
			t.Errorf("deployment %s resources = %s, want %s", name, got, want)
		}
		img, _ := dig(d.Spec, "template", "spec", "containers", 0, "image").(string)
		if !strings.HasSuffix(img, ":"+versions.Get("cert_manager", "version")) {
			t.Errorf("deployment %s image %q, want the pinned version's tag", name, img)
		}
		if d.Metadata.Labels[metadata.LabelManagedBy] != metadata.ManagedByValue {
			t.Errorf("deployment %s labels %v lack the global metadata", name, d.Metadata.Labels)
		}
	}

	// The private CA: self-signed root → CA Certificate → CA ClusterIssuer.
	self := get("ClusterIssuer", "", "konductor-ca-selfsigned")
	if got := str(self.Spec); got != `{"selfSigned":{}}` {
		t.Errorf("self-signed issuer spec = %s", got)
	}
	cert := get("Certificate", "cert-manager", "konductor-ca")
	if got, want := str(cert.Spec), `{"commonName":"konductor CA","duration":"87600h","isCA":true,"issuerRef":{"group":"cert-manager.io","kind":"ClusterIssuer","name":"konductor-ca-selfsigned"},"privateKey":{"algorithm":"ECDSA","size":256},"secretName":"konductor-ca"}`; got != want {
		t.Errorf("CA certificate spec = %s\nwant %s", got, want)
	}
	ca := get("ClusterIssuer", "", "konductor-ca")
	if got := str(ca.Spec); got != `{"ca":{"secretName":"konductor-ca"}}` {
		t.Errorf("CA issuer spec = %s", got)
	}

	// A label change previews as one namespace update with the property diff.
	testenv.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), kubeStack("    render_dir: rendered", chart, true, "frontend"))
	res = runOp(t, r, dir, result.Preview)
	assertLabelUpdate(t, res)
	runOp(t, r, dir, result.Destroy)
	t.Logf("render-mode test: %s", time.Since(start).Round(time.Millisecond))
}

// assertLabelUpdate checks a preview holds exactly one update: namespace
// team-a's tier label apps → frontend.
func assertLabelUpdate(t *testing.T, res *result.Result) {
	t.Helper()
	var updates []result.Step
	for _, s := range res.Steps {
		if s.Op != result.OpSame {
			updates = append(updates, s)
		}
	}
	if len(updates) != 1 || updates[0].Op != result.OpUpdate || updates[0].Name != "team-a" {
		t.Fatalf("preview steps = %+v, want one update of team-a (counts %v)", updates, res.Counts)
	}
	found := false
	for _, d := range updates[0].Diffs {
		if d.Path == "metadata.labels.tier" && d.Old == `"apps"` && d.New == `"frontend"` {
			found = true
		}
	}
	if !found {
		t.Errorf("team-a diffs = %+v, want metadata.labels.tier \"apps\" → \"frontend\"", updates[0].Diffs)
	}
	if md := report.Markdown(res, report.Options{}); !strings.Contains(md, "metadata.labels.tier") {
		t.Errorf("markdown lacks the label diff:\n%s", md)
	}
}
