package kubernetes

import (
	"fmt"
	"maps"
	"slices"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/containercraft/konductor-action/modules"
)

// Names of the baseline objects inside each namespace.
const (
	QuotaName       = "konductor-quota"
	LimitRangeName  = "konductor-limits"
	DefaultDenyName = "default-deny"
	AllowDNSName    = "allow-dns-egress"
)

// Baseline is the optional per-namespace guard rail set. Each part is off
// until it is mentioned; a mentioned part takes the defaults for every field
// it leaves out (`resource_quota: {}` is the default quota).
type Baseline struct {
	ResourceQuota *ResourceQuota `yaml:"resource_quota" doc:"a ResourceQuota konductor-quota; {} takes the defaults"`
	LimitRange    *LimitRange    `yaml:"limit_range" doc:"a LimitRange konductor-limits with container defaults; {} takes the defaults"`
	DefaultDeny   bool           `yaml:"default_deny" doc:"a NetworkPolicy default-deny selecting every pod, for ingress and egress"`
	// AllowDNS adds, with DefaultDeny, a policy letting every pod reach DNS
	// (port 53, UDP and TCP): without it no pod can resolve names.
	AllowDNS *bool `yaml:"allow_dns" doc:"with default_deny: allow egress to port 53 UDP/TCP (default true)"`
}

// ResourceQuota holds the quota's hard limits (Kubernetes quantities).
type ResourceQuota struct {
	RequestsCPU    string `yaml:"requests_cpu" doc:"requests.cpu (default 4)"`
	RequestsMemory string `yaml:"requests_memory" doc:"requests.memory (default 8Gi)"`
	LimitsCPU      string `yaml:"limits_cpu" doc:"limits.cpu (default 8)"`
	LimitsMemory   string `yaml:"limits_memory" doc:"limits.memory (default 16Gi)"`
	Pods           int    `yaml:"pods" doc:"pods (default 50)"`
	// Hard adds other quota entries (services, persistentvolumeclaims,
	// requests.storage, ...); it may not repeat the typed ones.
	Hard map[string]string `yaml:"hard" doc:"other hard limits by resource name"`
}

// LimitRange holds the container defaults (Kubernetes quantities).
type LimitRange struct {
	DefaultCPU           string `yaml:"default_cpu" doc:"default container limits.cpu (default 500m)"`
	DefaultMemory        string `yaml:"default_memory" doc:"default container limits.memory (default 512Mi)"`
	DefaultRequestCPU    string `yaml:"default_request_cpu" doc:"default container requests.cpu (default 100m)"`
	DefaultRequestMemory string `yaml:"default_request_memory" doc:"default container requests.memory (default 128Mi)"`
	MaxCPU               string `yaml:"max_cpu" doc:"largest container limits.cpu; empty: none"`
	MaxMemory            string `yaml:"max_memory" doc:"largest container limits.memory; empty: none"`
}

// Baseline defaults.
const (
	DefaultQuotaRequestsCPU    = "4"
	DefaultQuotaRequestsMemory = "8Gi"
	DefaultQuotaLimitsCPU      = "8"
	DefaultQuotaLimitsMemory   = "16Gi"
	DefaultQuotaPods           = 50

	DefaultLimitCPU          = "500m"
	DefaultLimitMemory       = "512Mi"
	DefaultRequestCPU        = "100m"
	DefaultRequestMemory     = "128Mi"
	defaultAllowDNS          = true
	quotaKeyPods             = "pods"
	quotaKeyRequestsCPU      = "requests.cpu"
	quotaKeyRequestsMemory   = "requests.memory"
	quotaKeyLimitsCPU        = "limits.cpu"
	quotaKeyLimitsMemory     = "limits.memory"
	limitRangeTypeContainer  = "Container"
	networkPolicyTypeIngress = "Ingress"
	networkPolicyTypeEgress  = "Egress"
)

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// withDefaults fills the fields a mentioned part leaves out. It is
// idempotent: validation and deploy both call it.
func (b *Baseline) withDefaults() {
	if b == nil {
		return
	}
	if q := b.ResourceQuota; q != nil {
		q.RequestsCPU = orDefault(q.RequestsCPU, DefaultQuotaRequestsCPU)
		q.RequestsMemory = orDefault(q.RequestsMemory, DefaultQuotaRequestsMemory)
		q.LimitsCPU = orDefault(q.LimitsCPU, DefaultQuotaLimitsCPU)
		q.LimitsMemory = orDefault(q.LimitsMemory, DefaultQuotaLimitsMemory)
		if q.Pods == 0 {
			q.Pods = DefaultQuotaPods
		}
	}
	if l := b.LimitRange; l != nil {
		l.DefaultCPU = orDefault(l.DefaultCPU, DefaultLimitCPU)
		l.DefaultMemory = orDefault(l.DefaultMemory, DefaultLimitMemory)
		l.DefaultRequestCPU = orDefault(l.DefaultRequestCPU, DefaultRequestCPU)
		l.DefaultRequestMemory = orDefault(l.DefaultRequestMemory, DefaultRequestMemory)
	}
	if b.AllowDNS == nil {
		v := defaultAllowDNS
		b.AllowDNS = &v
	}
}

