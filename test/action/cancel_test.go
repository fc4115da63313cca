package action_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/test/fakegithub"
	"github.com/containercraft/konductor-action/test/kubecluster"
	"github.com/containercraft/konductor-action/test/testenv"
)

// GitHub's cancellation of a step: SIGINT, SIGTERM 7.5 s later, and the
// process tree killed 2.5 s after that.
const (
	githubTermAfter = 7500 * time.Millisecond
	githubKillAfter = 10 * time.Second
)

// A deploy cancelled as GitHub cancels a step while a provider operation is
// in flight: the kubernetes provider awaits cert-manager's controller
// Deployment, whose pods can never be scheduled (a nodeSelector no node
// matches), so the operation would outlast the window by minutes.
// konductor must stop the engine, write the stack's cancelled section to
// the job summary, its outputs and the merged pull request's comment, and
// exit by itself before the kill; the next deploy, with pods that
// schedule, must succeed on the same state.
//
// Twice: a create cancelled with the pinned CLI as it is, then an update
// cancelled with a CLI deaf to the graceful cancel, as the engine is while
// a provider that ignores cancellation finishes its operation.
func TestCancelInsideGitHubWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	t.Parallel()
	began := time.Now()
	c := kubecluster.Start(t)
	cs := c.Client(t)
	ws, stack := platformOnCluster(t, c)
	const (
		schedulable   = "    chart_path: .konductor/charts/cert-manager\n"
		unschedulable = schedulable + "    values:\n      nodeSelector:\n        konductor.test/pool: nowhere\n"
	)
	w := newWorldIn(t, ws)
	env := map[string]string{"GITHUB_SHA": pushSHA, "GITHUB_REF": "refs/heads/main"}

	// The first deploy is the merge of pull request #2: it reports there too.
	w.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo,
		HeadRef: "changes", HeadSHA: shaA, Merged: true, MergeCommitSHA: pushSHA})

	edit(t, stack, schedulable, unschedulable)
	r, _ := cancelMidUp(t, w, cs, env)
	// The provider's own words: its await was cancelled, not timed out.
	const why = `Resource operation was cancelled for "cert-manager"`
	contains(t, "summary after cancelling the create", r.summary, why)
	contains(t, "pull request comment after cancelling the create", w.comment(),
		"<!-- konductor:section:dev/deploy:begin", "`dev` — up cancelled", why)
	// The later ones are direct pushes, sparing each the comment's 18 s
	// settling.
	w.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo, HeadRef: "changes", HeadSHA: shaA})
	t.Logf("state after cancelling the create: %s", stateSummary(t, w))
	edit(t, stack, unschedulable, schedulable)
	deployed(t, w, cs, env)

	edit(t, stack, schedulable, unschedulable)
	deaf := maps.Clone(env)
	deaf["KONDUCTOR_PULUMI_ROOT"] = deafCLI(t)
	// Not vacuous: the engine stopped on the second interrupt, 3 s on.
	if _, took := cancelMidUp(t, w, cs, deaf); took < 2500*time.Millisecond {
		t.Errorf("the deaf CLI stopped %s after SIGINT: it heard the first interrupt", took)
	}
	t.Logf("state after cancelling the update: %s", stateSummary(t, w))
	edit(t, stack, unschedulable, schedulable)
	deployed(t, w, cs, env)
	t.Logf("test took %s", time.Since(began).Round(time.Second))
}

