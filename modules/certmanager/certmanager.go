// Package certmanager is the cert_manager module: cert-manager installed from
// its upstream Helm chart (pinned version, CRDs included) through the
// kubernetes module's provider, and a private CA for the cluster: a
// self-signed root ClusterIssuer, a CA Certificate it issues, and a CA
// ClusterIssuer that signs with it.
package certmanager

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/kubernetes"
	"github.com/containercraft/konductor-action/modules/versions"
)

// Name is the module's config key.
const Name = "cert_manager"

// Defaults.
const (
	DefaultRepository = "https://charts.jetstack.io"
	DefaultNamespace  = "cert-manager"
	DefaultIssuer     = "konductor-ca"
	// ChartName is the chart's name in the repository and the Helm release
	// name.
	ChartName = "cert-manager"
)

// Output keys.
const (
	OutputIssuer    = "issuer"
	OutputVersion   = "version"
	OutputNamespace = "namespace"
)

// Config is the module's section of stack config.
type Config struct {
	Version    string `yaml:"version" doc:"chart version (= cert-manager version); default pinned in modules/versions/versions.yaml"`
	Repository string `yaml:"repository" doc:"Helm repository URL the chart is fetched from"`
	ChartPath  string `yaml:"chart_path" doc:"local chart directory or .tgz (relative to the work dir) used instead of the repository"`
	Namespace  string `yaml:"namespace" doc:"namespace created for cert-manager"`
	// KeepCRDs keeps cert-manager's CRDs (and so every Certificate) when the
	// module is destroyed: the chart's crds.keep.
	KeepCRDs  bool      `yaml:"keep_crds" doc:"keep the CRDs (and every Certificate) on destroy"`
	Resources Resources `yaml:"resources" doc:"requests and limits of the three deployments"`
	Issuers   Issuers   `yaml:"issuers" doc:"the private CA ClusterIssuers"`
	// Values are extra Helm values, merged over the ones the module sets.
	Values map[string]any `yaml:"values" doc:"extra Helm values merged over the module's"`
}

// Resources are the container resources of each cert-manager deployment.
type Resources struct {
	Controller ContainerResources `yaml:"controller" doc:"the cert-manager controller"`
	Webhook    ContainerResources `yaml:"webhook" doc:"the admission webhook"`
	CAInjector ContainerResources `yaml:"cainjector" doc:"the CA injector"`
}

// ContainerResources is one container's requests and limits.
type ContainerResources struct {
	Requests Quantities `yaml:"requests" doc:"resource requests"`
	Limits   Quantities `yaml:"limits" doc:"resource limits"`
}

// Quantities are Kubernetes quantities; an empty one is not set.
type Quantities struct {
	CPU    string `yaml:"cpu" doc:"CPU quantity, e.g. 100m"`
	Memory string `yaml:"memory" doc:"memory quantity, e.g. 128Mi"`
}

// Issuers configures the private CA.
type Issuers struct {
	// Enabled creates the issuers. They are admitted by cert-manager's
	// webhook, which must be serving: on a cluster where it cannot (kwok's
	// fake pods), disable them.
	Enabled    bool   `yaml:"enabled" doc:"create the self-signed root, the CA certificate and the CA ClusterIssuer"`
	Name       string `yaml:"name" doc:"CA ClusterIssuer name; the CA's Secret and Certificate share it"`
	CommonName string `yaml:"common_name" doc:"the CA certificate's common name"`
	Duration   string `yaml:"duration" doc:"the CA certificate's lifetime (Go duration, h/m/s)"`
}

// Module is the cert_manager module.
var Module = modules.Define(modules.Spec[Config]{
	Name:        Name,
	Description: "cert-manager from its pinned Helm chart, with a private CA ClusterIssuer",
	DependsOn:   []string{kubernetes.Name},
	Defaults:    Defaults,
	Validate:    validate,
	Deploy:      deploy,
})

// Defaults returns the config with every default set.
func Defaults() Config {
	res := func(reqCPU, reqMem, limCPU, limMem string) ContainerResources {
		return ContainerResources{Requests: Quantities{reqCPU, reqMem}, Limits: Quantities{limCPU, limMem}}
	}
	return Config{
		Version:    versions.Get(Name, "version"),
		Repository: DefaultRepository,
		Namespace:  DefaultNamespace,
		KeepCRDs:   true,
		Resources: Resources{
			Controller: res("50m", "128Mi", "500m", "512Mi"),
			Webhook:    res("20m", "64Mi", "200m", "128Mi"),
			CAInjector: res("20m", "128Mi", "200m", "512Mi"),
		},
		Issuers: Issuers{
			Enabled:    true,
			Name:       DefaultIssuer,
			CommonName: "konductor CA",
			Duration:   "87600h", // 10 years
		},
	}
}

