// Package helm is the helm module: Helm charts as configuration. Each release
// names a chart from a repository, an oci:// registry or a directory (or
// packed .tgz) in the repository, at an exact version, with values from
// files in the repository and inline, and is deployed through the kubernetes
// module's provider, so its objects get the global metadata and go through
// the policy packs like every other resource, on a cluster or in render mode.
package helm

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/kubernetes"
	"github.com/containercraft/konductor-action/modules/versions"
)

// Name is the module's config key.
const Name = "helm"

// DefaultNamespace is a release's namespace when none is set, as in Helm.
const DefaultNamespace = "default"

// OutputReleases is the key of the per-release outputs: release name →
// {name, namespace, chart, version}.
const OutputReleases = "releases"

// maxReleaseName is Helm's own limit: a release name becomes part of object
// names and labels that add suffixes to it.
const maxReleaseName = 53

// Config is the module's section of stack config.
type Config struct {
	Releases []Release `yaml:"releases" doc:"Helm releases to install, in depends_on order"`
}

// Release is one Helm release.
type Release struct {
	Name  string `yaml:"name" doc:"release name (required; DNS-1123 label, at most 53, unique)"`
	Chart string `yaml:"chart" doc:"chart name in repo, an oci:// reference, or a chart directory or .tgz relative to the work dir (required)"`
	Repo  string `yaml:"repo" doc:"Helm repository URL (http(s)://) holding chart"`
	// Version is exact so that a deploy never moves without a commit.
	Version         string         `yaml:"version" doc:"exact chart version (required for repo and oci:// charts; must match Chart.yaml for a local chart)"`
	Namespace       string         `yaml:"namespace" doc:"namespace of the release; default: default"`
	CreateNamespace bool           `yaml:"create_namespace" doc:"create the namespace (with the global metadata) before the release"`
	ValuesFiles     []string       `yaml:"values_files" doc:"values files relative to the work dir, merged in order"`
	Values          map[string]any `yaml:"values" doc:"inline values, merged over the values files"`
	DependsOn       []string       `yaml:"depends_on" doc:"releases whose every object is created first"`
}

// Module is the helm module.
var Module = modules.Define(modules.Spec[Config]{
	Name:        Name,
	Description: "Helm releases from repositories, oci:// or charts in the repository, at exact versions",
	DependsOn:   []string{kubernetes.Name},
	Defaults:    func() Config { return Config{} },
	Validate:    validate,
	Deploy:      deploy,
})

// systemNamespaces exist on every cluster; no release creates them.
var systemNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}

// kind is where a release's chart comes from.
type kind int

const (
	local kind = iota
	repository
	oci
)

func (r *Release) kind() kind {
	switch {
	case strings.HasPrefix(r.Chart, "oci://"):
		return oci
	case r.Repo != "":
		return repository
	}
	return local
}

func (r *Release) namespace() string {
	if r.Namespace == "" {
		return DefaultNamespace
	}
	return r.Namespace
}

// localPath checks that p names a file below the work dir: relative, with
// no ".." escaping it. Whether it exists is checked at deploy time, when the
// work dir is known.
func localPath(p string) error {
	switch {
	case p == "":
		return errors.New("required")
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q is absolute: give a path relative to the directory of Pulumi.yaml", p)
	case !filepath.IsLocal(filepath.FromSlash(p)):
		return fmt.Errorf("%q leaves the directory of Pulumi.yaml", p)
	}
	return nil
}