// quantity parses one quantity field; empty is allowed only when optional.
func quantity(errs *[]error, path, v string, optional bool) *resource.Quantity {
	if v == "" && optional {
		return nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		*errs = append(*errs, modules.Errorf(path, "%q is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 4Gi)", v))
		return nil
	}
	if q.Sign() < 0 {
		*errs = append(*errs, modules.Errorf(path, "%q is negative", v))
		return nil
	}
	return &q
}

// notAbove reports lo > hi as an error at path.
func notAbove(errs *[]error, path string, lo, hi *resource.Quantity, loName, hiName string) {
	if lo != nil && hi != nil && lo.Cmp(*hi) > 0 {
		*errs = append(*errs, modules.Errorf(path, "%s (%s) is above %s (%s)", loName, lo.String(), hiName, hi.String()))
	}
}

// validate appends one *modules.FieldError per problem to errs (flat: the
// loader reports each with its own key path and line).
func (b *Baseline) validate(p string, errs *[]error) {
	if b == nil {
		return
	}
	b.withDefaults()
	if q := b.ResourceQuota; q != nil {
		qp := p + ".resource_quota"
		rc := quantity(errs, qp+".requests_cpu", q.RequestsCPU, false)
		rm := quantity(errs, qp+".requests_memory", q.RequestsMemory, false)
		lc := quantity(errs, qp+".limits_cpu", q.LimitsCPU, false)
		lm := quantity(errs, qp+".limits_memory", q.LimitsMemory, false)
		notAbove(errs, qp+".requests_cpu", rc, lc, "requests_cpu", "limits_cpu")
		notAbove(errs, qp+".requests_memory", rm, lm, "requests_memory", "limits_memory")
		if q.Pods < 0 {
			*errs = append(*errs, modules.Errorf(qp+".pods", "%d is negative", q.Pods))
		}
		for _, k := range slices.Sorted(maps.Keys(q.Hard)) {
			switch k {
			case quotaKeyPods, quotaKeyRequestsCPU, quotaKeyRequestsMemory, quotaKeyLimitsCPU, quotaKeyLimitsMemory, "cpu", "memory":
				*errs = append(*errs, modules.Errorf(qp+".hard."+k, "set it with the typed field, not in hard"))
				continue
			}
			quantity(errs, qp+".hard."+k, q.Hard[k], false)
		}
	}
	if l := b.LimitRange; l != nil {
		lp := p + ".limit_range"
		dc := quantity(errs, lp+".default_cpu", l.DefaultCPU, false)
		dm := quantity(errs, lp+".default_memory", l.DefaultMemory, false)
		rc := quantity(errs, lp+".default_request_cpu", l.DefaultRequestCPU, false)
		rm := quantity(errs, lp+".default_request_memory", l.DefaultRequestMemory, false)
		mc := quantity(errs, lp+".max_cpu", l.MaxCPU, true)
		mm := quantity(errs, lp+".max_memory", l.MaxMemory, true)
		notAbove(errs, lp+".default_request_cpu", rc, dc, "default_request_cpu", "default_cpu")
		notAbove(errs, lp+".default_request_memory", rm, dm, "default_request_memory", "default_memory")
		notAbove(errs, lp+".default_cpu", dc, mc, "default_cpu", "max_cpu")
		notAbove(errs, lp+".default_memory", dm, mm, "default_memory", "max_memory")
	}
	if !b.DefaultDeny && b.AllowDNS != nil && !*b.AllowDNS {
		// allow_dns: false without default_deny is harmless but meaningless.
		*errs = append(*errs, modules.Errorf(p+".allow_dns", "only applies with default_deny: true"))
	}
}

