package action_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/containercraft/konductor-action/modules/kubernetes"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/test/fakegithub"
	"github.com/containercraft/konductor-action/test/kubecluster"
	"github.com/containercraft/konductor-action/test/testenv"
)

// TestFullFlowOnCluster is the product end to end: a git repository made
// from examples/platform, the built binary run as a container action for
// each event, the real engine and provider, and a real local Kubernetes API
// server as the target.
//
//  1. A pull request → one comment whose dev section shows the kubernetes and
//     cert_manager modules.
//  2. A push to the deploy branch → the objects exist in the cluster.
//  3. A synchronize with a changed label → the same comment, updated, with the
//     update and its property diff.
//  4. A commit that breaks a mandatory policy → a violation section and a
//     failing exit code.
//  5. A rerun on that commit → still exactly one comment.
func TestFullFlowOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	t.Parallel()
	c := kubecluster.Start(t)
	cs := c.Client(t)
	ctx := t.Context()

	ws, stack := platformOnCluster(t, c)
	w := newWorldIn(t, ws)
	git(t, ws, "init", "-q", "-b", "main")
	sha := commit(t, ws, "platform from the example")

	// 1. The pull request.
	w.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo, HeadRef: "changes", HeadSHA: sha})
	w.changed("Pulumi.dev.yaml", "konductor.yaml")
	r := w.step("pull_request", prPayload(t, "opened", sha, owner+"/"+repo), map[string]string{"GITHUB_SHA": sha})
	if r.code != 0 {
		t.Fatalf("opened: %s", r)
	}
	body := w.comment()
	first := w.comments()[0].ID
	contains(t, "comment after opened", body,
		"<!-- konductor:section:dev:begin sha="+sha, "`dev` — preview has changes",
		"Modules: `cert_manager` ", "`kubernetes` ",
		"➕ create `kubernetes:core/v1:Namespace` **apps**", "➕ create `kubernetes:helm.sh/v4:Chart` **cert-manager**")

	// 2. Merged: the push to main deploys dev into the cluster.
	r = w.step("push", fixture(t, "push.main.json"), map[string]string{"GITHUB_SHA": sha, "GITHUB_REF": "refs/heads/main"})
	if r.code != 0 {
		t.Fatalf("push: %s", r)
	}
	contains(t, "push summary", r.summary, "`dev` — up succeeded")
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "apps", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace apps after the deploy: %v", err)
	}
	if ns.Labels["tier"] != "workloads" || ns.Labels[metadata.LabelManagedBy] != metadata.ManagedByValue || ns.Annotations["owner"] != "app-team" {
		t.Errorf("namespace apps: labels %v annotations %v", ns.Labels, ns.Annotations)
	}
	if _, err := cs.CoreV1().ResourceQuotas("apps").Get(ctx, kubernetes.QuotaName, metav1.GetOptions{}); err != nil {
		t.Errorf("quota: %v", err)
	}
	for _, name := range []string{"cert-manager", "cert-manager-webhook", "cert-manager-cainjector"} {
		d, err := cs.AppsV1().Deployments("cert-manager").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("deployment %s: %v", name, err)
		} else if d.Status.ReadyReplicas < 1 {
			t.Errorf("deployment %s not ready", name)
		}
	}

	// 3. A new commit on the pull request changes a label.
	edit(t, stack, "          tier: workloads\n", "          tier: frontend\n")
	sha = commit(t, ws, "apps: tier frontend")
	w.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo, HeadRef: "changes", HeadSHA: sha})
	w.changed("Pulumi.dev.yaml")
	r = w.step("pull_request", prPayload(t, "synchronize", sha, owner+"/"+repo), map[string]string{"GITHUB_SHA": sha})
	if r.code != 0 {
		t.Fatalf("synchronize: %s", r)
	}
	body = w.comment()
	if id := w.comments()[0].ID; id != first {
		t.Errorf("synchronize wrote comment %d, want the same comment %d", id, first)
	}
	contains(t, "comment after synchronize", body, "sha="+sha,
		"✏️ update `kubernetes:core/v1:Namespace` **apps**", "`\"workloads\"` → `\"frontend\"`")

	// 4. A commit that runs the webhook on the host's network: the baseline
	// pack's mandatory k8s-no-host-namespaces rule fails the run.
	edit(t, stack, "    chart_path: .konductor/charts/cert-manager\n",
		"    chart_path: .konductor/charts/cert-manager\n    values:\n      webhook:\n        hostNetwork: true\n")
	sha = commit(t, ws, "webhook on the host network")
	w.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo, HeadRef: "changes", HeadSHA: sha})
	r = w.step("pull_request", prPayload(t, "synchronize", sha, owner+"/"+repo), map[string]string{"GITHUB_SHA": sha})
	if r.code != 1 {
		t.Fatalf("a mandatory violation: exit %d, want 1: %s", r.code, r)
	}
	body = w.comment()
	contains(t, "comment with a violation", body, "sha="+sha, "🛑", "**Policy violations**",
		"🛑 mandatory `konductor-baseline/k8s-no-host-namespaces`", "cert-manager-webhook",
		"1 mandatory policy violation(s) block this preview; nothing was changed")
	if strings.Contains(body, "**Diagnostics**") {
		t.Errorf("the engine's generic failure repeats the violation:\n%s", body)
	}
	contains(t, "log", r.stdout, "::error title=k8s-no-host-namespaces::")
	if out := r.outputMap(t); out["mandatory-violations"] == "0" || out["mandatory-violations"] == "" {
		t.Errorf("outputs = %v", out)
	}

	// 5. The job is rerun on the same commit.
	again := w.step("pull_request", prPayload(t, "synchronize", sha, owner+"/"+repo), map[string]string{"GITHUB_SHA": sha})
	if again.code != 1 {
		t.Errorf("rerun: exit %d, want 1", again.code)
	}
	if n := len(w.comments()); n != 1 {
		t.Fatalf("%d comments after the rerun, want 1", n)
	}
	if got := w.comment(); got != body {
		t.Errorf("the rerun changed the comment:\n%s\nwas:\n%s", got, body)
	}
}

