package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	serviceCIDR = "10.96.0.0/16"
	serviceIP   = "10.96.0.1" // first address of serviceCIDR: the "kubernetes" Service
	podCIDR     = "10.244.0.0/16"
	// advertiseIP is what kube-apiserver publishes as the endpoint of the
	// "kubernetes" Service. It must not be loopback (Endpoints validation
	// rejects 127/8) and nothing ever connects to it here (kwok's pods are
	// fake), so it is an address from TEST-NET-1 (RFC 5737).
	advertiseIP = "192.0.2.1"
	// fakeNodeAnnotation marks the nodes kwok manages.
	fakeNodeAnnotation = "kwok.x-k8s.io/node"
)

// upResult is printed as one JSON line on stdout once the cluster is ready,
// and written to <dir>/cluster.json.
type upResult struct {
	Dir        string         `json:"dir"`
	Kubeconfig string         `json:"kubeconfig"`
	Context    string         `json:"context"`
	Server     string         `json:"server"`
	NodeName   string         `json:"nodeName"`
	Pids       map[string]int `json:"pids"`
	// Seconds from `up` starting to /readyz answering ok (includes key
	// generation and etcd), and from then to the node being Ready and
	// untainted.
	APIServerReadySeconds float64 `json:"apiServerReadySeconds"`
	NodeReadySeconds      float64 `json:"nodeReadySeconds"`
}

type upOptions struct {
	dir      string
	context  string
	nodeName string
	timeout  time.Duration
	stopWait time.Duration
}

func up(args []string) int {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var o upOptions
	fs.StringVar(&o.dir, "dir", "", "directory for keys, kubeconfig, etcd data and logs (required)")
	fs.StringVar(&o.context, "context", "konductor-test", "cluster, context name in the kubeconfig")
	fs.StringVar(&o.nodeName, "node-name", "kwok-node-0", "name of the fake node")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "give up if the cluster is not ready within this time")
	fs.DurationVar(&o.stopWait, "stop-wait", 20*time.Second, "how long each process may take to exit after SIGTERM before SIGKILL")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: kube-cluster up --dir DIR [flags]

Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
(one fake node) on free 127.0.0.1 ports, waits until the node is Ready, prints
one JSON line (kubeconfig path, pids, timings) on stdout, and runs until
SIGTERM/SIGINT (or, with %s=1, until stdin closes). It then stops every
process in reverse order and waits for each to exit. Logs: DIR/logs/.

