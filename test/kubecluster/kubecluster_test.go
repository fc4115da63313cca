package kubecluster_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/containercraft/konductor-action/test/kubecluster"
)

// A Deployment gets Ready pods on the fake node: the scheduler binds them,
// the controller-manager's ReplicaSet controller creates them and kwok
// reports them Running and Ready.
func TestDeploymentPodsBecomeReady(t *testing.T) {
	c := kubecluster.Start(t)
	cs := c.Client(t)
	ctx := t.Context()

	kc, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if kc.CurrentContext != kubecluster.ContextName {
		t.Errorf("current-context %q, want %q", kc.CurrentContext, kubecluster.ContextName)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.36.1" || v.Major != "1" || v.Minor != "36" {
		t.Errorf("server version %s (major %q minor %q), want v1.36.1: is the binary stamped?", v.GitVersion, v.Major, v.Minor)
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, c.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Annotations["kwok.x-k8s.io/node"] != "fake" {
		t.Errorf("node annotations %v, want kwok.x-k8s.io/node: fake", node.Annotations)
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := int32(3)
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "web",
					Image: "nginx:1.27",
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
						HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80)},
					}},
				}}},
			},
		},
	}
	start := time.Now()
	if _, err := cs.AppsV1().Deployments("demo").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("demo").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.ObservedGeneration == d.Generation && d.Status.ReadyReplicas == replicas &&
			d.Status.AvailableReplicas == replicas, nil
	})
	if err != nil {
		t.Fatalf("deployment not ready: %v\n%s", err, describe(ctx, cs, "demo"))
	}
	t.Logf("deployment demo/web: %d pods Ready %s after creation", replicas, time.Since(start).Round(time.Millisecond))

	pods, err := cs.CoreV1().Pods("demo").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != int(replicas) {
		t.Fatalf("%d pods, want %d", len(pods.Items), replicas)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != c.NodeName || p.Status.Phase != corev1.PodRunning || !podReady(&p) || p.Status.PodIP == "" {
			t.Errorf("pod %s: node %q phase %s ready %v ip %q, want Running and Ready on %s",
				p.Name, p.Spec.NodeName, p.Status.Phase, podReady(&p), p.Status.PodIP, c.NodeName)
		}
	}
}

// A second cluster starts in the same process once the first has stopped,
// and the first one's processes are all gone.
func TestStartAgainAfterStop(t *testing.T) {
	first := kubecluster.Start(t)
	cs := first.Client(t)
	if _, err := cs.CoreV1().Namespaces().Get(t.Context(), "default", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(t.Context(), "default", metav1.GetOptions{}); err == nil {
		t.Fatalf("the first API server (%s) still answers after Stop", first.Server)
	}
	for name, pid := range first.Pids {
		if err := checkGone(pid); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	second := kubecluster.Start(t)
	nodes, err := second.Client(t).CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 1 || nodes.Items[0].Name != second.NodeName {
		t.Fatalf("nodes %v, want only %s", nodes.Items, second.NodeName)
	}
	if first.Dir == second.Dir {
		t.Errorf("both clusters use %s", first.Dir)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func describe(ctx context.Context, cs kubernetes.Interface, ns string) string {
	var b strings.Builder
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s node=%q phase=%s ready=%v\n", p.Name, p.Spec.NodeName, p.Status.Phase, podReady(&p))
	}
	evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, e := range evs.Items {
			fmt.Fprintf(&b, "event %s/%s %s: %s\n", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
	return b.String()
}

func checkGone(pid int) error {
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		return fmt.Errorf("pid %d still exists (kill 0: %v)", pid, err)
	}
	return nil
}
