// Package web is an example of a konductor module kept outside konductor's
// repository: acme_web serves one static page with nginx, deployed through
// the kubernetes module's provider. It is built into a custom konductor
// binary with `konductor build --with example.com/acme/konductor-web`.
package web

import (
	"errors"
	"fmt"
	"html"
	"regexp"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/kubernetes"
)

// Name is the module's config key: <project>:acme_web in Pulumi.<stack>.yaml.
const Name = "acme_web"

// Image is the pinned nginx image. Bump it here, in a reviewed commit; a
// stack may override it with `image`, but never with a floating tag.
const Image = "docker.io/library/nginx:1.27.3"

// Output keys, for the modules that depend on this one.
const (
	OutputNamespace = "namespace"
	OutputService   = "service"
	OutputImage     = "image"
)

// Config is the module's section of stack config. The yaml tags are the
// keys, the doc tags what `konductor modules` prints.
type Config struct {
	Namespace string    `yaml:"namespace" doc:"namespace created for the site"`
	Image     string    `yaml:"image" doc:"nginx image with an exact tag or digest; default pinned in the module"`
	Replicas  int       `yaml:"replicas" doc:"pod replicas (1 to 10)"`
	Message   string    `yaml:"message" doc:"the page's text"`
	Resources Resources `yaml:"resources" doc:"the nginx container's requests and memory limit"`
}

// Resources are the container's requests and memory limit, which the
// baseline policy pack's k8s-resource-limits requires.
type Resources struct {
	CPU         string `yaml:"cpu" doc:"CPU request"`
	Memory      string `yaml:"memory" doc:"memory request"`
	MemoryLimit string `yaml:"memory_limit" doc:"memory limit"`
}

// Module is the acme_web module.
var Module = modules.Define(modules.Spec[Config]{
	Name:        Name,
	Description: "a static page served by nginx (example of a module built outside konductor)",
	DependsOn:   []string{kubernetes.Name},
	Defaults:    Defaults,
	Validate:    validate,
	Deploy:      deploy,
})

// Defaults returns the config with every default set: a stack that only
// says `enabled: true` gets a working site.
func Defaults() Config {
	return Config{
		Namespace: "web",
		Image:     Image,
		Replicas:  1,
		Message:   "Hello from acme_web",
		Resources: Resources{CPU: "10m", Memory: "32Mi", MemoryLimit: "64Mi"},
	}
}

// An image with an exact tag or a digest: "latest" or no tag would deploy
// whatever the registry holds that day.
var pinnedImage = regexp.MustCompile(`^[a-z0-9./_-]+(:[0-9][0-9A-Za-z._-]*)?(@sha256:[0-9a-f]{64})?$`)

// validate checks what the types cannot, one *modules.FieldError per field,
// so the CLI names the file, the key and the reason and runs nothing.
func validate(c *Config) error {
	var errs []error
	if len(validation.IsDNS1123Label(c.Namespace)) > 0 {
		errs = append(errs, modules.Errorf("namespace", "%q is not a valid namespace name", c.Namespace))
	}
	if m := pinnedImage.FindStringSubmatch(c.Image); m == nil || m[1] == "" && m[2] == "" {
		errs = append(errs, modules.Errorf("image", "%q is not pinned: give an exact version tag or a digest (no latest)", c.Image))
	}
	if c.Replicas < 1 || c.Replicas > 10 {
		errs = append(errs, modules.Errorf("replicas", "%d is not between 1 and 10", c.Replicas))
	}
	if c.Message == "" {
		errs = append(errs, modules.Errorf("message", "required"))
	}
	for _, q := range []struct{ path, v string }{
		{"resources.cpu", c.Resources.CPU}, {"resources.memory", c.Resources.Memory}, {"resources.memory_limit", c.Resources.MemoryLimit},
	} {
		if p, err := resource.ParseQuantity(q.v); err != nil || p.Sign() <= 0 {
			errs = append(errs, modules.Errorf(q.path, "%q is not a positive quantity", q.v))
		}
	}
	return errors.Join(errs...)
}

func deploy(ctx *pulumi.Context, c *Config, env modules.Env) (modules.Outputs, error) {
	// Every resource deploys through the kubernetes module's provider (so
	// render mode and the cluster it targets apply here too) and is a child
	// of the module's component (env.Options), which puts the global
	// metadata labels on it.
	provider, err := kubernetes.Provider(Name, env)
	if err != nil {
		return nil, err
	}
	opts := func(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
		return env.Options(append([]pulumi.ResourceOption{pulumi.Provider(provider)}, extra...)...)
	}
	ns, err := corev1.NewNamespace(ctx, c.Namespace, &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(c.Namespace)},
	}, opts()...)
	if err != nil {
		return nil, err
	}
	// The namespace's name output, not the config string, so every object
	// waits for its namespace.
	namespace := ns.Metadata.Name().Elem()
	appLabels := pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("acme-web")}
	page, err := corev1.NewConfigMap(ctx, "acme-web-page", &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("acme-web-page"), Namespace: namespace},
		Data:     pulumi.StringMap{"index.html": pulumi.String(fmt.Sprintf("<!doctype html><title>acme</title><p>%s</p>\n", html.EscapeString(c.Message)))},
	}, opts()...)
	if err != nil {
		return nil, err
	}
	_, err = appsv1.NewDeployment(ctx, "acme-web", &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("acme-web"), Namespace: namespace},
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(c.Replicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: appLabels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: appLabels},
				Spec: &corev1.PodSpecArgs{
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:  pulumi.String("nginx"),
						Image: pulumi.String(c.Image),
						Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{ContainerPort: pulumi.Int(80)}},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String(c.Resources.CPU), "memory": pulumi.String(c.Resources.Memory)},
							Limits:   pulumi.StringMap{"memory": pulumi.String(c.Resources.MemoryLimit)},
						},
						VolumeMounts: corev1.VolumeMountArray{&corev1.VolumeMountArgs{Name: pulumi.String("page"), MountPath: pulumi.String("/usr/share/nginx/html")}},
					}},
					Volumes: corev1.VolumeArray{&corev1.VolumeArgs{
						Name:      pulumi.String("page"),
						ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: page.Metadata.Name()},
					}},
				},
			},
		},
	}, opts()...)
	if err != nil {
		return nil, err
	}
	svc, err := corev1.NewService(ctx, "acme-web", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("acme-web"), Namespace: namespace},
		Spec: &corev1.ServiceSpecArgs{
			Selector: appLabels,
			Ports:    corev1.ServicePortArray{&corev1.ServicePortArgs{Port: pulumi.Int(80)}},
		},
	}, opts()...)
	if err != nil {
		return nil, err
	}
	return modules.Outputs{
		OutputNamespace: namespace,
		OutputService:   svc.Metadata.Name().Elem(),
		OutputImage:     pulumi.String(c.Image),
	}, nil
}
