// Package kubecluster gives tests a real Kubernetes API server on loopback,
// with no Docker: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok (one fake node whose pods become Ready at once),
// all run from the kube-cluster binary that `make tools` builds from
// tools/kube-cluster and `make test` names in KONDUCTOR_KUBE_CLUSTER.
//
// kwok's pods are fake: their containers never run and nothing listens behind
// a Service, so webhooks served by in-cluster pods never answer.
package kubecluster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// EnvBinary names the kube-cluster binary; the Makefile exports it.
const EnvBinary = "KONDUCTOR_KUBE_CLUSTER"

// ContextName is the cluster, user and context name in Cluster.Kubeconfig.
const ContextName = "konductor-test"

const (
	startTimeout = 4 * time.Minute // `up` itself gives up after 3
	stopTimeout  = 2 * time.Minute // `up` allows each of its 5 processes 20s after SIGTERM
)

// Cluster is a running cluster; Start stops it when the test ends.
type Cluster struct {
	// Kubeconfig is the path of a kubeconfig whose current context
	// (ContextName) reaches the API server as an admin (group system:masters)
	// with a bearer token, verifying the server with the cluster's CA.
	Kubeconfig string
	Server     string // https://127.0.0.1:<port>
	NodeName   string // the one fake node (annotation kwok.x-k8s.io/node: fake)
	Dir        string // keys, etcd data and logs (Dir/logs/*.log, Dir/up.log)

	// Pids of the cluster's processes by name: etcd, kube-apiserver,
	// kube-controller-manager, kube-scheduler, kwok, and up (their parent).
	Pids map[string]int

	APIServerReady time.Duration // from starting to /readyz ok
	NodeReady      time.Duration // from then to the node being Ready and schedulable

	cmd      *exec.Cmd
	stdin    *os.File // write end of up's stdin: closing it makes up stop the cluster
	done     chan struct{}
	waitErr  error
	ready    bool
	stopOnce sync.Once
	stopErr  error
}

// upResult is the JSON line `kube-cluster up` prints once ready.
type upResult struct {
	Kubeconfig            string         `json:"kubeconfig"`
	Context               string         `json:"context"`
	Server                string         `json:"server"`
	NodeName              string         `json:"nodeName"`
	Pids                  map[string]int `json:"pids"`
	APIServerReadySeconds float64        `json:"apiServerReadySeconds"`
	NodeReadySeconds      float64        `json:"nodeReadySeconds"`
}

