// Command coldstart measures the install tree (`make dist`): its size, and
// how long `konductor action` takes from process start to its first engine
// call, as a GitHub container action step would run it (a fresh HOME, the
// image's PATH, GITHUB_* and INPUT_*), median over several runs.
//
// The first engine call is the first exec of bin/pulumi (engine.New runs
// `pulumi version`). To see it, the tree is copied (hard links) with
// bin/pulumi replaced by a wrapper that stamps the time and execs the real
// CLI; the wrapper's own cost (a shell and date, ~1-2 ms) is included.
//
//	go run ./scripts/coldstart -dist dist -runs 9
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	dist := flag.String("dist", "dist", "the install tree")
	runs := flag.Int("runs", 9, "runs to take the median of")
	flag.Parse()
	if err := run(*dist, *runs); err != nil {
		slog.Error("coldstart", "err", err)
		os.Exit(1)
	}
}

func run(dist string, runs int) error {
	dist, err := filepath.Abs(dist)
	if err != nil {
		return err
	}
	total, parts, err := size(dist)
	if err != nil {
		return err
	}
	fmt.Printf("dist tree %s: %s\n", dist, mib(total))
	for _, p := range parts {
		fmt.Printf("  %-40s %s\n", p.name, mib(p.size))
	}

	tmp, err := os.MkdirTemp("", "konductor-coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	if err := linkTree(dist, tree); err != nil {
		return err
	}
	real := filepath.Join(tree, "bin", "pulumi.real")
	if err := os.Rename(filepath.Join(tree, "bin", "pulumi"), real); err != nil {
		return err
	}
	stamp := filepath.Join(tmp, "stamp")
	wrapper := "#!/bin/sh\ndate +%s%N >> " + stamp + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(tree, "bin", "pulumi"), []byte(wrapper), 0o755); err != nil {
		return err
	}

	var first, whole []time.Duration
	for i := range runs {
		ws := filepath.Join(tmp, fmt.Sprintf("ws%d", i))
		if err := workspace(ws); err != nil {
			return err
		}
		_ = os.Remove(stamp)
		cmd := exec.Command(filepath.Join(tree, "bin", "konductor"), "action")
		cmd.Dir = ws
		cmd.Env = []string{
			"HOME=" + filepath.Join(ws, ".home"),
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"GITHUB_ACTIONS=true", "GITHUB_EVENT_NAME=workflow_dispatch",
			"GITHUB_EVENT_PATH=" + filepath.Join(ws, ".event.json"),
			"GITHUB_REPOSITORY=acme/platform", "GITHUB_SHA=ec26c3e57ca3a959ca5aad62de7213c562f8c821",
			"GITHUB_REF=refs/heads/main", "GITHUB_WORKSPACE=" + ws,
			"GITHUB_STEP_SUMMARY=" + filepath.Join(ws, ".summary"), "GITHUB_OUTPUT=" + filepath.Join(ws, ".output"),
			"INPUT_COMMAND=preview", "INPUT_STACKS=dev", "INPUT_WORK-DIR=.", "INPUT_COMMENT-ON-PR=true",
			"INPUT_FAIL-ON-POLICY=true", "INPUT_ALLOW-FORK-PREVIEWS=false",
		}
		start := time.Now()
		out, err := cmd.CombinedOutput()
		end := time.Since(start)
		if err != nil {
			return fmt.Errorf("run %d: %v\n%s", i, err, out)
		}
		b, err := os.ReadFile(stamp)
		if err != nil {
			return fmt.Errorf("run %d: pulumi was never called: %v", i, err)
		}
		ns, err := strconv.ParseInt(strings.SplitN(string(b), "\n", 2)[0], 10, 64)
		if err != nil {
			return err
		}
		first = append(first, time.Unix(0, ns).Sub(start))
		whole = append(whole, end)
	}
	fmt.Printf("konductor action, %d runs: start → first engine call median %s (min %s, max %s); whole preview median %s\n",
		runs, median(first).Round(time.Millisecond), slices.Min(first).Round(time.Millisecond), slices.Max(first).Round(time.Millisecond),
		median(whole).Round(time.Millisecond))
	return nil
}

// workspace is a repository checkout with one stack using the kubernetes
// module in render mode, and a workflow_dispatch event.
func workspace(dir string) error {
	files := map[string]string{
		"Pulumi.yaml":     "name: app\nruntime: go\n",
		"Pulumi.dev.yaml": "config:\n  app:kubernetes:\n    enabled: true\n    render_dir: rendered\n    namespaces:\n      - name: apps\n",
		".event.json":     `{"inputs": {}, "ref": "refs/heads/main"}`,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

type part struct {
	name string
	size int64
}

// size sums the regular files under dir, each once.
func size(dir string) (int64, []part, error) {
	var total int64
	var parts []part
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		parts = append(parts, part{rel, fi.Size()})
		total += fi.Size()
		return nil
	})
	return total, parts, err
}

// linkTree recreates src at dst with hard links (copies across devices).
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if err := os.Link(p, target); err == nil {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o755)
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