// cancelMidUp starts a deploy, waits until the provider awaits a
// controller pod that cannot be scheduled, and cancels the step exactly
// as GitHub does. konductor must exit by itself before the kill, leave
// no process and no lock behind, and say in the job summary, the log and
// the result output that the stack's update was cancelled. It returns the
// step's outcome and how long it ran after SIGINT.
func cancelMidUp(t *testing.T, w *world, cs kubernetes.Interface, env map[string]string) (run, time.Duration) {
	t.Helper()
	began := time.Now()
	s := w.start("push", fixture(t, "push.main.json"), env)
	pid := s.cmd.Process.Pid
	exited := make(chan run, 1)
	var exitedAt time.Time
	go func() {
		r := s.wait()
		exitedAt = time.Now()
		exited <- r
	}()
	// Whatever happens, nothing of the step outlives the test.
	t.Cleanup(func() { killStep(t, w.workspace, pid) })

	// In flight: the Deployment is applied and its new pod unschedulable,
	// so the provider awaits a readiness that cannot come.
	for !pendingPod(t, cs, began) {
		select {
		case r := <-exited:
			t.Fatalf("the deploy ended before its Deployment was awaited: %s", r)
		case <-time.After(250 * time.Millisecond):
		}
		if time.Since(began) > 3*time.Minute {
			t.Fatal("no unschedulable cert-manager controller pod after 3 minutes")
		}
	}
	t.Logf("cert-manager's controller pod pending %s after the step started", time.Since(began).Round(100*time.Millisecond))

	// GitHub cancels the step.
	sigint := time.Now()
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var r run
	var termSent, killed bool
	select {
	case r = <-exited:
	case <-time.After(githubTermAfter):
		termSent = syscall.Kill(pid, syscall.SIGTERM) == nil
		select {
		case r = <-exited:
		case <-time.After(githubKillAfter - githubTermAfter):
			killed = syscall.Kill(-pid, syscall.SIGKILL) == nil
			r = <-exited
		}
	}
	took := exitedAt.Sub(sigint)
	t.Logf("SIGINT → exit: %s (SIGTERM sent: %v, killed: %v)", took.Round(10*time.Millisecond), termSent, killed)
	// Provider plugins run in process groups of their own: a process of
	// the step is one with its workspace in its environment.
	left := stepProcesses(t, w.workspace)
	// GitHub removes what is left of the step when it ends.
	killStep(t, w.workspace, pid)
	if killed {
		t.Fatalf("konductor was still running %s after SIGINT and was killed: %s", githubKillAfter, r)
	}
	if len(left) > 0 {
		t.Errorf("processes of the step still running after it exited: %v", left)
	}

	// What the user sees, all written before the kill.
	if r.code != 1 {
		t.Errorf("exit after cancelling: %s", r)
	}
	contains(t, "summary after cancelling", r.summary, "`dev` — up cancelled", "cancelled: ")
	contains(t, "log after cancelling", r.stdout, "::warning::konductor: cancelled (interrupt signal received)")
	var results map[string]action.StackResult
	if err := json.Unmarshal([]byte(r.outputMap(t)[action.OutputResult]), &results); err != nil {
		t.Fatalf("result output: %v\n%s", err, r.outputs)
	}
	if dev := results["dev"]; dev.Status != "failed" || !strings.HasPrefix(dev.Error, "cancelled") {
		t.Errorf("dev's result output = %+v, want failed and cancelled", dev)
	}
	if locks := lockFiles(t, w.state); len(locks) != 0 {
		t.Errorf("locks left after cancelling: %v", locks)
	}
	return r, took
}

// deployed runs a deploy that must succeed: cert-manager's controller
// ready, and the state holding every resource once and no pending
// operation.
func deployed(t *testing.T, w *world, cs kubernetes.Interface, env map[string]string) {
	t.Helper()
	r := w.step("push", fixture(t, "push.main.json"), env)
	if r.code != 0 {
		t.Fatalf("the deploy after the cancelled one: %s", r)
	}
	contains(t, "summary of the next deploy", r.summary, "`dev` — up succeeded")
	d, err := cs.AppsV1().Deployments("cert-manager").Get(t.Context(), "cert-manager", metav1.GetOptions{})
	if err != nil {
		t.Errorf("cert-manager's controller after the next deploy: %v", err)
	} else if d.Status.ReadyReplicas < 1 {
		t.Errorf("cert-manager's controller not ready after the next deploy: %+v", d.Status)
	}
	if got := stateSummary(t, w); !strings.HasPrefix(got, "0 pending operations, every resource once") {
		t.Errorf("state after the next deploy: %s", got)
	}
}

