package runner_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/helm"
	"github.com/containercraft/konductor-action/modules/kubernetes"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/modules/versions"
	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/policy"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/kubecluster"
	"github.com/containercraft/konductor-action/test/testenv"
)

// newHelmRunner is newKubeRunner knowing the kubernetes and helm modules.
func newHelmRunner(t *testing.T) *runner.Runner {
	t.Helper()
	r := newKubeRunner(t)
	r.Registry = modules.NewRegistry(kubernetes.Module, helm.Module)
	return r
}

// helmProject lays out a project whose repository holds the tiny test chart
// as charts/tiny, and values files under values/.
func helmProject(t *testing.T, stack string) string {
	t.Helper()
	dir := testenv.Project(t, "platform", "dev", stack)
	if err := os.CopyFS(filepath.Join(dir, "charts", "tiny"), os.DirFS(filepath.Join("testdata", "helm", "tiny"))); err != nil {
		t.Fatal(err)
	}
	testenv.Write(t, filepath.Join(dir, "values", "base.yaml"), "greeting: from-base\ncolor: from-base\nsize: from-base\n")
	testenv.Write(t, filepath.Join(dir, "values", "override.yaml"), "color: from-override\nsize: from-override\n")
	return dir
}

// renderReleases starts a render-mode stack of the helm module; the
// releases' list items follow.
const renderReleases = `config:
  platform:kubernetes:
    enabled: true
    render_dir: rendered
  platform:helm:
    enabled: true
    releases:
`

