package runner_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/containercraft/konductor-action/modules/kubernetes"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/kubecluster"
	"github.com/containercraft/konductor-action/test/testenv"
)

// TestKubernetesCertManagerCluster deploys to a real local API server (kwok
// fake node). cert-manager's webhook pods are fake there, so nothing can
// admit cert-manager objects: the issuers are first shown to be rejected,
// then disabled (the render test proves their manifests).
func TestKubernetesCertManagerCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	start := time.Now()
	chart := testenv.CertManagerChart(t)
	c := kubecluster.Start(t)
	cs := c.Client(t)
	dyn, err := dynamic.NewForConfig(c.RESTConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	target := "    kubeconfig: " + c.Kubeconfig + "\n    context: " + kubecluster.ContextName
	dir := testenv.Project(t, "platform", "dev", kubeStack(target, chart, false, "apps"))
	r := newKubeRunner(t)

	res := runOp(t, r, dir, result.Up)
	t.Logf("up: %d creates", res.Counts[result.OpCreate])
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels["tier"] != "apps" || ns.Labels[metadata.LabelManagedBy] != metadata.ManagedByValue || ns.Annotations["owner"] != "team-a@example.com" {
		t.Errorf("team-a labels %v annotations %v", ns.Labels, ns.Annotations)
	}
	q, err := cs.CoreV1().ResourceQuotas("team-a").Get(ctx, kubernetes.QuotaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Spec.Hard["requests.cpu"]; got.String() != "2" {
		t.Errorf("quota hard %v", q.Spec.Hard)
	}
	if _, err := cs.NetworkingV1().NetworkPolicies("team-a").Get(ctx, kubernetes.DefaultDenyName, metav1.GetOptions{}); err != nil {
		t.Error(err)
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, crd := range []string{"certificates.cert-manager.io", "clusterissuers.cert-manager.io", "issuers.cert-manager.io"} {
		if _, err := dyn.Resource(crdGVR).Get(ctx, crd, metav1.GetOptions{}); err != nil {
			t.Errorf("CRD %s: %v", crd, err)
		}
	}
	for _, name := range []string{"cert-manager", "cert-manager-webhook", "cert-manager-cainjector"} {
		d, err := cs.AppsV1().Deployments("cert-manager").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("deployment %s: %v", name, err)
			continue
		}
		if d.Status.ReadyReplicas < 1 || d.Status.ReadyReplicas != *d.Spec.Replicas {
			t.Errorf("deployment %s: %d/%d ready", name, d.Status.ReadyReplicas, *d.Spec.Replicas)
		}
		if lim := d.Spec.Template.Spec.Containers[0].Resources.Limits; lim.Memory().IsZero() {
			t.Errorf("deployment %s has no memory limit", name)
		}
	}

	// What happens to a ClusterIssuer here: the webhook cannot answer.
	issuerGVR := schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
	probe := map[string]any{"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
		"metadata": map[string]any{"name": "probe"}, "spec": map[string]any{"selfSigned": map[string]any{}}}
	_, err = dyn.Resource(issuerGVR).Create(ctx, &unstructured.Unstructured{Object: probe}, metav1.CreateOptions{})
	if err == nil {
		t.Log("a ClusterIssuer was admitted on this cluster: the webhook answered")
		_ = dyn.Resource(issuerGVR).Delete(ctx, "probe", metav1.DeleteOptions{})
	} else {
		t.Logf("a ClusterIssuer is rejected on this cluster, as expected with kwok: %v", err)
		if !strings.Contains(err.Error(), "webhook") {
			t.Errorf("ClusterIssuer rejected for another reason than the webhook: %v", err)
		}
	}

	// A label change previews as an update with the property diff, and applies.
	testenv.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), kubeStack(target, chart, false, "frontend"))
	assertLabelUpdate(t, runOp(t, r, dir, result.Preview))
	res = runOp(t, r, dir, result.Up)
	if res.Counts[result.OpUpdate] != 1 {
		t.Errorf("up counts %v, want 1 update", res.Counts)
	}
	ns, err = cs.CoreV1().Namespaces().Get(ctx, "team-a", metav1.GetOptions{})
	if err != nil || ns.Labels["tier"] != "frontend" {
		t.Errorf("team-a after update: %v labels %v", err, ns.Labels)
	}

	// destroy removes it all: namespaces gone or terminating, CRDs gone.
	runOp(t, r, dir, result.Destroy)
	for _, name := range []string{"team-a", "team-b", "cert-manager"} {
		ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err == nil && ns.DeletionTimestamp == nil {
			t.Errorf("namespace %s still exists after destroy", name)
		} else if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(crdGVR).Get(ctx, "certificates.cert-manager.io", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("CRD certificates.cert-manager.io still there after destroy (keep_crds: false)")
	}
	t.Logf("real-cluster test: %s", time.Since(start).Round(time.Millisecond))
}