// deployBaseline registers the namespace's baseline objects in it.
func deployBaseline(ctx *pulumi.Context, env modules.Env, provider pulumi.ProviderResource, ns string, nsName pulumi.StringInput, b *Baseline) error {
	if b == nil {
		return nil
	}
	b.withDefaults()
	opts := env.Options(pulumi.Provider(provider))
	meta := func(name string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: nsName}
	}
	if q := b.ResourceQuota; q != nil {
		hard := pulumi.StringMap{
			quotaKeyRequestsCPU:    pulumi.String(q.RequestsCPU),
			quotaKeyRequestsMemory: pulumi.String(q.RequestsMemory),
			quotaKeyLimitsCPU:      pulumi.String(q.LimitsCPU),
			quotaKeyLimitsMemory:   pulumi.String(q.LimitsMemory),
			quotaKeyPods:           pulumi.String(fmt.Sprint(q.Pods)),
		}
		for k, v := range q.Hard {
			hard[k] = pulumi.String(v)
		}
		if _, err := corev1.NewResourceQuota(ctx, ns+"-quota", &corev1.ResourceQuotaArgs{
			Metadata: meta(QuotaName),
			Spec:     &corev1.ResourceQuotaSpecArgs{Hard: hard},
		}, opts...); err != nil {
			return err
		}
	}
	if l := b.LimitRange; l != nil {
		item := &corev1.LimitRangeItemArgs{
			Type:           pulumi.String(limitRangeTypeContainer),
			Default:        pulumi.StringMap{"cpu": pulumi.String(l.DefaultCPU), "memory": pulumi.String(l.DefaultMemory)},
			DefaultRequest: pulumi.StringMap{"cpu": pulumi.String(l.DefaultRequestCPU), "memory": pulumi.String(l.DefaultRequestMemory)},
		}
		maxes := pulumi.StringMap{}
		if l.MaxCPU != "" {
			maxes["cpu"] = pulumi.String(l.MaxCPU)
		}
		if l.MaxMemory != "" {
			maxes["memory"] = pulumi.String(l.MaxMemory)
		}
		if len(maxes) > 0 {
			item.Max = maxes
		}
		if _, err := corev1.NewLimitRange(ctx, ns+"-limits", &corev1.LimitRangeArgs{
			Metadata: meta(LimitRangeName),
			Spec:     &corev1.LimitRangeSpecArgs{Limits: corev1.LimitRangeItemArray{item}},
		}, opts...); err != nil {
			return err
		}
	}
	if b.DefaultDeny {
		if _, err := networkingv1.NewNetworkPolicy(ctx, ns+"-default-deny", &networkingv1.NetworkPolicyArgs{
			Metadata: meta(DefaultDenyName),
			Spec: &networkingv1.NetworkPolicySpecArgs{
				PodSelector: &metav1.LabelSelectorArgs{},
				PolicyTypes: pulumi.StringArray{pulumi.String(networkPolicyTypeIngress), pulumi.String(networkPolicyTypeEgress)},
			},
		}, opts...); err != nil {
			return err
		}
		if *b.AllowDNS {
			port := func(proto string) networkingv1.NetworkPolicyPortInput {
				return &networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String(proto), Port: pulumi.Int(53)}
			}
			if _, err := networkingv1.NewNetworkPolicy(ctx, ns+"-allow-dns", &networkingv1.NetworkPolicyArgs{
				Metadata: meta(AllowDNSName),
				Spec: &networkingv1.NetworkPolicySpecArgs{
					PodSelector: &metav1.LabelSelectorArgs{},
					PolicyTypes: pulumi.StringArray{pulumi.String(networkPolicyTypeEgress)},
					Egress: networkingv1.NetworkPolicyEgressRuleArray{&networkingv1.NetworkPolicyEgressRuleArgs{
						Ports: networkingv1.NetworkPolicyPortArray{port("UDP"), port("TCP")},
					}},
				},
			}, opts...); err != nil {
				return err
			}
		}
	}
	return nil
}