// A Go duration as cert-manager accepts it.
var certDuration = regexp.MustCompile(`^(\d+(\.\d+)?(h|m|s|ms))+$`)

func validate(c *Config) error {
	var errs []error
	if !versions.IsExact(c.Version) {
		errs = append(errs, modules.Errorf("version", "%q is not an exact chart version (e.g. v1.21.2; no ranges, no latest)", c.Version))
	}
	if c.ChartPath == "" && !strings.HasPrefix(c.Repository, "https://") && !strings.HasPrefix(c.Repository, "http://") && !strings.HasPrefix(c.Repository, "oci://") {
		errs = append(errs, modules.Errorf("repository", "%q is not an http(s):// or oci:// URL", c.Repository))
	}
	if len(validation.IsDNS1123Label(c.Namespace)) > 0 {
		errs = append(errs, modules.Errorf("namespace", "%q is not a valid namespace name", c.Namespace))
	}
	for _, r := range []struct {
		path string
		res  ContainerResources
	}{{"resources.controller", c.Resources.Controller}, {"resources.webhook", c.Resources.Webhook}, {"resources.cainjector", c.Resources.CAInjector}} {
		req := quantities(&errs, r.path+".requests", r.res.Requests)
		lim := quantities(&errs, r.path+".limits", r.res.Limits)
		for i, k := range []string{"cpu", "memory"} {
			if req[i] != nil && lim[i] != nil && req[i].Cmp(*lim[i]) > 0 {
				errs = append(errs, modules.Errorf(r.path+".requests."+k, "%s is above the limit %s", req[i], lim[i]))
			}
		}
	}
	if c.Issuers.Enabled {
		if len(validation.IsDNS1123Subdomain(c.Issuers.Name+"-selfsigned")) > 0 {
			errs = append(errs, modules.Errorf("issuers.name", "%q is not a valid object name (lowercase letters, digits, '-', '.')", c.Issuers.Name))
		}
		if c.Issuers.CommonName == "" || len(c.Issuers.CommonName) > 64 {
			errs = append(errs, modules.Errorf("issuers.common_name", "must be 1 to 64 characters"))
		}
		if !certDuration.MatchString(c.Issuers.Duration) {
			errs = append(errs, modules.Errorf("issuers.duration", "%q is not a duration in h/m/s (e.g. 87600h)", c.Issuers.Duration))
		}
	}
	return joinFlat(errs)
}

// joinFlat returns nil or an error whose Unwrap lists each FieldError.
func joinFlat(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return flatErrors(errs)
}

type flatErrors []error

