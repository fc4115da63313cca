package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cancelCLI is a pulumi "binary" in root/bin that logs its arguments, its
// PATH and PULUMI_AUTOMATION_API, then each SIGINT it gets, and runs until
// killed, or until the first SIGINT when stopsOnInterrupt.
func cancelCLI(t *testing.T, root string, stopsOnInterrupt bool) (log string) {
	t.Helper()
	log = filepath.Join(t.TempDir(), "log")
	onInt := "echo INT >> " + log
	if stopsOnInterrupt {
		onInt += "; exit 1"
	}
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\ntrap '" + onInt + "' INT\n" +
		"echo \"$* PATH=$PATH AUTO=$PULUMI_AUTOMATION_API\" >> " + log + "\n" +
		"while :; do sleep 0.1; done\n"
	if err := os.WriteFile(filepath.Join(root, "bin", "pulumi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return log
}

// runCancelled runs c, cancels it once the CLI has started, and returns
// how long Run took after the cancel and the CLI's log.
func runCancelled(t *testing.T, c command, log string) (time.Duration, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := make(chan time.Time, 1)
	go func() {
		for {
			if b, _ := os.ReadFile(log); len(b) > 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancelled <- time.Now()
		cancel()
	}()
	_, _, code, err := c.Run(ctx, t.TempDir(), nil, nil, nil, nil, "up", "--yes")
	took := time.Since(<-cancelled)
	if err == nil || code == 0 {
		t.Errorf("a cancelled run: code %d, err %v", code, err)
	}
	b, _ := os.ReadFile(log)
	return took, string(b)
}

// A cancelled operation is stopped as Pulumi's ^C is: one interrupt for a
// CLI that stops on it; for one that does not, a second interrupt
// stopGrace later, then the kill, StopTimeout after the cancel in all.
func TestCommandStopsCancelledCLI(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	log := cancelCLI(t, root, true)
	c := newCommand(nil, root)
	took, got := runCancelled(t, c, log)
	if took > time.Second || strings.Count(got, "INT") != 1 {
		t.Errorf("a CLI that stops on the interrupt: Run returned %s after the cancel, log:\n%s", took, got)
	}
	bin := filepath.Join(root, "bin")
	if want := "--non-interactive up --yes PATH=" + bin + ":" + os.Getenv("PATH") + " AUTO=true\n"; !strings.HasPrefix(got, want) {
		t.Errorf("the CLI ran as\n%s\nwant as auto runs it\n%s", got, want)
	}

	deaf := t.TempDir()
	log = cancelCLI(t, deaf, false)
	took, got = runCancelled(t, newCommand(nil, deaf), log)
	t.Logf("a CLI deaf to interrupts: Run returned %s after the cancel", took.Round(10*time.Millisecond))
	if took < StopTimeout-500*time.Millisecond || took > StopTimeout+2*time.Second || strings.Count(got, "INT") != 2 {
		t.Errorf("a CLI deaf to interrupts: Run returned %s after the cancel (want about %s), log:\n%s", took, StopTimeout, got)
	}
}
