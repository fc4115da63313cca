package engine

// This file runs the Pulumi CLI for the Automation API as auto's own
// command does, except for how a cancelled operation is stopped.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// How a cancelled operation's CLI is stopped. The first interrupt asks the
// engine to cancel: it starts nothing more and asks each provider to cancel
// what it is doing (the kubernetes provider stops awaiting at once), then
// records the outcome and releases the stack's lock. An engine still busy
// stopGrace later, say with a provider that ignores the request, is
// interrupted again, as Pulumi's own second ^C does: it terminates, leaving
// what was in flight as pending operations in the state, and still releases
// the lock. A CLI still running terminateGrace after that is killed.
//
// So an operation returns at most StopTimeout after its context is done,
// whatever the engine is doing. auto's own command interrupts once and
// kills 10 s later, which is when GitHub kills a cancelled step (SIGINT,
// SIGTERM 7.5 s later, the kill 2.5 s after that): the action would be
// killed waiting, with nothing reported. With StopTimeout it reports the
// cancelled stacks before its reporting deadline (7 s after the signal).
// konductor ships for Linux (and runs on macOS); where a process cannot be
// interrupted (Windows), the CLI is killed at once.
const (
	stopGrace      = 3 * time.Second
	terminateGrace = 2 * time.Second
	StopTimeout    = stopGrace + terminateGrace
)

// command is the pinned CLI as auto.PulumiCommand; its Version is the
// resolved CLI's.
type command struct {
	auto.PulumiCommand
	bin string // <root>/bin/pulumi, or pulumi on PATH
}

func newCommand(cli auto.PulumiCommand, root string) command {
	bin := "pulumi"
	if root != "" {
		bin = filepath.Join(root, "bin", "pulumi")
	}
	return command{PulumiCommand: cli, bin: bin}
}

// Run runs the CLI as auto's pulumiCommand.Run (sdk v3.274.1) does: the
// same arguments, environment, streams and exit code; a cancelled run is
// stopped as described at StopTimeout.
func (c command) Run(ctx context.Context, workdir string, stdin io.Reader, stdout, stderr []io.Writer, env []string, args ...string) (string, string, int, error) {
	flags := args
	if i := slices.Index(args, "--"); i >= 0 {
		flags = args[:i]
	}
	if !slices.Contains(flags, "--non-interactive") {
		args = append([]string{"--non-interactive"}, args...)
	}
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = workdir
	cmd.Env = append(append(os.Environ(), env...), "PULUMI_AUTOMATION_API=true")
	if filepath.IsAbs(c.bin) {
		cmd.Env = pathFirst(cmd.Env, filepath.Dir(c.bin))
	}
	var out, errOut bytes.Buffer
	cmd.Stdout = io.MultiWriter(append(slices.Clone(stdout), &out)...)
	cmd.Stderr = io.MultiWriter(append(slices.Clone(stderr), &errOut)...)
	cmd.Stdin = stdin
	cmd.Cancel = func() error {
		p := cmd.Process
		if err := p.Signal(os.Interrupt); err != nil {
			_ = p.Kill()
			return nil
		}
		// Once it has exited the signal fails harmlessly: the process is
		// known to be done, its pid never reused for another.
		time.AfterFunc(stopGrace, func() { _ = p.Signal(os.Interrupt) })
		return nil
	}
	// Counted from the cancel: then the CLI is killed and its output
	// pipes closed, even if a plugin it started still holds them.
	cmd.WaitDelay = StopTimeout
	err := cmd.Run()
	code := -2 // auto's unknown exit code
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err == nil:
		code = 0
	}
	return out.String(), errOut.String(), code, err
}

// pathFirst puts dir first in the environment's first PATH entry, as auto
// does, so the CLI finds the tools installed next to it.
func pathFirst(env []string, dir string) []string {
	env = slices.Clone(env)
	for i, kv := range env {
		if len(kv) >= 5 && strings.EqualFold(kv[:5], "PATH=") {
			if kv[5:] == "" {
				env[i] = kv[:5] + dir
			} else {
				env[i] = kv[:5] + dir + string(os.PathListSeparator) + kv[5:]
			}
			return env
		}
	}
	return append(env, "PATH="+dir)
}