func validate(c *Config) error {
	var errs []error
	fail := func(path, format string, args ...any) { errs = append(errs, modules.Errorf(path, format, args...)) }
	index := map[string]int{}
	for i, r := range c.Releases {
		p := fmt.Sprintf("releases[%d]", i)
		switch {
		case r.Name == "":
			fail(p+".name", "required")
		case len(validation.IsDNS1123Label(r.Name)) > 0 || len(r.Name) > maxReleaseName:
			fail(p+".name", "%q is not a valid release name (lowercase letters, digits and '-', at most %d)", r.Name, maxReleaseName)
		default:
			if j, dup := index[r.Name]; dup {
				fail(p+".name", "duplicate release %q (also releases[%d])", r.Name, j)
			} else {
				index[r.Name] = i
			}
		}
		if r.Version != "" && !versions.IsExact(r.Version) {
			fail(p+".version", "%q is not an exact chart version (e.g. 1.2.3; no ranges, no latest)", r.Version)
		}
		switch r.kind() {
		case oci:
			if r.Repo != "" {
				fail(p+".repo", "an oci:// chart takes no repo: the reference names the registry")
			}
			if r.Version == "" {
				fail(p+".version", "required for an oci:// chart (an exact version, e.g. 1.2.3)")
			}
		case repository:
			if !strings.HasPrefix(r.Repo, "https://") && !strings.HasPrefix(r.Repo, "http://") {
				fail(p+".repo", "%q is not an http(s):// URL (for a registry, give chart as oci://…)", r.Repo)
			}
			if r.Chart == "" || strings.ContainsAny(r.Chart, "/:") {
				fail(p+".chart", "%q is not a chart name in repo (e.g. ingress-nginx)", r.Chart)
			}
			if r.Version == "" {
				fail(p+".version", "required for a repository chart (an exact version, e.g. 1.2.3)")
			}
		case local:
			if strings.Contains(r.Chart, "://") {
				fail(p+".chart", "%q: a chart is a name in repo, an oci:// reference or a path in the repository", r.Chart)
			} else if err := localPath(r.Chart); err != nil {
				fail(p+".chart", "%v", err)
			}
		}
		if r.Namespace != "" && len(validation.IsDNS1123Label(r.Namespace)) > 0 {
			fail(p+".namespace", "%q is not a valid namespace name", r.Namespace)
		}
		if r.CreateNamespace && systemNamespaces[r.namespace()] {
			// Every cluster has it: creating it would fail on apply, and
			// destroying the stack would try to delete it.
			fail(p+".create_namespace", "namespace %q always exists: set namespace, or create_namespace: false", r.namespace())
		}
		for j, f := range r.ValuesFiles {
			if err := localPath(f); err != nil {
				fail(fmt.Sprintf("%s.values_files[%d]", p, j), "%v", err)
			}
		}
	}
	for i, r := range c.Releases {
		for j, d := range r.DependsOn {
			p := fmt.Sprintf("releases[%d].depends_on[%d]", i, j)
			switch k, ok := index[d]; {
			case !ok:
				fail(p, "no release %q in releases", d)
			case k == i:
				fail(p, "release %q depends on itself", d)
			}
		}
	}
	if len(errs) == 0 {
		if err := cycle(c.Releases, index); err != nil {
			errs = append(errs, err)
		}
	}
	return joinFlat(errs)
}

