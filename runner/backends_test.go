package runner_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/test/backends"
	"github.com/containercraft/konductor-action/test/testenv"
)

// TestLifecycleS3 runs the lifecycle with its state in a real S3 API
// (s3rver on loopback).
func TestLifecycleS3(t *testing.T) {
	lifecycleOn(t, backends.S3(t))
}

// TestLifecycleAzureBlob runs the lifecycle with its state in a real Azure
// Blob API (azurite on loopback).
func TestLifecycleAzureBlob(t *testing.T) {
	lifecycleOn(t, backends.AzureBlob(t))
}

// lifecycleOn runs Cycle against the backend env points at, then checks the
// state went there, through the storage API, and not to the embedded
// file backend under the work dir.
func lifecycleOn(t *testing.T, env map[string]string) {
	t.Helper()
	if keys := backends.Keys(t, env); len(keys) != 0 {
		t.Fatalf("backend not empty before the run: %v", keys)
	}
	dir := testenv.Project(t, "app", "dev", stackV1)
	environ := testenv.Environ(t, env)
	Cycle(t, newRunner(t, environ), dir)

	keys := backends.Keys(t, env)
	t.Logf("objects in %s:\n  %s", env["PULUMI_BACKEND_URL"], strings.Join(keys, "\n  "))
	const stateKey = ".pulumi/stacks/app/dev.json"
	if !slices.Contains(keys, stateKey) {
		t.Errorf("backend lacks %s; objects: %v", stateKey, keys)
	}
	// Two ups and a destroy each leave an update record in the history.
	var history int
	for _, k := range keys {
		if strings.HasPrefix(k, ".pulumi/history/app/dev/") && strings.HasSuffix(k, ".history.json") {
			history++
		}
	}
	if history != 3 {
		t.Errorf("backend holds %d update history records, want 3 (up, up, destroy); objects: %v", history, keys)
	}
	if _, err := os.Stat(filepath.Join(dir, engine.LocalStateDir)); !os.IsNotExist(err) {
		t.Errorf("%s exists (err %v): the embedded file backend was used alongside %s", engine.LocalStateDir, err, env["PULUMI_BACKEND_URL"])
	}
}
