package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	baselineOnce sync.Once
	baselineBin  string
	baselineErr  error
)

// BaselinePack builds the konductor-baseline policy pack once per test
// process and returns its path.
func BaselinePack(t testing.TB) string {
	t.Helper()
	baselineOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "konductor-baseline-")
		if err != nil {
			baselineErr = err
			return
		}
		baselineBin = filepath.Join(dir, "konductor-baseline")
		cmd := exec.Command("go", "build", "-o", baselineBin, "./policies/baseline")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			baselineErr = &buildError{err: err, out: string(out)}
		}
	})
	if baselineErr != nil {
		t.Fatalf("building the baseline pack: %v", baselineErr)
	}
	return baselineBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }
