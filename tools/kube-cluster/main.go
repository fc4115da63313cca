// Command kube-cluster is one binary holding every process of a small, real
// Kubernetes control plane for tests: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok (fake nodes and pods). The
// first argument selects the program; `up` starts them all as child processes
// of itself (see up.go).
//
// It is built from Go modules by the repository's Makefile (`make tools`), so
// no container runtime and no downloaded release binaries are needed.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"

	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream mains register it
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream mains register them
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream mains register it
	_ "time/tzdata"                                       // CronJob time zones, as upstream mains embed them

	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

const usage = `usage: kube-cluster <program> [flags]

programs:
  up                       start a whole cluster and wait for SIGTERM/SIGINT (kube-cluster up -h)
  etcd                     go.etcd.io/etcd/server/v3/etcdmain
  kube-apiserver           k8s.io/kubernetes/cmd/kube-apiserver
  kube-controller-manager  k8s.io/kubernetes/cmd/kube-controller-manager
  kube-scheduler           k8s.io/kubernetes/cmd/kube-scheduler
  kwok                     sigs.k8s.io/kwok/cmd/kwok
  kwok-stages              print the kwok Stage config that up uses
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	prog := os.Args[1]
	// Every upstream main reads os.Args itself (cobra, pflag, kwok's config
	// flags): make it look as if the program had been started by its own name.
	os.Args = append([]string{prog}, os.Args[2:]...)

	if prog == "up" {
		os.Exit(up(os.Args[1:]))
	}
	watchParent(func() {
		fmt.Fprintln(os.Stderr, "kube-cluster: parent is gone (stdin closed), exiting")
		os.Exit(3)
	})
	switch prog {
	case "etcd":
		etcdmain.Main(os.Args)
	case "kube-apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "kube-controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "kube-scheduler":
		os.Exit(cli.Run(scheduler.NewSchedulerCommand()))
	case "kwok":
		// Kubernetes packages register flags (among them --version) on the
		// global pflag set, which cobra merges into kwok's own command and
		// which then clash with kwok's --version.
		pflag.CommandLine = pflag.NewFlagSet(prog, pflag.ExitOnError)
		kwokMain()
	case "kwok-stages":
		s, err := kwokStages()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Print(s)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "kube-cluster: unknown program %q\n\n%s", prog, usage)
		os.Exit(2)
	}
}

// envWatchStdin, set to 1 by whoever starts a program, makes the program
// call watchParent's gone function when its stdin reaches EOF.
const envWatchStdin = "KUBE_CLUSTER_EXIT_ON_STDIN_EOF"

// watchParent lets a process notice that its parent went away, however it
// went away (even SIGKILL): the parent hands the child the read end of a pipe
// as stdin and never writes to it, so EOF (or any read error) means the
// parent and its write end are gone. `up` starts every child this way, and
// test/kubecluster starts `up` this way, so a killed test leaks no processes.
func watchParent(gone func()) {
	if os.Getenv(envWatchStdin) != "1" {
		return
	}
	os.Unsetenv(envWatchStdin)
	go func() {
		var b [512]byte
		for {
			if _, err := os.Stdin.Read(b[:]); err != nil {
				gone()
				return
			}
		}
	}()
}
