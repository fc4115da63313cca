package dist_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// stage is one FROM … AS name stage of the Dockerfile: its instructions,
// continuation lines joined, comments dropped.
type stage struct {
	name  string
	instr []string
}

func dockerfile(t *testing.T) []stage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var cur string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") || (l == "" && cur == "") {
			continue
		}
		cur += " " + strings.TrimSuffix(l, "\\")
		if strings.HasSuffix(l, "\\") {
			continue
		}
		in := strings.Join(strings.Fields(cur), " ")
		cur = ""
		if strings.HasPrefix(in, "FROM ") {
			f := strings.Fields(in)
			name := ""
			if len(f) > 2 && strings.EqualFold(f[len(f)-2], "AS") {
				name = f[len(f)-1]
			}
			stages = append(stages, stage{name: name})
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].instr = append(stages[len(stages)-1].instr, in)
		}
	}
	return stages
}

// The image ships the tree this package runs: following the final stage's
// COPY --from back leads to the stage that runs `make dist`, and the entry
// point is that tree's bin/konductor action, run as root (no USER).
var (
	copyRE = regexp.MustCompile(`^COPY --from=(\S+) (\S+?)/? (\S+?)/?$`)
	makeRE = regexp.MustCompile(`^RUN make dist .*\bDIST=(\S+)`)
)

// fromMakeDist follows the final stage's COPY --from back, stage by stage,
// to the stage whose `make dist` wrote what is copied, and returns where the
// final stage installs it.
func fromMakeDist(final stage, byName map[string]stage) (string, error) {
	installed, dir, from := "", "", final
	for range len(byName) + 1 {
		var next *stage
		for _, in := range from.instr {
			m := copyRE.FindStringSubmatch(in)
			if m == nil || (dir != "" && m[3] != dir) {
				continue
			}
			if installed == "" {
				installed = m[3]
			}
			s, ok := byName[m[1]]
			if !ok {
				return "", fmt.Errorf("COPY --from=%s: no such stage", m[1])
			}
			next, dir = &s, m[2]
			break
		}
		if next == nil {
			break
		}
		from = *next
		for _, in := range from.instr {
			if m := makeRE.FindStringSubmatch(in); m != nil && m[1] == dir {
				return installed, nil
			}
		}
	}
	return "", fmt.Errorf("the final stage's files do not come from a stage running `make dist` (last: stage %q, dir %q)", from.name, dir)
}

func TestDockerfileShipsTheTestedTree(t *testing.T) {
	stages := dockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a multi-stage build", len(stages))
	}
	byName := map[string]stage{}
	for _, s := range stages {
		byName[s.name] = s
	}
	final := stages[len(stages)-1]
	var entry string
	for _, in := range final.instr {
		if strings.HasPrefix(in, "ENTRYPOINT ") {
			entry = strings.TrimPrefix(in, "ENTRYPOINT ")
		}
	}
	installed, err := fromMakeDist(final, byName)
	if err != nil {
		t.Fatal(err)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entry), &ep); err != nil {
		t.Fatalf("ENTRYPOINT %s is not the exec form: %v", entry, err)
	}
	if want := []string{installed + "/bin/konductor", "action"}; strings.Join(ep, " ") != strings.Join(want, " ") {
		t.Errorf("ENTRYPOINT %q, want %q (the tree is installed at %s)", ep, want, installed)
	}
}

// GitHub's docs: a Docker container action must run as the default Docker
// user (root) and must not use USER, or it cannot write GITHUB_WORKSPACE and
// the file commands on runners whose uid is not the image's (self-hosted,
// GHES, actions-runner-controller). The final stage is what runs; the
// Dockerfile says why there is no USER, so no one adds one back.
func TestDockerfileRunsAsRoot(t *testing.T) {
	stages := dockerfile(t)
	if len(stages) == 0 {
		t.Fatal("Dockerfile has no stage")
	}
	for _, in := range stages[len(stages)-1].instr {
		if strings.HasPrefix(strings.ToUpper(in), "USER ") {
			t.Errorf("the final stage has %q: GitHub runs Docker container actions as root", in)
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var comment []string
	for _, l := range strings.Split(string(b), "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(l), "#"); ok {
			comment = append(comment, c)
			continue
		}
		if why := strings.Join(comment, " "); strings.Contains(why, "No USER") {
			for _, w := range []string{"root", "GITHUB_WORKSPACE", "docs.github.com/"} {
				if !strings.Contains(why, w) {
					t.Errorf("the Dockerfile's comment on USER lacks %q:\n%s", w, why)
				}
			}
			return
		}
		comment = nil
	}
	t.Error(`the Dockerfile has no comment saying why there is no USER ("# No USER: …", citing GitHub's docs)`)
}
