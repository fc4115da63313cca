package action_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/containercraft/konductor-action/test/kubecluster"
)

// A deploy killed hard mid-update (SIGKILL to the step's whole process
// group: konductor, the pinned CLI, the provider, as a lost runner or
// `kill -9` does) while the kubernetes provider awaits a cert-manager
// Deployment whose pod can never be scheduled: the CLI's lock stays in the
// backend and the interrupted create stays pending in the state. Then what
// a team does about it, each step checked on what it shows:
//
//  1. the next deploy does not wait for a lock older than stale-lock-age:
//     it fails at once, naming the lock's holder and how to clear it;
//  2. `konductor cancel` with the default stale age keeps the fresh lock
//     (exit 1) and says whose it is and how to clear it anyway;
//  3. the action's command: cancel with stale-lock-age 0s removes it and
//     resolves the pending creates: the objects the killed creates made in
//     the cluster are read back by a refresh and kept in the state (exit 0);
//  4. the deploy, its pod schedulable now, succeeds: it updates those
//     objects as their own (the same server-side apply field manager), and
//     the state holds each resource once with no pending operation.
func TestKilledDeployCancelThenUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	t.Parallel()
	began := time.Now()
	c := kubecluster.Start(t)
	ws, stack := platformOnCluster(t, c)
	const (
		schedulable   = "    chart_path: .konductor/charts/cert-manager\n"
		unschedulable = schedulable + "    values:\n      nodeSelector:\n        konductor.test/pool: nowhere\n"
	)
	edit(t, stack, schedulable, unschedulable)
	w := newWorldIn(t, ws)
	deploy := map[string]string{"GITHUB_SHA": pushSHA, "GITHUB_REF": "refs/heads/main"}

	s := w.start("push", fixture(t, "push.main.json"), deploy)
	pid := s.cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	// In flight: the state records the controller's create as pending
	// (the engine writes it before it calls the provider). The checkpoint
	// file is read as it is, since the engine rewrites it meanwhile.
	checkpoint := filepath.Join(w.state, ".pulumi", "stacks", "platform", "dev.json")
	for !pendingCreate(checkpoint, "kubernetes:apps/v1:Deployment::cert-manager:cert-manager/cert-manager") {
		if time.Since(began) > 4*time.Minute {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("no pending Deployment create after 4 minutes:\n%s", s.wait())
		}
		time.Sleep(250 * time.Millisecond)
	}
	killedAt := time.Now()
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := s.wait(); r.code != -1 {
		t.Errorf("killed step: %s", r)
	}
	for deadline := time.Now().Add(10 * time.Second); len(groupMembers(t, pid)) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if left := groupMembers(t, pid); len(left) > 0 {
		t.Errorf("processes of the killed step still running: %v", left)
	}
	locks := lockFiles(t, w.state)
	if len(locks) != 1 {
		t.Fatalf("locks after the kill = %v, want the killed update's one", locks)
	}
	t.Logf("killed %s after the step started; state: %s", killedAt.Sub(began).Round(100*time.Millisecond), stateSummary(t, w))
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	holder := "root@" + host + " (pid "

	// 1. The next deploy fails at once on the stale lock, and says why.
	start := time.Now()
	r := w.step("push", fixture(t, "push.main.json"), with(deploy, "INPUT_STALE-LOCK-AGE", "1s"))
	if r.code != 1 {
		t.Errorf("deploy on the stale lock: %s", r)
	}
	contains(t, "summary of the deploy on the stale lock", r.summary,
		"`dev` — up failed", "not waiting: the lock is ", "at least stale-lock-age (1s)",
		"stack dev is locked by "+holder, "if that run is gone: `konductor cancel --stack dev`",
		"from a workflow: run it with `command: cancel` and `stacks: dev`")
	if strings.Contains(r.stdout, "retrying in") {
		t.Errorf("the deploy waited for a stale lock:\n%s", r.stdout)
	}
	t.Logf("deploy on the stale lock failed in %s", time.Since(start).Round(100*time.Millisecond))

	// 2. konductor cancel keeps a lock younger than an hour.
	r = w.startCommand([]string{"cancel", "--stack", "dev"}, "push", nil, nil).wait()
	if r.code != 1 {
		t.Errorf("cancel of a fresh lock: %s", r)
	}
	contains(t, "cancel of a fresh lock", r.stdout,
		"`dev` — cancel: lock kept", "Lock kept: "+holder, "younger than the stale age (1h): its update may still be running",
		"`konductor cancel --stack dev --older-than 0s`",
		"may still be in flight under the kept lock")
	if got := lockFiles(t, w.state); len(got) != 1 {
		t.Errorf("locks after a cancel that keeps them = %v", got)
	}

	// 3. command: cancel from a workflow_dispatch, any lock.
	start = time.Now()
	r = w.step("workflow_dispatch", fixture(t, "workflow_dispatch.json"),
		map[string]string{"INPUT_COMMAND": "cancel", "INPUT_STACKS": "dev", "INPUT_STALE-LOCK-AGE": "0s"})
	if r.code != 0 {
		t.Fatalf("command: cancel: %s", r)
	}
	contains(t, "summary of command: cancel", r.summary,
		"`dev` — cancel: cleared", "Lock removed: "+holder,
		"Pending operations left by the interrupted update: ",
		"creating `kubernetes:apps/v1:Deployment` **cert-manager:cert-manager/cert-manager**: made before the interruption: read back by the refresh and kept in the state",
		"Refresh: succeeded", "The stack is free")
	if got := lockFiles(t, w.state); len(got) != 0 {
		t.Errorf("locks after command: cancel = %v", got)
	}
	t.Logf("command: cancel took %s; state: %s", time.Since(start).Round(100*time.Millisecond), stateSummary(t, w))

	// 4. The deploy, its pod schedulable now.
	edit(t, stack, unschedulable, schedulable)
	start = time.Now()
	r = w.step("push", fixture(t, "push.main.json"), deploy)
	if r.code != 0 {
		t.Fatalf("the deploy after cancel: %s", r)
	}
	contains(t, "summary of the deploy after cancel", r.summary, "`dev` — up succeeded")
	t.Logf("the deploy after cancel took %s", time.Since(start).Round(100*time.Millisecond))
	d, err := c.Client(t).AppsV1().Deployments("cert-manager").Get(t.Context(), "cert-manager", metav1.GetOptions{})
	if err != nil || d.Status.ReadyReplicas < 1 {
		t.Errorf("cert-manager's controller after the deploy: %v %+v", err, d.Status)
	}
	if got := stateSummary(t, w); !strings.HasPrefix(got, "0 pending operations, every resource once") {
		t.Errorf("state after the deploy: %s", got)
	}
	t.Logf("kill → cancel → up took %s", time.Since(began).Round(time.Second))
}

// pendingCreate reports whether the file backend's checkpoint holds a
// pending create of a resource whose URN ends with suffix.
func pendingCreate(checkpoint, suffix string) bool {
	b, err := os.ReadFile(checkpoint)
	if err != nil {
		return false
	}
	var cp struct {
		Checkpoint struct {
			Latest struct {
				Pending []struct {
					Type     string `json:"type"`
					Resource struct {
						URN string `json:"urn"`
					} `json:"resource"`
				} `json:"pending_operations"`
			} `json:"latest"`
		} `json:"checkpoint"`
	}
	if json.Unmarshal(b, &cp) != nil {
		return false // caught mid-write
	}
	for _, p := range cp.Checkpoint.Latest.Pending {
		if p.Type == "creating" && strings.HasSuffix(p.Resource.URN, suffix) {
			return true
		}
	}
	return false
}

// with returns env with one more variable.
func with(env map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for k, v := range env {
		out[k] = v
	}
	return out
}