// platformOnCluster lays out a repository made from examples/platform
// whose dev stack deploys to c, from the branch main; stack is its
// Pulumi.dev.yaml. cert-manager's webhook pods are fake on kwok, so nothing
// would admit its issuers: they are off (the render tests cover them).
func platformOnCluster(t *testing.T, c *kubecluster.Cluster) (ws, stack string) {
	t.Helper()
	ws = t.TempDir()
	example := filepath.Join("..", "..", "examples", "platform")
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml", ".gitignore"} {
		b, err := os.ReadFile(filepath.Join(example, f))
		if err != nil {
			t.Fatal(err)
		}
		testenv.Write(t, filepath.Join(ws, f), string(b))
	}
	if err := os.CopyFS(filepath.Join(ws, ".konductor", "charts", "cert-manager"), os.DirFS(testenv.CertManagerChart(t))); err != nil {
		t.Fatal(err)
	}
	stack = filepath.Join(ws, "Pulumi.dev.yaml")
	edit(t, stack,
		"    render_dir: .konductor/manifests/dev\n", "    kubeconfig: "+c.Kubeconfig+"\n    context: "+kubecluster.ContextName+"\n",
		"    issuers:\n      name: platform-ca\n", "    issuers:\n      enabled: false\n")
	testenv.Write(t, filepath.Join(ws, "konductor.yaml"), "stacks:\n  dev:\n    branch: main\n")
	return ws, stack
}

// edit replaces each old text with its new one in file, failing when one
// is missing (the example changed under the test).
func edit(t *testing.T, file string, oldNew ...string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("%s lacks %q", file, oldNew[i])
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	testenv.Write(t, file, s)
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=konductor test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=konductor test", "GIT_COMMITTER_EMAIL=test@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func commit(t *testing.T, dir, msg string) string {
	t.Helper()
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", msg)
	return git(t, dir, "rev-parse", "HEAD")
}