// deafCLI is a KONDUCTOR_PULUMI_ROOT whose bin/pulumi runs the pinned CLI
// but keeps the first SIGINT from it, as an engine whose provider ignores
// the cancel keeps working; the later ones reach it.
func deafCLI(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	script := `#!/bin/sh
heard=0
trap 'if [ $heard = 1 ]; then kill -INT $child; fi; heard=1' INT
` + filepath.Join(testenv.PulumiRoot(t), "bin", "pulumi") + ` "$@" <&0 &
child=$!
while :; do
	wait $child
	rc=$?
	kill -0 $child 2>/dev/null || exit $rc
done
`
	testenv.Write(t, filepath.Join(root, "bin", "pulumi"), script)
	if err := os.Chmod(filepath.Join(root, "bin", "pulumi"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// pendingPod reports whether cert-manager's controller has a pod created
// since then that the scheduler has declared unschedulable.
func pendingPod(t *testing.T, cs kubernetes.Interface, since time.Time) bool {
	t.Helper()
	pods, err := cs.CoreV1().Pods("cert-manager").List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=controller"})
	if err != nil {
		return false
	}
	for _, p := range pods.Items {
		if p.CreationTimestamp.Time.Before(since.Truncate(time.Second)) {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return true
			}
		}
	}
	return false
}

// stepProcesses lists the live processes of the steps run in workspace
// ws: konductor, the CLI, and the plugins the CLI starts in process groups
// of their own, all with GITHUB_WORKSPACE=ws in their environment.
func stepProcesses(t *testing.T, ws string) []int {
	t.Helper()
	want := []byte("\x00GITHUB_WORKSPACE=" + ws + "\x00")
	return processes(t, func(dir string) bool {
		b, err := os.ReadFile(filepath.Join(dir, "environ"))
		f := statFields(dir)
		return err == nil && bytes.Contains(append([]byte{0}, b...), want) && len(f) > 0 && f[0] != "Z"
	})
}

// killStep kills the step's process group and every other process of it.
func killStep(t *testing.T, ws string, pgid int) {
	t.Helper()
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	for _, pid := range stepProcesses(t, ws) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// statFields is /proc/<pid>/stat after the command (which may hold spaces):
// state ppid pgrp …; nil once the process is gone.
func statFields(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
}

// groupMembers lists the live pids in process group pgid.
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	return processes(t, func(dir string) bool {
		f := statFields(dir)
		return len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid)
	})
}

// stateSummary reads the dev stack's state as the pinned CLI exports it:
// its pending operations, and any resource recorded more than once.
func stateSummary(t *testing.T, w *world) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "state.json")
	testenv.Pulumi(t, w.workspace, w.getenv, "stack", "export", "--stack", "dev", "--file", file)
	var st struct {
		Deployment struct {
			Resources []struct {
				URN string `json:"urn"`
			} `json:"resources"`
			PendingOperations []struct {
				Type     string `json:"type"`
				Resource struct {
					URN string `json:"urn"`
				} `json:"resource"`
			} `json:"pending_operations"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal([]byte(read(t, file)), &st); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	var twice []string
	for _, r := range st.Deployment.Resources {
		if seen[r.URN]++; seen[r.URN] == 2 {
			twice = append(twice, r.URN)
		}
	}
	var pending []string
	for _, p := range st.Deployment.PendingOperations {
		pending = append(pending, p.Type+" "+p.Resource.URN)
	}
	text := strconv.Itoa(len(pending)) + " pending operations"
	if len(twice) == 0 {
		text += ", every resource once"
	}
	text += " (" + strconv.Itoa(len(st.Deployment.Resources)) + " resources)"
	if len(pending) > 0 {
		text += "; pending: " + strings.Join(pending, ", ")
	}
	if len(twice) > 0 {
		text += "; recorded more than once: " + strings.Join(twice, ", ")
	}
	return text
}