func (f flatErrors) Error() string {
	s := make([]string, len(f))
	for i, e := range f {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func (f flatErrors) Unwrap() []error { return f }

func quantities(errs *[]error, path string, q Quantities) [2]*resource.Quantity {
	var out [2]*resource.Quantity
	for i, v := range []string{q.CPU, q.Memory} {
		if v == "" {
			continue
		}
		p, err := resource.ParseQuantity(v)
		if err != nil || p.Sign() <= 0 {
			*errs = append(*errs, modules.Errorf(path+"."+[]string{"cpu", "memory"}[i], "%q is not a positive Kubernetes quantity (e.g. 100m, 128Mi)", v))
			continue
		}
		out[i] = &p
	}
	return out
}

func (r ContainerResources) values() map[string]any {
	m := map[string]any{}
	for name, q := range map[string]Quantities{"requests": r.Requests, "limits": r.Limits} {
		v := map[string]any{}
		if q.CPU != "" {
			v["cpu"] = q.CPU
		}
		if q.Memory != "" {
			v["memory"] = q.Memory
		}
		if len(v) > 0 {
			m[name] = v
		}
	}
	return m
}

// Values returns the Helm values the module sets, with c.Values merged over.
func Values(c *Config) map[string]any {
	v := map[string]any{
		"crds": map[string]any{"enabled": true, "keep": c.KeepCRDs},
		// cert-manager's own namespace holds the ClusterIssuers' secrets.
		"clusterResourceNamespace": c.Namespace,
		"resources":                c.Resources.Controller.values(),
		"webhook":                  map[string]any{"resources": c.Resources.Webhook.values()},
		"cainjector":               map[string]any{"resources": c.Resources.CAInjector.values()},
	}
	return modules.MergeValues(v, c.Values)
}

func deploy(ctx *pulumi.Context, c *Config, env modules.Env) (modules.Outputs, error) {
	provider, err := kubernetes.Provider(Name, env)
	if err != nil {
		return nil, err
	}
	opts := func(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
		return env.Options(append([]pulumi.ResourceOption{pulumi.Provider(provider)}, extra...)...)
	}

	ns, err := corev1.NewNamespace(ctx, "cert-manager-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(c.Namespace)},
	}, opts()...)
	if err != nil {
		return nil, err
	}

	args := &helmv4.ChartArgs{
		Name:      pulumi.String(ChartName),
		Namespace: ns.Metadata.Name(),
		Values:    pulumi.ToMap(Values(c)),
	}
	if c.ChartPath != "" {
		path := c.ChartPath
		if !filepath.IsAbs(path) {
			path = filepath.Join(env.WorkDir, path)
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("cert_manager: chart_path: %w", err)
		}
		// The chart's input is the path as configured: the provider, which
		// loads the chart, runs with the work dir as its cwd, and an absolute
		// path would differ between checkouts of the same stack.
		args.Chart = pulumi.String(c.ChartPath)
	} else {
		args.Chart = pulumi.String(ChartName)
		args.Version = pulumi.String(c.Version)
		args.RepositoryOpts = &helmv4.RepositoryOptsArgs{Repo: pulumi.String(c.Repository)}
	}
	chart, err := helmv4.NewChart(ctx, "cert-manager", args, opts()...)
	if err != nil {
		return nil, err
	}

	out := modules.Outputs{
		OutputVersion:   pulumi.String(c.Version),
		OutputNamespace: ns.Metadata.Name().Elem(),
		OutputIssuer:    pulumi.String(""),
	}
	if !c.Issuers.Enabled {
		return out, nil
	}

	// The issuers are admitted by the chart's webhook: create them after
	// every resource of the chart (its Deployments are awaited Ready).
	afterChart := kubernetes.AfterChart(chart)

	issuerRef := func(name string) map[string]any {
		return map[string]any{"name": name, "kind": "ClusterIssuer", "group": "cert-manager.io"}
	}
	selfSignedName := c.Issuers.Name + "-selfsigned"
	selfSigned, err := apiextensions.NewCustomResource(ctx, "cert-manager-selfsigned-issuer", &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String("cert-manager.io/v1"),
		Kind:        pulumi.String("ClusterIssuer"),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(selfSignedName)},
		OtherFields: map[string]any{"spec": map[string]any{"selfSigned": map[string]any{}}},
	}, opts(afterChart)...)
	if err != nil {
		return nil, err
	}
	caCert, err := apiextensions.NewCustomResource(ctx, "cert-manager-ca-certificate", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("cert-manager.io/v1"),
		Kind:       pulumi.String("Certificate"),
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(c.Issuers.Name), Namespace: ns.Metadata.Name()},
		OtherFields: map[string]any{"spec": map[string]any{
			"isCA":       true,
			"commonName": c.Issuers.CommonName,
			"secretName": c.Issuers.Name,
			"duration":   c.Issuers.Duration,
			"privateKey": map[string]any{"algorithm": "ECDSA", "size": 256},
			"issuerRef":  issuerRef(selfSignedName),
		}},
	}, opts(afterChart, pulumi.DependsOn([]pulumi.Resource{selfSigned}))...)
	if err != nil {
		return nil, err
	}
	ca, err := apiextensions.NewCustomResource(ctx, "cert-manager-ca-issuer", &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String("cert-manager.io/v1"),
		Kind:        pulumi.String("ClusterIssuer"),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(c.Issuers.Name)},
		OtherFields: map[string]any{"spec": map[string]any{"ca": map[string]any{"secretName": c.Issuers.Name}}},
	}, opts(afterChart, pulumi.DependsOn([]pulumi.Resource{caCert}))...)
	if err != nil {
		return nil, err
	}
	out[OutputIssuer] = ca.Metadata.Name().Elem()
	return out, nil
}