// cycle reports a depends_on cycle at the edge that closes it.
func cycle(rs []Release, index map[string]int) error {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(rs))
	var stack []int
	var visit func(i int) error
	visit = func(i int) error {
		state[i] = visiting
		stack = append(stack, i)
		for j, d := range rs[i].DependsOn {
			k := index[d]
			switch state[k] {
			case visiting:
				var names []string
				for _, s := range stack[slices.Index(stack, k):] {
					names = append(names, rs[s].Name)
				}
				return modules.Errorf(fmt.Sprintf("releases[%d].depends_on[%d]", i, j), "dependency cycle: %s -> %s", strings.Join(names, " -> "), d)
			case unvisited:
				if err := visit(k); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		return nil
	}
	for i := range rs {
		if state[i] == unvisited {
			if err := visit(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// joinFlat returns nil or an error whose Unwrap lists each FieldError, so
// the loader reports every field at once.
func joinFlat(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

// order returns the releases' indexes with every release after those it
// depends on, ties kept in config order. validate has ruled out cycles.
func order(rs []Release) []int {
	index := map[string]int{}
	for i, r := range rs {
		index[r.Name] = i
	}
	done := make([]bool, len(rs))
	var out []int
	var visit func(i int)
	visit = func(i int) {
		if done[i] {
			return
		}
		done[i] = true
		for _, d := range rs[i].DependsOn {
			visit(index[d])
		}
		out = append(out, i)
	}
	for i := range rs {
		visit(i)
	}
	return out
}

// inWorkDir resolves p (relative, checked by validate) below workDir and
// makes sure it exists there, symlinks included: a link in the repository
// must not read a file outside it.
func inWorkDir(workDir, p string) (string, error) {
	root, err := filepath.EvalSymlinks(workDir)
	if err != nil {
		return "", err
	}
	full, err := filepath.EvalSymlinks(filepath.Join(workDir, filepath.FromSlash(p)))
	if err != nil {
		return "", fmt.Errorf("%s: not found in the directory of Pulumi.yaml", p)
	}
	if rel, err := filepath.Rel(root, full); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s: leaves the directory of Pulumi.yaml (a symlink to %s)", p, full)
	}
	return full, nil
}

// Values reads a release's values files in order and merges the inline
// values over them: Helm's precedence for -f files followed by --set.
func Values(workDir string, r *Release) (map[string]any, error) {
	v := map[string]any{}
	for _, f := range r.ValuesFiles {
		full, err := inWorkDir(workDir, f)
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(full)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		v = modules.MergeValues(v, m)
	}
	return modules.MergeValues(v, r.Values), nil
}

// ChartVersion reads the version of a local chart, a directory or a packed
// .tgz (whose Chart.yaml is in its one top directory).
func ChartVersion(chart string) (string, error) {
	var b []byte
	fi, err := os.Stat(chart)
	switch {
	case err != nil:
		return "", err
	case fi.IsDir():
		if b, err = os.ReadFile(filepath.Join(chart, "Chart.yaml")); err != nil {
			return "", err
		}
	default:
		if b, err = packedChartYAML(chart); err != nil {
			return "", err
		}
	}
	var meta struct {
		Version string `yaml:"version"`
	}
	if err := yaml.Unmarshal(b, &meta); err != nil || meta.Version == "" {
		return "", fmt.Errorf("%s: Chart.yaml has no version (%v)", chart, err)
	}
	return meta.Version, nil
}

func packedChartYAML(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a chart directory or .tgz: %w", file, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s: no Chart.yaml in the archive", file)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if dir, base := path.Split(path.Clean(h.Name)); base == "Chart.yaml" && dir != "" && !strings.Contains(strings.TrimSuffix(dir, "/"), "/") {
			// A chart's Chart.yaml is a few KiB; the bound keeps a hostile
			// archive from filling memory.
			return io.ReadAll(io.LimitReader(tr, 1<<20))
		}
	}
}

func sameVersion(a, b string) bool { return strings.TrimPrefix(a, "v") == strings.TrimPrefix(b, "v") }

func deploy(ctx *pulumi.Context, c *Config, env modules.Env) (modules.Outputs, error) {
	provider, err := kubernetes.Provider(Name, env)
	if err != nil {
		return nil, err
	}
	opts := func(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
		return env.Options(append([]pulumi.ResourceOption{pulumi.Provider(provider)}, extra...)...)
	}

	// One Namespace per name asked for, shared by the releases in it.
	namespaces := map[string]*corev1.Namespace{}
	for _, r := range c.Releases {
		ns := r.namespace()
		if !r.CreateNamespace || namespaces[ns] != nil {
			continue
		}
		n, err := corev1.NewNamespace(ctx, "namespace-"+ns, &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(ns)},
		}, opts()...)
		if err != nil {
			return nil, err
		}
		namespaces[ns] = n
	}

	charts := map[string]*helmv4.Chart{}
	releases := pulumi.Map{}
	for _, i := range order(c.Releases) {
		r := &c.Releases[i]
		p := fmt.Sprintf("%s: releases[%d] (%s)", Name, i, r.Name)
		values, err := Values(env.WorkDir, r)
		if err != nil {
			return nil, fmt.Errorf("%s: values_files: %w", p, err)
		}
		args := &helmv4.ChartArgs{
			Name:      pulumi.String(r.Name),
			Namespace: pulumi.String(r.namespace()),
			Values:    pulumi.ToMap(values),
		}
		version := r.Version
		switch r.kind() {
		case local:
			full, err := inWorkDir(env.WorkDir, r.Chart)
			if err != nil {
				return nil, fmt.Errorf("%s: chart: %w", p, err)
			}
			got, err := ChartVersion(full)
			if err != nil {
				return nil, fmt.Errorf("%s: chart: %w", p, err)
			}
			if version != "" && !sameVersion(version, got) {
				return nil, fmt.Errorf("%s: version %s, but the chart at %s is %s", p, version, r.Chart, got)
			}
			version = got
			// As configured: the provider loads the chart with the work
			// dir as its cwd, and an absolute path would differ between
			// checkouts of the same stack.
			args.Chart = pulumi.String(r.Chart)
		case repository:
			args.Chart = pulumi.String(r.Chart)
			args.Version = pulumi.String(r.Version)
			args.RepositoryOpts = &helmv4.RepositoryOptsArgs{Repo: pulumi.String(r.Repo)}
		case oci:
			args.Chart = pulumi.String(r.Chart)
			args.Version = pulumi.String(r.Version)
		}

		var extra []pulumi.ResourceOption
		if n := namespaces[r.namespace()]; n != nil {
			extra = append(extra, pulumi.DependsOn([]pulumi.Resource{n}))
		}
		for _, d := range r.DependsOn {
			extra = append(extra, kubernetes.AfterChart(charts[d]))
		}
		chart, err := helmv4.NewChart(ctx, r.Name, args, opts(extra...)...)
		if err != nil {
			return nil, err
		}
		charts[r.Name] = chart
		releases[r.Name] = pulumi.StringMap{
			"name":      pulumi.String(r.Name),
			"namespace": pulumi.String(r.namespace()),
			"chart":     pulumi.String(r.Chart),
			"version":   pulumi.String(version),
		}
	}
	return modules.Outputs{OutputReleases: releases}, nil
}
