package kubernetes

import (
	"errors"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/modules"
)

func fieldErrors(err error) []string {
	var out []string
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []string{"NOT JOINED: " + err.Error()}
	}
	for _, e := range j.Unwrap() {
		var fe *modules.FieldError
		if !errors.As(e, &fe) {
			out = append(out, "NOT A FIELD ERROR: "+e.Error())
			continue
		}
		out = append(out, fe.Error())
	}
	return out
}

func TestBaselineDefaults(t *testing.T) {
	b := &Baseline{ResourceQuota: &ResourceQuota{RequestsCPU: "2"}, LimitRange: &LimitRange{}, DefaultDeny: true}
	c := &Config{Namespaces: []Namespace{{Name: "a", Baseline: b}}}
	if err := Module.Validate(c); err != nil {
		t.Fatal(err)
	}
	q := b.ResourceQuota
	if q.RequestsCPU != "2" || q.RequestsMemory != "8Gi" || q.LimitsCPU != "8" || q.LimitsMemory != "16Gi" || q.Pods != 50 {
		t.Errorf("quota defaults %+v", q)
	}
	l := b.LimitRange
	if l.DefaultCPU != "500m" || l.DefaultMemory != "512Mi" || l.DefaultRequestCPU != "100m" || l.DefaultRequestMemory != "128Mi" || l.MaxCPU != "" {
		t.Errorf("limit range defaults %+v", l)
	}
	if b.AllowDNS == nil || !*b.AllowDNS {
		t.Error("allow_dns defaults to true")
	}
}

func TestBaselineValidation(t *testing.T) {
	no := false
	c := &Config{Namespaces: []Namespace{
		{Name: "ok"},
		{Name: "bad", Baseline: &Baseline{
			ResourceQuota: &ResourceQuota{RequestsCPU: "lots", LimitsMemory: "1Gi", RequestsMemory: "2Gi", Pods: -1,
				Hard: map[string]string{"services": "ten", "pods": "3", "persistentvolumeclaims": "5"}},
			LimitRange: &LimitRange{DefaultRequestCPU: "2", DefaultCPU: "1", MaxMemory: "256Mi", DefaultMemory: "-1Mi"},
			AllowDNS:   &no,
		}},
	}}
	got := fieldErrors(Module.Validate(c))
	want := []string{
		`namespaces[1].baseline.resource_quota.requests_cpu: "lots" is not a Kubernetes quantity`,
		`namespaces[1].baseline.resource_quota.requests_memory: requests_memory (2Gi) is above limits_memory (1Gi)`,
		`namespaces[1].baseline.resource_quota.pods: -1 is negative`,
		`namespaces[1].baseline.resource_quota.hard.pods: set it with the typed field`,
		`namespaces[1].baseline.resource_quota.hard.services: "ten" is not a Kubernetes quantity`,
		`namespaces[1].baseline.limit_range.default_memory: "-1Mi" is negative`,
		`namespaces[1].baseline.limit_range.default_request_cpu: default_request_cpu (2) is above default_cpu (1)`,
		`namespaces[1].baseline.allow_dns: only applies with default_deny: true`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}
