package rules

import (
	"fmt"
	"strings"
	"testing"
)

// workloadTypes are the workload type tokens and the JSON that wraps a pod
// spec for each, as the pulumi-kubernetes SDK sends them (apiVersion and kind
// are always set by the SDK constructors).
var workloadTypes = []struct {
	typ, wrap string
}{
	{"kubernetes:core/v1:Pod", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":%s}`},
	{"kubernetes:apps/v1:Deployment", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
		"spec":{"replicas":2,"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":%s}}}`},
	{"kubernetes:apps/v1:StatefulSet", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"s"},
		"spec":{"serviceName":"s","selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":%s}}}`},
	{"kubernetes:apps/v1:DaemonSet", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"ds"},
		"spec":{"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":%s}}}`},
	{"kubernetes:apps/v1:ReplicaSet", `{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"rs"},
		"spec":{"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":%s}}}`},
	{"kubernetes:batch/v1:Job", `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},
		"spec":{"backoffLimit":1,"template":{"spec":%s}}}`},
	{"kubernetes:batch/v1:CronJob", `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"cj"},
		"spec":{"schedule":"*/5 * * * *","jobTemplate":{"spec":{"template":{"spec":%s}}}}}`},
}

// specPath is the dotted pod spec path for a workload type.
var specPath = map[string]string{
	"kubernetes:core/v1:Pod":         "spec",
	"kubernetes:apps/v1:Deployment":  "spec.template.spec",
	"kubernetes:apps/v1:StatefulSet": "spec.template.spec",
	"kubernetes:apps/v1:DaemonSet":   "spec.template.spec",
	"kubernetes:apps/v1:ReplicaSet":  "spec.template.spec",
	"kubernetes:batch/v1:Job":        "spec.template.spec",
	"kubernetes:batch/v1:CronJob":    "spec.jobTemplate.spec.template.spec",
}

// podCases expands pod-spec cases over every workload type. In want, the
// token SPEC stands for the workload's pod spec path.
func podCases(t *testing.T, cases []struct {
	name, spec string
	cfg        map[string]any
	want       []string
}) []ruleCase {
	var out []ruleCase
	for _, w := range workloadTypes {
		for _, c := range cases {
			want := make([]string, len(c.want))
			for i, s := range c.want {
				want[i] = strings.ReplaceAll(s, "SPEC", specPath[w.typ])
			}
			out = append(out, ruleCase{
				name: w.typ + "/" + c.name,
				res:  Resource{Type: w.typ, Properties: obj(t, fmt.Sprintf(w.wrap, c.spec))},
				cfg:  c.cfg,
				want: want,
			})
		}
	}
	return out
}

const goodContainer = `{"name":"app","image":"nginx:1.27.3",
	"resources":{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"100m","memory":"128Mi"}},
	"securityContext":{"privileged":false,"runAsNonRoot":true}}`

type podCase = struct {
	name, spec string
	cfg        map[string]any
	want       []string
}

func TestK8sNoPrivileged(t *testing.T) {
	cases := podCases(t, []podCase{
		{name: "unprivileged", spec: `{"containers":[` + goodContainer + `]}`},
		{name: "no securityContext", spec: `{"containers":[{"name":"app","image":"nginx:1.27.3"}]}`},
		{name: "privileged", spec: `{"containers":[{"name":"app","image":"nginx:1.27.3","securityContext":{"privileged":true}}]}`,
			want: []string{`container "app" (SPEC.containers[0]) runs privileged. Remediation: set SPEC.containers[0].securityContext.privileged to false`}},
		{name: "privileged init container", spec: `{"initContainers":[{"name":"init","image":"busybox:1.36","securityContext":{"privileged":true}}],
			"containers":[` + goodContainer + `]}`,
			want: []string{`container "init" (SPEC.initContainers[0]) runs privileged`}},
		{name: "null privileged", spec: `{"containers":[{"name":"app","image":"nginx:1.27.3","securityContext":{"privileged":null}}]}`},
	})
	// A preview-time unknown value is not a violation.
	unknown := Resource{Type: "kubernetes:core/v1:Pod", Properties: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"spec": map[string]any{"containers": []any{map[string]any{
			"name": "app", "securityContext": map[string]any{"privileged": Unknown{}}}}},
	}}
	cases = append(cases,
		ruleCase{name: "unknown value", res: unknown},
		ruleCase{name: "unknown pod spec", res: Resource{Type: "kubernetes:apps/v1:Deployment",
			Properties: map[string]any{"spec": map[string]any{"template": Unknown{}}}}},
		ruleCase{name: "not a workload", res: Resource{Type: "kubernetes:core/v1:ConfigMap",
			Properties: obj(t, `{"apiVersion":"v1","kind":"ConfigMap","data":{"privileged":"true"}}`)}},
	)
	runCases(t, "k8s-no-privileged", cases)
}

func TestK8sNoHostNamespaces(t *testing.T) {
	runCases(t, "k8s-no-host-namespaces", podCases(t, []podCase{
		{name: "isolated", spec: `{"containers":[` + goodContainer + `],
			"volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"data"}},{"name":"tmp","emptyDir":{}}]}`},
		{name: "host false", spec: `{"hostNetwork":false,"hostPID":false,"containers":[` + goodContainer + `]}`},
		{name: "hostNetwork", spec: `{"hostNetwork":true,"containers":[` + goodContainer + `]}`,
			want: []string{"SPEC.hostNetwork is true. Remediation: set SPEC.hostNetwork to false"}},
		{name: "hostPID and hostIPC", spec: `{"hostPID":true,"hostIPC":true,"containers":[` + goodContainer + `]}`,
			want: []string{"SPEC.hostPID is true", "SPEC.hostIPC is true"}},
		{name: "hostPath", spec: `{"containers":[` + goodContainer + `],
			"volumes":[{"name":"tmp","emptyDir":{}},{"name":"docker","hostPath":{"path":"/var/run/docker.sock","type":"Socket"}}]}`,
			want: []string{`volume "docker" (SPEC.volumes[1]) mounts hostPath of "/var/run/docker.sock". Remediation: replace SPEC.volumes[1].hostPath`}},
	}))
}