// Start starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler
// and kwok (one fake Ready node, annotation kwok.x-k8s.io/node: fake) on free
// 127.0.0.1 ports under t.TempDir(), waits until the API server is ready and
// the node is Ready, and registers a t.Cleanup that stops every process and
// waits for each to exit.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := os.Getenv(EnvBinary)
	if bin == "" {
		t.Fatalf("%s is not set: run the tests via `make test` (it builds the kube-cluster binary and exports its path)", EnvBinary)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s=%s: %v: run the tests via `make test` (it builds the binary)", EnvBinary, bin, err)
	}
	dir := t.TempDir()
	c, err := start(bin, dir)
	if c != nil {
		// Registered after t.TempDir, so it runs before the directory goes.
		t.Cleanup(func() {
			if err := c.Stop(); err != nil {
				t.Errorf("stopping the cluster: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("starting the cluster: %v", err)
	}
	t.Logf("kube-cluster: API server ready after %s, node %s Ready %s later (%s)",
		c.APIServerReady, c.NodeName, c.NodeReady, c.Server)
	return c
}

func start(bin, dir string) (*Cluster, error) {
	upLog, err := os.Create(filepath.Join(dir, "up.log"))
	if err != nil {
		return nil, err
	}
	defer upLog.Close()
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer stdinR.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		stdinW.Close()
		return nil, err
	}
	defer outW.Close()

	cmd := exec.Command(bin, "up", "--dir", dir, "--context", ContextName)
	cmd.Stdin = stdinR
	cmd.Stdout = outW
	cmd.Stderr = upLog
	// If this test process dies without cleaning up, up sees EOF on stdin
	// and stops the cluster.
	cmd.Env = append(os.Environ(), "KUBE_CLUSTER_EXIT_ON_STDIN_EOF=1")
	if err := cmd.Start(); err != nil {
		stdinW.Close()
		outR.Close()
		return nil, fmt.Errorf("starting %s up: %w", bin, err)
	}
	c := &Cluster{Dir: dir, cmd: cmd, stdin: stdinW, done: make(chan struct{}),
		Pids: map[string]int{"up": cmd.Process.Pid}}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()

	lines := make(chan string, 1)
	go func() {
		defer outR.Close()
		br := bufio.NewReader(outR)
		line, err := br.ReadString('\n')
		if err == nil {
			lines <- line
		}
		close(lines)
		_, _ = io.Copy(io.Discard, br) // never let up block on stdout
	}()

	var line string
	select {
	case l, ok := <-lines:
		if !ok {
			<-c.done
			return c, fmt.Errorf("kube-cluster up exited (%v) before the cluster was ready:\n%s", c.waitErr, tail(upLog.Name(), 40))
		}
		line = l
	case <-c.done:
		return c, fmt.Errorf("kube-cluster up exited (%v) before the cluster was ready:\n%s", c.waitErr, tail(upLog.Name(), 40))
	case <-time.After(startTimeout):
		return c, fmt.Errorf("cluster not ready after %s:\n%s", startTimeout, tail(upLog.Name(), 40))
	}

	var res upResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return c, fmt.Errorf("kube-cluster up printed %q: %w", line, err)
	}
	if res.Context != ContextName {
		return c, fmt.Errorf("kube-cluster up wrote context %q, want %q", res.Context, ContextName)
	}
	c.Kubeconfig = res.Kubeconfig
	c.Server = res.Server
	c.NodeName = res.NodeName
	for name, pid := range res.Pids {
		c.Pids[name] = pid
	}
	c.APIServerReady = time.Duration(res.APIServerReadySeconds * float64(time.Second))
	c.NodeReady = time.Duration(res.NodeReadySeconds * float64(time.Second))
	c.ready = true
	return c, nil
}

// Stop stops the cluster: SIGTERM to `up`, which stops its processes in
// reverse start order and waits for each; then it checks every pid is gone.
// Start's cleanup calls it; calling it earlier (to restart) is fine.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	var errs []error
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		errs = append(errs, fmt.Errorf("kube-cluster up (pid %d) did not stop within %s: killed it", c.cmd.Process.Pid, stopTimeout))
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.stdin.Close() // if up was killed, its children now see EOF and exit
	deadline := time.Now().Add(30 * time.Second)
	for name, pid := range c.Pids {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				errs = append(errs, fmt.Errorf("%s (pid %d) is still running", name, pid))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// up exits non-zero when one of its processes died on its own while the
	// cluster was up (a failed start has been reported by Start already).
	if c.ready && c.waitErr != nil && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("kube-cluster up: %v:\n%s", c.waitErr, tail(filepath.Join(c.Dir, "up.log"), 40)))
	}
	return errors.Join(errs...)
}

// processGone reports whether pid no longer runs (a zombie counts as gone:
// it is dead, only not yet reaped by whoever inherited it).
func processGone(pid int) bool {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// pid (comm) state ...: comm may hold spaces and parens.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
			return b[i+2] == 'Z'
		}
		return false
	} else if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Stat("/proc/self"); err == nil {
			return true
		}
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// RESTConfig loads Kubeconfig.
func (c *Cluster) RESTConfig(t testing.TB) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", c.Kubeconfig, err)
	}
	return cfg
}

// Client returns a clientset for the cluster, as its admin.
func (c *Cluster) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.RESTConfig(t))
	if err != nil {
		t.Fatalf("client for %s: %v", c.Server, err)
	}
	return cs
}

// Log returns the end of one process's log (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok, or up), for failure messages.
func (c *Cluster) Log(name string, lines int) string {
	p := filepath.Join(c.Dir, "logs", name+".log")
	if name == "up" {
		p = filepath.Join(c.Dir, "up.log")
	}
	return tail(p, lines)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