`, envWatchStdin)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.dir == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return fail(err)
	}
	o.dir = dir

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	watchParent(func() {
		logf("parent is gone (stdin closed): stopping")
		cancel()
	})

	start := time.Now()
	var c *cluster
	for attempt := 1; ; attempt++ {
		c, err = startCluster(ctx, o, start)
		if err == nil {
			break
		}
		if c != nil {
			c.stop(o.stopWait)
		}
		// Free ports are picked by binding :0 and releasing them; another
		// process can take one before our component binds it. Retry that.
		if errors.Is(err, errPortTaken) && attempt < 3 && ctx.Err() == nil {
			logf("attempt %d: %v: retrying with new ports", attempt, err)
			continue
		}
		return fail(err)
	}

	res := c.result
	b, _ := json.Marshal(res)
	if err := os.WriteFile(filepath.Join(o.dir, "cluster.json"), append(b, '\n'), 0o644); err != nil {
		c.stop(o.stopWait)
		return fail(err)
	}
	logf("ready: API server in %.1fs, node %s in %.1fs more; kubeconfig %s",
		res.APIServerReadySeconds, res.NodeName, res.NodeReadySeconds, res.Kubeconfig)
	if _, err := fmt.Fprintf(os.Stdout, "%s\n", b); err != nil {
		c.stop(o.stopWait)
		return fail(err)
	}

	code := 0
	select {
	case <-ctx.Done():
	case <-c.anyExit:
		logf("%s", c.exitError())
		code = 1
	}
	t := time.Now()
	c.stop(o.stopWait)
	logf("stopped in %.1fs", time.Since(t).Seconds())
	return code
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "kube-cluster up: "+format+"\n", a...)
}

func fail(err error) int {
	logf("%v", err)
	return 1
}

var errPortTaken = errors.New("a port was taken by someone else")

// proc is one child process.
type proc struct {
	name    string
	cmd     *exec.Cmd
	log     string
	stdin   *os.File // write end of the child's stdin: closing it makes the child exit
	done    chan struct{}
	waitErr error
}

type cluster struct {
	o       upOptions
	self    string
	pki     *pki
	procs   []*proc
	anyExit chan struct{} // closed when the first child exits
	once    sync.Once
	exited  *proc
	result  upResult
}

func startCluster(ctx context.Context, o upOptions, start time.Time) (*cluster, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &cluster{o: o, self: self, anyExit: make(chan struct{})}
	for _, d := range []string{"logs", "apiserver"} {
		if err := os.MkdirAll(filepath.Join(o.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	etcdData := filepath.Join(o.dir, "etcd")
	if err := os.RemoveAll(etcdData); err != nil {
		return nil, err
	}
	if c.pki, err = newPKI(filepath.Join(o.dir, "pki")); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, apiPort := ports[0], ports[1], ports[2]
	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)

	p := func(name string) string { return filepath.Join(o.dir, name) }
	kubeconfig := p("kubeconfig")
	if err := os.WriteFile(kubeconfig, c.kubeconfig(server), 0o600); err != nil {
		return nil, err
	}
	tokens := p("pki/tokens.csv")
	if err := os.WriteFile(tokens, fmt.Appendf(nil, "%s,admin,admin,\"system:masters\"\n", c.pki.Token), 0o600); err != nil {
		return nil, err
	}
	stages, err := kwokStages()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(p("kwok.yaml"), []byte(stages), 0o644); err != nil {
		return nil, err
	}

	etcdURL := func(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }
	if err := c.run("etcd",
		"--name=node0",
		"--data-dir="+etcdData,
		"--listen-client-urls="+etcdURL(etcdClient),
		"--advertise-client-urls="+etcdURL(etcdClient),
		"--listen-peer-urls="+etcdURL(etcdPeer),
		"--initial-advertise-peer-urls="+etcdURL(etcdPeer),
		"--initial-cluster=node0="+etcdURL(etcdPeer),
		"--unsafe-no-fsync",
		"--auto-compaction-retention=1",
		"--log-level=warn",
	); err != nil {
		return c, err
	}
	if err := c.waitFor(ctx, "etcd health", func(ctx context.Context) (bool, error) {
		return httpOK(ctx, etcdURL(etcdClient)+"/health")
	}); err != nil {
		return c, err
	}

	if err := c.run("kube-apiserver",
		"--etcd-servers="+etcdURL(etcdClient),
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(apiPort),
		"--advertise-address="+advertiseIP,
		"--cert-dir="+p("apiserver"),
		"--tls-cert-file="+c.pki.ServingCert,
		"--tls-private-key-file="+c.pki.ServeKey,
		"--client-ca-file="+c.pki.CACert,
		"--token-auth-file="+tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+c.pki.SAPub,
		"--service-account-signing-key-file="+c.pki.SAKey,
		"--service-cluster-ip-range="+serviceCIDR,
		"--allow-privileged=true",
		"--profiling=false",
	); err != nil {
		return c, err
	}
	cs, err := kubernetes.NewForConfig(&rest.Config{
		Host:            server,
		BearerToken:     c.pki.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.pki.caPEM},
		QPS:             100,
		Burst:           200,
	})
	if err != nil {
		return c, err
	}
	if err := c.waitFor(ctx, "kube-apiserver /readyz", func(ctx context.Context) (bool, error) {
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil, nil
	}); err != nil {
		return c, err
	}
	apiReady := time.Now()

	if err := c.run("kube-controller-manager",
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--root-ca-file="+c.pki.CACert,
		"--service-account-private-key-file="+c.pki.SAKey,
		"--cluster-signing-cert-file="+c.pki.CACert,
		"--cluster-signing-key-file="+c.pki.CAKey,
		"--service-cluster-ip-range="+serviceCIDR,
		"--kube-api-qps=1000",
		"--kube-api-burst=1000",
		"--profiling=false",
	); err != nil {
		return c, err
	}
	if err := c.run("kube-scheduler",
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
	); err != nil {
		return c, err
	}
	if err := c.run("kwok",
		"--kubeconfig="+kubeconfig,
		"--config="+p("kwok.yaml"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+fakeNodeAnnotation+"=fake",
		"--node-lease-duration-seconds=40",
		"--cidr="+podCIDR,
	); err != nil {
		return c, err
	}

	if err := c.createNode(ctx, cs); err != nil {
		return c, err
	}
	// Ready (set by kwok) and without the not-ready taint that the
	// TaintNodesByCondition admission plugin puts on every new node: only the
	// controller-manager's nodelifecycle controller removes it, so its absence
	// also proves that controller runs.
	if err := c.waitFor(ctx, "node "+o.nodeName+" Ready and untainted", func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, o.nodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return nodeUsable(n), nil
	}); err != nil {
		return c, err
	}
	// Pods need their namespace's default ServiceAccount (created by the
	// controller-manager) to be admitted.
	if err := c.waitFor(ctx, "ServiceAccount default/default", func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return c, err
	}
	nodeReady := time.Now()

	c.result = upResult{
		Dir:                   o.dir,
		Kubeconfig:            kubeconfig,
		Context:               o.context,
		Server:                server,
		NodeName:              o.nodeName,
		Pids:                  map[string]int{},
		APIServerReadySeconds: round(apiReady.Sub(start)),
		NodeReadySeconds:      round(nodeReady.Sub(apiReady)),
	}
	for _, pr := range c.procs {
		c.result.Pids[pr.name] = pr.cmd.Process.Pid
	}
	return c, nil
}

func round(d time.Duration) float64 {
	return float64(d.Round(10*time.Millisecond)) / float64(time.Second)
}

func nodeUsable(n *corev1.Node) bool {
	ready := false
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	for _, t := range n.Spec.Taints {
		if strings.HasPrefix(t.Key, "node.kubernetes.io/") {
			return false
		}
	}
	return ready
}

func (c *cluster) createNode(ctx context.Context, cs kubernetes.Interface) error {
	name := c.o.nodeName
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				fakeNodeAnnotation:             "fake",
				"node.alpha.kubernetes.io/ttl": "0",
			},
			Labels: map[string]string{
				"kubernetes.io/arch":            runtime.GOARCH,
				"kubernetes.io/os":              "linux",
				"kubernetes.io/hostname":        name,
				"kubernetes.io/role":            "agent",
				"node-role.kubernetes.io/agent": "",
				"type":                          "kwok",
			},
		},
		Status: corev1.NodeStatus{Capacity: res, Allocatable: res},
	}
	return c.waitFor(ctx, "creating node "+name, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return true, nil
		}
		logf("creating node %s: %v (retrying)", name, err)
		return false, nil
	})
}

func (c *cluster) kubeconfig(server string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
users:
- name: %[1]s-admin
  user:
    token: %[4]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[1]s-admin
current-context: %[1]s
`, c.o.context, server, base64.StdEncoding.EncodeToString(c.pki.caPEM), c.pki.Token)
}