// packChart writes the chart directory src as a .tgz the way `helm package`
// lays it out: every file under one top directory named after the chart.
func packChart(t *testing.T, src, name, dst string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name + "/" + filepath.ToSlash(rel), Mode: 0o644, Size: info.Size(), ModTime: info.ModTime()}); err != nil {
			return err
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []io.Closer{tw, gz, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHelmRender installs three releases in render mode with the real
// engine and provider: the tiny chart from a directory in the repository
// (values from two files and inline), the same chart packed, and the pinned
// cert-manager chart packed as a .tgz, which the tiny release depends on.
func TestHelmRender(t *testing.T) {
	start := time.Now()
	cmVersion := versions.Get("cert_manager", "version")
	dir := helmProject(t, renderReleases+`      - name: tiny
        chart: charts/tiny
        namespace: apps
        create_namespace: true
        values_files: [values/base.yaml, values/override.yaml]
        values:
          size: inline
        depends_on: [cert-manager]
      - name: tiny-packed
        chart: charts/tiny-0.1.0.tgz
        version: 0.1.0
        namespace: apps
        create_namespace: true
      - name: cert-manager
        chart: charts/cert-manager-`+cmVersion+`.tgz
        version: `+cmVersion+`
        namespace: cert-manager
        create_namespace: true
        values:
          crds: {enabled: true}
`)
	packChart(t, filepath.Join(dir, "charts", "tiny"), "tiny", filepath.Join(dir, "charts", "tiny-0.1.0.tgz"))
	packChart(t, testenv.CertManagerChart(t), "cert-manager", filepath.Join(dir, "charts", "cert-manager-"+cmVersion+".tgz"))

	r := newHelmRunner(t)
	res := runOp(t, r, dir, result.Up)
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

	// Values: chart defaults < values files in order < inline.
	if got, want := str(get("ConfigMap", "apps", "tiny-settings").raw["data"]), `{"color":"from-override","greeting":"from-base","size":"inline"}`; got != want {
		t.Errorf("tiny data = %s, want %s", got, want)
	}
	if got, want := str(get("ConfigMap", "apps", "tiny-packed-settings").raw["data"]), `{"color":"chart-default","greeting":"chart-default","size":"chart-default"}`; got != want {
		t.Errorf("tiny-packed data = %s, want the chart's defaults %s", got, want)
	}
	get("ServiceAccount", "apps", "tiny")
	get("CustomResourceDefinition", "", "certificates.cert-manager.io")
	d := get("Deployment", "cert-manager", "cert-manager")
	if img, _ := dig(d.Spec, "template", "spec", "containers", 0, "image").(string); !strings.HasSuffix(img, ":"+cmVersion) {
		t.Errorf("cert-manager image %q, want the packed chart's %s", img, cmVersion)
	}

	// The global metadata on every rendered object, the namespaces and the
	// charts' objects alike (over the charts' own managed-by: Helm).
	for k, o := range objs {
		for l, v := range map[string]string{metadata.LabelManagedBy: metadata.ManagedByValue, metadata.LabelStack: "dev", metadata.LabelModule: helm.Name} {
			if o.Metadata.Labels[l] != v {
				t.Errorf("%s: label %s = %q, want %q", k, l, o.Metadata.Labels[l], v)
			}
		}
	}
	for _, ns := range []string{"apps", "cert-manager"} {
		get("Namespace", "", ns)
	}

	out := res.Outputs[helm.Name].Value
	for _, want := range []string{`"tiny"`, `"0.1.0"`, `"charts/tiny"`, `"apps"`, `"` + cmVersion + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("helm output %s lacks %s", out, want)
		}
	}

	// depends_on: in the engine's state the tiny release's Chart depends on
	// every object of cert-manager's (its Deployment among them), so the
	// engine constructs it, and so renders or applies its objects, only after
	// those are done; tiny-packed depends on its namespace only.
	deps := stateDependencies(t, r, dir)
	dependsOn := func(name, suffix string) bool {
		return slices.ContainsFunc(deps[name], func(d string) bool { return strings.HasSuffix(d, suffix) })
	}
	const cmDeployment = "Deployment::cert-manager:cert-manager/cert-manager"
	if !dependsOn("tiny", cmDeployment) || !dependsOn("tiny", "Namespace::namespace-apps") {
		t.Errorf("the tiny release depends on %v, want cert-manager's Deployment and namespace apps among them", deps["tiny"])
	}
	if dependsOn("tiny-packed", cmDeployment) || !dependsOn("tiny-packed", "Namespace::namespace-apps") {
		t.Errorf("the tiny-packed release depends on %v, want namespace apps only", deps["tiny-packed"])
	}
	t.Logf("helm render test: %s", time.Since(start).Round(time.Millisecond))
}

// stateDependencies exports the stack's state and returns each resource's
// dependencies (URNs) by its name.
func stateDependencies(t *testing.T, r *runner.Runner, dir string) map[string][]string {
	t.Helper()
	state := filepath.Join(dir, engine.LocalStateDir)
	env := func(k string) string {
		if k == "PULUMI_BACKEND_URL" {
			return "file://" + state
		}
		return r.Getenv(k)
	}
	var export struct {
		Deployment struct {
			Resources []struct {
				URN          string   `json:"urn"`
				Dependencies []string `json:"dependencies"`
			} `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal([]byte(testenv.Pulumi(t, dir, env, "stack", "export", "--stack", "dev")), &export); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, res := range export.Deployment.Resources {
		name := res.URN[strings.LastIndex(res.URN, "::")+2:]
		out[name] = res.Dependencies
	}
	return out
}

// A version range is refused before anything runs: a config.FieldError
// naming the key (exit 2).
func TestHelmVersionRangeRefused(t *testing.T) {
	dir := helmProject(t, renderReleases+`      - name: tiny
        chart: charts/tiny
      - name: ingress
        chart: ingress-nginx
        repo: https://kubernetes.github.io/ingress-nginx
        version: ^4.12.0
        depends_on: [tiny, nope]
`)
	r := newHelmRunner(t)
	_, err := r.Run(context.Background(), runner.Request{Operation: result.Preview, Dir: dir, Stack: "dev"})
	var ce config.Errors
	if !errors.As(err, &ce) {
		t.Fatalf("preview: %v, want config.Errors (exit 2)", err)
	}
	var paths []string
	for _, e := range ce {
		paths = append(paths, e.Path)
	}
	for _, want := range []string{"platform:helm.releases[1].version", "platform:helm.releases[1].depends_on[1]"} {
		if !slices.Contains(paths, want) {
			t.Errorf("errors at %v, want %s:\n%v", paths, want, err)
		}
	}
	// The error points at the item's own line, not at the list.
	b, _ := os.ReadFile(filepath.Join(dir, "Pulumi.dev.yaml"))
	wantLine := slices.IndexFunc(strings.Split(string(b), "\n"), func(l string) bool { return strings.Contains(l, "version: ^4.12.0") }) + 1
	for _, e := range ce {
		if e.Path == "platform:helm.releases[1].version" && e.Line != wantLine {
			t.Errorf("%v: line %d, want %d", e, e.Line, wantLine)
		}
	}
	if !strings.Contains(err.Error(), `"^4.12.0" is not an exact chart version`) {
		t.Errorf("error %q does not say why", err)
	}
}

// TestHelmCluster installs the tiny chart on the local API server: its
// objects are there, in the namespace the module created, with the values
// and the global metadata; destroy removes them.
func TestHelmCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	start := time.Now()
	c := kubecluster.Start(t)
	cs := c.Client(t)
	ctx := t.Context()
	dir := helmProject(t, `config:
  platform:kubernetes:
    enabled: true
    kubeconfig: `+c.Kubeconfig+`
    context: `+kubecluster.ContextName+`
  platform:helm:
    enabled: true
    releases:
      - name: tiny
        chart: charts/tiny
        version: 0.1.0
        namespace: tiny-apps
        create_namespace: true
        values_files: [values/base.yaml]
        values: {size: inline}
`)
	r := newHelmRunner(t)
	runOp(t, r, dir, result.Up)
	want := map[string]string{metadata.LabelManagedBy: metadata.ManagedByValue, metadata.LabelStack: "dev", metadata.LabelModule: helm.Name}
	checkLabels := func(what string, got map[string]string) {
		t.Helper()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: label %s = %q, want %q (labels %v)", what, k, got[k], v, got)
			}
		}
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "tiny-apps", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkLabels("namespace tiny-apps", ns.Labels)
	cm, err := cs.CoreV1().ConfigMaps("tiny-apps").Get(ctx, "tiny-settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkLabels("configmap tiny-settings", cm.Labels)
	if cm.Data["greeting"] != "from-base" || cm.Data["size"] != "inline" || cm.Data["color"] != "from-base" {
		t.Errorf("configmap data %v, want the values file's with size inline", cm.Data)
	}
	sa, err := cs.CoreV1().ServiceAccounts("tiny-apps").Get(ctx, "tiny", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkLabels("serviceaccount tiny", sa.Labels)

	runOp(t, r, dir, result.Destroy)
	if _, err := cs.CoreV1().ConfigMaps("tiny-apps").Get(ctx, "tiny-settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("configmap tiny-settings after destroy: %v, want not found", err)
	}
	t.Logf("helm cluster test: %s", time.Since(start).Round(time.Millisecond))
}

// A chart's objects go through the policy packs like any other resource:
// the tiny chart's Deployment, which sets no resources, is reported by the
// baseline pack's k8s-resource-limits rule in a render-mode preview.
func TestHelmPolicy(t *testing.T) {
	dir := helmProject(t, renderReleases+`      - name: tiny
        chart: charts/tiny
        namespace: apps
        values:
          deployment: {enabled: true}
`)
	r := newHelmRunner(t)
	r.Policy = policy.Options{CacheDir: t.TempDir(), Baseline: testenv.BaselinePack(t)}
	res, err := r.Run(context.Background(), runner.Request{Operation: result.Preview, Dir: dir, Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, v := range res.Violations {
		t.Logf("violation: %s %s/%s on %s %s: %s", v.Level, v.Pack, v.Rule, v.Type, v.Name, v.Message)
		if v.Rule == "k8s-resource-limits" && v.Type == "kubernetes:apps/v1:Deployment" && strings.Contains(v.Name, "tiny") {
			found = true
		}
	}
	if !found {
		t.Errorf("no k8s-resource-limits violation on the chart's Deployment (status %s)", res.Status)
	}
}