func TestK8sImagePinned(t *testing.T) {
	digest := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	img := func(image string) string {
		return fmt.Sprintf(`{"containers":[{"name":"app","image":%q}]}`, image)
	}
	cases := podCases(t, []podCase{
		{name: "tag", spec: img("nginx:1.27.3")},
		{name: "registry with port and tag", spec: img("registry.local:5000/team/app:v2")},
		{name: "digest", spec: img("quay.io/jetstack/cert-manager-controller@" + digest)},
		{name: "latest", spec: img("nginx:latest"),
			want: []string{`container "app" (SPEC.containers[0]) image "nginx:latest" uses the latest tag. Remediation: set SPEC.containers[0].image to a fixed version tag`}},
		{name: "no tag", spec: img("nginx"), want: []string{`image "nginx" has no tag`}},
		{name: "registry port, no tag", spec: img("registry.local:5000/team/app"),
			want: []string{`image "registry.local:5000/team/app" has no tag`}},
		{name: "init container latest", spec: `{"initContainers":[{"name":"init","image":"busybox:latest"}],"containers":[{"name":"app","image":"nginx:1.27.3"}]}`,
			want: []string{`container "init" (SPEC.initContainers[0]) image "busybox:latest"`}},
		{name: "require digest, tag only", spec: img("nginx:1.27.3"), cfg: map[string]any{"requireDigest": true},
			want: []string{`image "nginx:1.27.3" is not pinned by digest. Remediation: set SPEC.containers[0].image to a digest`}},
		{name: "require digest, digest", spec: img("nginx:1.27.3@" + digest), cfg: map[string]any{"requireDigest": true}},
	})
	cases = append(cases, ruleCase{name: "unknown image", res: Resource{Type: "kubernetes:core/v1:Pod",
		Properties: map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": Unknown{}}}}}}})
	runCases(t, "k8s-image-pinned", cases)
}

func TestK8sResourceLimits(t *testing.T) {
	ctr := func(name, resources string) string {
		return fmt.Sprintf(`{"name":%q,"image":"nginx:1.27.3","resources":%s}`, name, resources)
	}
	// Requests for both and a memory limit: current practice, no CPU limit.
	const practice = `{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"memory":"128Mi"}}`
	cpuLimit := map[string]any{"requireCpuLimit": true}
	cases := podCases(t, []podCase{
		{name: "requests and memory limit", spec: `{"containers":[` + ctr("app", practice) + `]}`},
		{name: "requests and both limits", spec: `{"containers":[` + goodContainer + `]}`},
		{name: "no resources", spec: `{"containers":[{"name":"app","image":"nginx:1.27.3"}]}`,
			want: []string{`container "app" (SPEC.containers[0]) sets no cpu request, memory request or memory limit. ` +
				`Remediation: set SPEC.containers[0].resources.requests.cpu (e.g. "100m"), ` +
				`SPEC.containers[0].resources.requests.memory (e.g. "128Mi") and ` +
				`SPEC.containers[0].resources.limits.memory (e.g. "256Mi"), sized for the workload.`}},
		{name: "empty resources", spec: `{"containers":[` + ctr("app", `{}`) + `]}`,
			want: []string{"sets no cpu request, memory request or memory limit."}},
		{name: "missing cpu request", spec: `{"containers":[` + ctr("app", `{"requests":{"memory":"128Mi"},"limits":{"memory":"256Mi"}}`) + `]}`,
			want: []string{`container "app" (SPEC.containers[0]) sets no cpu request. Remediation: set SPEC.containers[0].resources.requests.cpu (e.g. "100m"), sized`}},
		{name: "missing memory limit", spec: `{"containers":[` + ctr("app", `{"requests":{"cpu":"100m","memory":"128Mi"}}`) + `]}`,
			want: []string{`container "app" (SPEC.containers[0]) sets no memory limit. Remediation: set SPEC.containers[0].resources.limits.memory (e.g. "128Mi", its request), sized`}},
		{name: "empty memory limit", spec: `{"containers":[` + ctr("app", `{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"memory":""}}`) + `]}`,
			want: []string{"sets no memory limit."}},
		{name: "null cpu request", spec: `{"containers":[` + ctr("app", `{"requests":{"cpu":null,"memory":"128Mi"},"limits":{"memory":"128Mi"}}`) + `]}`,
			want: []string{"sets no cpu request."}},
		// Kubernetes defaults a missing request to the limit.
		{name: "limits only", spec: `{"containers":[` + ctr("app", `{"limits":{"cpu":"500m","memory":"256Mi"}}`) + `]}`},
		{name: "memory limit only", spec: `{"containers":[` + ctr("app", `{"limits":{"memory":"256Mi"}}`) + `]}`,
			want: []string{"sets no cpu request."}},
		{name: "numeric cpu", spec: `{"containers":[` + ctr("app", `{"requests":{"cpu":1,"memory":"64Mi"},"limits":{"memory":"64Mi"}}`) + `]}`},
		{name: "second container", spec: `{"containers":[` + ctr("app", practice) + `,` + ctr("sidecar", `{"limits":{"cpu":"100m"}}`) + `]}`,
			want: []string{`container "sidecar" (SPEC.containers[1]) sets no memory request or memory limit`}},
		{name: "init container", spec: `{"initContainers":[{"name":"init","image":"busybox:1.36"}],"containers":[` + ctr("app", practice) + `]}`,
			want: []string{`container "init" (SPEC.initContainers[0]) sets no cpu request, memory request or memory limit`}},
		// The API rejects resources on ephemeral containers.
		{name: "ephemeral container", spec: `{"containers":[` + ctr("app", practice) + `],
			"ephemeralContainers":[{"name":"debug","image":"busybox:1.36"}]}`},
		{name: "pod-level resources", spec: `{"resources":{"requests":{"cpu":"200m"},"limits":{"memory":"512Mi"}},
			"containers":[{"name":"app","image":"nginx:1.27.3"},` + ctr("sidecar", `{"requests":{"memory":"32Mi"}}`) + `]}`},
		{name: "no cpu limit, required", spec: `{"containers":[` + ctr("app", practice) + `]}`, cfg: cpuLimit,
			want: []string{`container "app" (SPEC.containers[0]) sets no cpu limit. Remediation: set SPEC.containers[0].resources.limits.cpu (e.g. "500m"), sized`}},
		{name: "cpu limit, required", spec: `{"containers":[` + goodContainer + `]}`, cfg: cpuLimit},
		{name: "nothing, cpu limit required", spec: `{"containers":[{"name":"app","image":"nginx:1.27.3"}]}`, cfg: cpuLimit,
			want: []string{"sets no cpu request, memory request, memory limit or cpu limit."}},
	})
	// The message names the workload first: its kind and metadata.name.
	for _, c := range cases {
		kind := c.res.Type[strings.LastIndex(c.res.Type, ":")+1:]
		name, _ := get(c.res.Properties, "metadata", "name")
		for i, w := range c.want {
			if strings.HasPrefix(w, "container ") {
				c.want[i] = fmt.Sprintf("%s %q: %s", kind, name, w)
			}
		}
	}
	pod := func(spec map[string]any) Resource {
		return Resource{Type: "kubernetes:core/v1:Pod", Name: "web", Properties: map[string]any{"spec": spec}}
	}
	cases = append(cases,
		ruleCase{name: "unknown resources", res: pod(map[string]any{"containers": []any{
			map[string]any{"name": "app", "resources": Unknown{}}}})},
		ruleCase{name: "unknown quantities", res: pod(map[string]any{"containers": []any{
			map[string]any{"name": "app", "resources": map[string]any{
				"requests": map[string]any{"cpu": Unknown{}, "memory": "64Mi"}, "limits": Unknown{}}}}})},
		ruleCase{name: "unknown pod-level resources", res: pod(map[string]any{"resources": Unknown{},
			"containers": []any{map[string]any{"name": "app"}}})},
		// Autonamed before the provider's Check: the Pulumi name stands in.
		ruleCase{name: "Pulumi name", res: pod(map[string]any{"containers": []any{map[string]any{"name": "app"}}}),
			want: []string{`Pod "web": container "app" (spec.containers[0]) sets no cpu request`}},
		ruleCase{name: "not a workload", res: Resource{Type: "kubernetes:core/v1:ConfigMap",
			Properties: obj(t, `{"apiVersion":"v1","kind":"ConfigMap","data":{"resources":"none"}}`)}},
	)
	runCases(t, "k8s-resource-limits", cases)
}

func TestK8sNamespaceMetadata(t *testing.T) {
	ns := func(labels map[string]any) Resource {
		props := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "cert-manager"}}
		if labels != nil {
			props["metadata"].(map[string]any)["labels"] = labels
		}
		return Resource{Type: "kubernetes:core/v1:Namespace", Properties: props}
	}
	wrongOwner := k8sLabels()
	wrongOwner["app.kubernetes.io/managed-by"] = "Helm"
	partial := map[string]any{"app.kubernetes.io/managed-by": "konductor"}
	runCases(t, "k8s-namespace-metadata", []ruleCase{
		{name: "labelled", res: ns(k8sLabels())},
		{name: "no labels", res: ns(nil),
			want: []string{`missing label(s) "app.kubernetes.io/managed-by", "konductor.io/stack", "konductor.io/module". Remediation: set metadata.labels {"app.kubernetes.io/managed-by": "konductor", "konductor.io/stack": "<stack>", "konductor.io/module": "<module>"}`}},
		{name: "no metadata at all", res: Resource{Type: "kubernetes:core/v1:Namespace",
			Properties: map[string]any{"apiVersion": "v1", "kind": "Namespace"}}, want: []string{"missing label(s)"}},
		{name: "partial", res: ns(partial), want: []string{`missing label(s) "konductor.io/stack", "konductor.io/module"`}},
		{name: "wrong managed-by", res: ns(wrongOwner),
			want: []string{`label "app.kubernetes.io/managed-by" is "Helm", not "konductor". Remediation: set metadata.labels["app.kubernetes.io/managed-by"] to "konductor"`}},
		{name: "labels computed in preview", res: Resource{Type: "kubernetes:core/v1:Namespace",
			Properties: map[string]any{"metadata": map[string]any{"labels": Unknown{}}}}},
		{name: "git commit required by config", res: ns(partialWith(k8sLabels(), "konductor.io/git-commit")),
			cfg:  map[string]any{"kubernetesLabels": []any{"app.kubernetes.io/managed-by", "konductor.io/git-commit"}},
			want: []string{`missing label(s) "konductor.io/git-commit"`}},
		{name: "not a namespace", res: Resource{Type: "kubernetes:core/v1:ConfigMap",
			Properties: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}},
	})
}

// partialWith returns m without the given keys.
func partialWith(m map[string]any, drop ...string) map[string]any {
	for _, k := range drop {
		delete(m, k)
	}
	return m
}

func TestSplitImage(t *testing.T) {
	for _, c := range []struct{ ref, tag, digest string }{
		{"nginx", "", ""},
		{"nginx:1.27", "1.27", ""},
		{"localhost:5000/nginx", "", ""},
		{"localhost:5000/nginx:1", "1", ""},
		{"nginx@sha256:abc", "", "sha256:abc"},
		{"ghcr.io/a/b:v1@sha256:abc", "v1", "sha256:abc"},
	} {
		tag, digest := splitImage(c.ref)
		if tag != c.tag || digest != c.digest {
			t.Errorf("splitImage(%q) = %q, %q; want %q, %q", c.ref, tag, digest, c.tag, c.digest)
		}
	}
}