// run starts `<self> <name> args...` with its output in logs/<name>.log.
func (c *cluster) run(name string, args ...string) error {
	logPath := filepath.Join(c.o.dir, "logs", name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "==== %s %s %s\n", time.Now().Format(time.RFC3339), name, strings.Join(args, " "))
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(c.self, append([]string{name}, args...)...)
	cmd.Dir = c.o.dir
	cmd.Stdin = r
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), envWatchStdin+"=1")
	// Own process group: a Ctrl-C in a terminal reaches only `up`, which then
	// stops the children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	pr := &proc{name: name, cmd: cmd, log: logPath, stdin: w, done: make(chan struct{})}
	c.procs = append(c.procs, pr)
	go func() {
		pr.waitErr = cmd.Wait()
		close(pr.done)
		c.once.Do(func() {
			c.exited = pr
			close(c.anyExit)
		})
	}()
	return nil
}

// exitError describes the first child that exited, with the end of its log.
func (c *cluster) exitError() error {
	pr := c.exited
	b, _ := os.ReadFile(pr.log)
	tail := string(b)
	if lines := strings.Split(strings.TrimRight(tail, "\n"), "\n"); len(lines) > 40 {
		tail = strings.Join(lines[len(lines)-40:], "\n")
	}
	err := fmt.Errorf("%s exited (%v); end of %s:\n%s", pr.name, pr.waitErr, pr.log, tail)
	if strings.Contains(string(b), "address already in use") {
		err = fmt.Errorf("%w: %w", errPortTaken, err)
	}
	return err
}

// waitFor polls cond every 100ms until it holds, ctx ends or a child exits.
func (c *cluster) waitFor(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := cond(callCtx)
		cancel()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (logs in %s)", what, ctx.Err(), filepath.Join(c.o.dir, "logs"))
		case <-c.anyExit:
			return fmt.Errorf("waiting for %s: %w", what, c.exitError())
		case <-tick.C:
		}
	}
}

// stop stops the children in reverse start order: SIGTERM, then SIGKILL
// after wait, and waits for each to exit.
func (c *cluster) stop(wait time.Duration) {
	for i := len(c.procs) - 1; i >= 0; i-- {
		pr := c.procs[i]
		select {
		case <-pr.done:
		default:
			_ = pr.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-pr.done:
			case <-time.After(wait):
				logf("%s (pid %d) did not exit %s after SIGTERM: killing it", pr.name, pr.cmd.Process.Pid, wait)
				_ = pr.cmd.Process.Kill()
				<-pr.done
			}
		}
		pr.stdin.Close()
	}
}

func httpOK(ctx context.Context, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, nil
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
