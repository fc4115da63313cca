package helm

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/kubernetes"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/modules/metadata/metadatatest"
)

// paths returns the field paths of a validation error, failing on anything
// that is not a FieldError.
func paths(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *modules.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("not a field error: %v", e)
		}
		got = append(got, fe.Path)
	}
	return got
}

func TestValidateAccepts(t *testing.T) {
	c := Config{Releases: []Release{
		{Name: "app", Chart: "charts/app", ValuesFiles: []string{"values/app.yaml"}, Values: map[string]any{"a": 1}, DependsOn: []string{"ingress"}},
		{Name: "ingress", Chart: "ingress-nginx", Repo: "https://kubernetes.github.io/ingress-nginx", Version: "4.12.1", Namespace: "ingress", CreateNamespace: true},
		{Name: "podinfo", Chart: "oci://ghcr.io/stefanprodan/charts/podinfo", Version: "6.7.0", DependsOn: []string{"app", "ingress"}},
		{Name: "packed", Chart: "charts/app-0.1.0.tgz", Version: "v0.1.0"},
	}}
	if err := Module.Validate(&c); err != nil {
		t.Fatal(err)
	}
	if err := Module.Validate(&Config{}); err != nil {
		t.Errorf("no releases: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		rs   []Release
		want []string
	}{
		{"version range", []Release{{Name: "a", Chart: "nginx", Repo: "https://charts.example.com", Version: "^1.2.0"}}, []string{"releases[0].version"}},
		{"latest", []Release{{Name: "a", Chart: "oci://r.example.com/a", Version: "latest"}}, []string{"releases[0].version"}},
		{"range on a local chart", []Release{{Name: "a", Chart: "charts/a", Version: ">=1.0.0"}}, []string{"releases[0].version"}},
		{"repository chart without version", []Release{{Name: "a", Chart: "nginx", Repo: "https://charts.example.com"}}, []string{"releases[0].version"}},
		{"oci without version", []Release{{Name: "a", Chart: "oci://r.example.com/a"}}, []string{"releases[0].version"}},
		{"oci with repo", []Release{{Name: "a", Chart: "oci://r.example.com/a", Version: "1.0.0", Repo: "https://x"}}, []string{"releases[0].repo"}},
		{"bad repo and chart", []Release{{Name: "a", Chart: "stable/nginx", Repo: "charts.example.com", Version: "1.0.0"}}, []string{"releases[0].repo", "releases[0].chart"}},
		{"chart URL", []Release{{Name: "a", Chart: "https://example.com/a.tgz"}}, []string{"releases[0].chart"}},
		{"missing name and chart", []Release{{}}, []string{"releases[0].name", "releases[0].chart"}},
		{"bad names", []Release{{Name: "My_App", Chart: "c"}, {Name: strings.Repeat("a", 54), Chart: "c"}, {Name: "b", Chart: "c", Namespace: "Team A"}},
			[]string{"releases[0].name", "releases[1].name", "releases[2].namespace"}},
		{"system namespace created", []Release{{Name: "a", Chart: "c", CreateNamespace: true}, {Name: "b", Chart: "c", Namespace: "kube-system", CreateNamespace: true}},
			[]string{"releases[0].create_namespace", "releases[1].create_namespace"}},
		{"duplicate", []Release{{Name: "a", Chart: "c"}, {Name: "a", Chart: "c"}}, []string{"releases[1].name"}},
		{"absolute and escaping paths", []Release{{Name: "a", Chart: "/srv/charts/a", ValuesFiles: []string{"ok.yaml", "../secrets.yaml", "/etc/passwd"}}},
			[]string{"releases[0].chart", "releases[0].values_files[1]", "releases[0].values_files[2]"}},
		{"unknown and self depends_on", []Release{{Name: "a", Chart: "c"}, {Name: "b", Chart: "c"}, {Name: "c", Chart: "c", DependsOn: []string{"a", "nope", "c"}}},
			[]string{"releases[2].depends_on[1]", "releases[2].depends_on[2]"}},
		{"cycle", []Release{{Name: "a", Chart: "c", DependsOn: []string{"b"}}, {Name: "b", Chart: "c", DependsOn: []string{"c"}}, {Name: "c", Chart: "c", DependsOn: []string{"a"}}},
			[]string{"releases[2].depends_on[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Module.Validate(&Config{Releases: tc.rs})
			if got := paths(t, err); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("paths %q, want %q\n%v", got, tc.want, err)
			}
		})
	}
	err := Module.Validate(&Config{Releases: []Release{{Name: "a", Chart: "c", DependsOn: []string{"b"}}, {Name: "b", Chart: "c", DependsOn: []string{"a"}}}})
	if err == nil || !strings.Contains(err.Error(), "dependency cycle: a -> b -> a") {
		t.Errorf("cycle error %v, want the cycle spelled out", err)
	}
}

func TestOrder(t *testing.T) {
	rs := []Release{{Name: "a", DependsOn: []string{"c"}}, {Name: "b"}, {Name: "c", DependsOn: []string{"b"}}}
	if got := order(rs); !reflect.DeepEqual(got, []int{1, 2, 0}) {
		t.Errorf("order %v, want b c a", got)
	}
}

func write(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestValues(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "values", "base.yaml"), "replicas: 1\nimage: {repository: nginx, tag: \"1.0\"}\nlist: [a, b]\n")
	write(t, filepath.Join(dir, "values", "prod.yaml"), "replicas: 2\nimage: {tag: \"2.0\"}\n")
	r := &Release{ValuesFiles: []string{"values/base.yaml", "values/prod.yaml"}, Values: map[string]any{"replicas": 3, "extra": true}}
	v, err := Values(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"replicas": 3, "extra": true, "list": []any{"a", "b"}, "image": map[string]any{"repository": "nginx", "tag": "2.0"}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("values %v, want %v", v, want)
	}

	// A missing file, and a symlink out of the work dir, are refused.
	if _, err := Values(dir, &Release{ValuesFiles: []string{"values/none.yaml"}}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing file: %v", err)
	}
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	write(t, outside, "password: x\n")
	if err := os.Symlink(outside, filepath.Join(dir, "values", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := Values(dir, &Release{ValuesFiles: []string{"values/link.yaml"}}); err == nil || !strings.Contains(err.Error(), "leaves the directory") {
		t.Errorf("symlink out of the work dir: %v", err)
	}
}

func TestChartVersion(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "app", "Chart.yaml"), "apiVersion: v2\nname: app\nversion: 0.3.1\n")
	if v, err := ChartVersion(filepath.Join(dir, "app")); err != nil || v != "0.3.1" {
		t.Errorf("directory: %q %v", v, err)
	}
	tgz := filepath.Join(dir, "app-0.3.1.tgz")
	f, err := os.Create(tgz)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{"app/templates/Chart.yaml": "version: 9.9.9\n", "app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.3.1\n"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []interface{ Close() error }{tw, gz, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := ChartVersion(tgz); err != nil || v != "0.3.1" {
		t.Errorf("packed: %q %v", v, err)
	}
	if !sameVersion("v0.3.1", "0.3.1") || sameVersion("0.3.2", "0.3.1") {
		t.Error("sameVersion")
	}
}

// The resource graph under mocks: one Namespace for the releases sharing it,
// carrying the global metadata, and each Chart with its source, version and
// values, through the kubernetes module's provider.
func TestDeployGraph(t *testing.T) {
	k8sCfg := &kubernetes.Config{RenderDir: "rendered"}
	cfg := &Config{Releases: []Release{
		{Name: "web", Chart: "oci://registry.example.com/charts/web", Version: "1.2.3", Namespace: "apps", CreateNamespace: true,
			Values: map[string]any{"replicas": 2, "dropped": nil}, DependsOn: []string{"ingress"}},
		{Name: "ingress", Chart: "ingress-nginx", Repo: "https://charts.example.com", Version: "4.12.1", Namespace: "apps", CreateNamespace: true},
	}}
	if err := Module.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	mocks := metadatatest.Run(t, nil, func(ctx *pulumi.Context) error {
		k8sOut, err := metadatatest.Deploy(ctx, kubernetes.Module, k8sCfg, metadatatest.Facts(), nil)
		if err != nil {
			return err
		}
		_, err = metadatatest.Deploy(ctx, Module, cfg, metadatatest.Facts(), map[string]modules.Outputs{kubernetes.Name: k8sOut})
		return err
	})

	nss := mocks.ByType("kubernetes:core/v1:Namespace")
	if len(nss) != 1 || nss[0].Name != "namespace-apps" {
		t.Fatalf("namespaces %+v, want one namespace-apps", nss)
	}
	labels := nss[0].Inputs["metadata"].ObjectValue()["labels"].ObjectValue()
	if got := labels[metadata.LabelModule]; !got.IsString() || got.StringValue() != Name {
		t.Errorf("namespace labels %v, want module %s", labels, Name)
	}
	charts := map[string]resource.PropertyMap{}
	for _, r := range mocks.ByType("kubernetes:helm.sh/v4:Chart") {
		charts[r.Name] = r.Inputs
		if !strings.HasPrefix(r.Provider, "urn:pulumi:dev::platform::konductor:index:Module$pulumi:providers:kubernetes::kubernetes::") {
			t.Errorf("chart %s provider %q, want the kubernetes module's", r.Name, r.Provider)
		}
	}
	web, ingress := charts["web"], charts["ingress"]
	if web == nil || ingress == nil {
		t.Fatalf("charts %v, want web and ingress", charts)
	}
	for _, c := range []struct {
		got  resource.PropertyValue
		want string
	}{
		{web["chart"], "oci://registry.example.com/charts/web"},
		{web["version"], "1.2.3"},
		{web["namespace"], "apps"},
		{ingress["chart"], "ingress-nginx"},
		{ingress["version"], "4.12.1"},
		{ingress["repositoryOpts"].ObjectValue()["repo"], "https://charts.example.com"},
	} {
		if !c.got.IsString() || c.got.StringValue() != c.want {
			t.Errorf("chart input %v, want %s", c.got, c.want)
		}
	}
	// Pulumi drops a null from the values, so it cannot remove a chart's
	// default as `helm --set key=null` would; the README says so.
	if _, ok := web["values"].ObjectValue()["dropped"]; ok {
		t.Errorf("web values %v: a null reached the chart; update the README", web["values"])
	}
	if got := web["values"].ObjectValue()["replicas"]; !got.IsNumber() || got.NumberValue() != 2 {
		t.Errorf("web values %v, want replicas 2", web["values"])
	}
}

// What only the work dir can tell is checked at deploy time: a local chart
// whose Chart.yaml disagrees with version, a missing values file, a chart
// directory that is not there.
func TestDeployChecksFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "charts", "app", "Chart.yaml"), "apiVersion: v2\nname: app\nversion: 0.3.1\n")
	for _, tc := range []struct {
		release Release
		want    string
	}{
		{Release{Name: "app", Chart: "charts/app", Version: "0.3.0"}, "version 0.3.0, but the chart at charts/app is 0.3.1"},
		{Release{Name: "app", Chart: "charts/app", ValuesFiles: []string{"values/app.yaml"}}, "values/app.yaml: not found"},
		{Release{Name: "app", Chart: "charts/none"}, "charts/none: not found"},
	} {
		cfg := &Config{Releases: []Release{tc.release}}
		if err := Module.Validate(cfg); err != nil {
			t.Fatal(err)
		}
		mocks := &metadatatest.Mocks{}
		err := pulumi.RunErr(func(ctx *pulumi.Context) error {
			k8sOut, err := kubernetes.Module.Deploy(ctx, &kubernetes.Config{RenderDir: "rendered"}, modules.Env{})
			if err != nil {
				return err
			}
			_, err = Module.Deploy(ctx, cfg, modules.Env{WorkDir: dir, Deps: map[string]modules.Outputs{kubernetes.Name: k8sOut}})
			return err
		}, pulumi.WithMocks("platform", "dev", mocks))
		mocks.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.release, err, tc.want)
		}
	}
}
