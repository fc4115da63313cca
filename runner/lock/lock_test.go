package lock_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"

	"github.com/containercraft/konductor-action/runner/lock"
	"github.com/containercraft/konductor-action/test/backends"
)

var now = time.Date(2026, 11, 30, 14, 55, 7, 0, time.UTC)

// writeLock writes a lock as the Pulumi CLI does (diy/lock.go).
func writeLock(t *testing.T, state, project, stack, id, content string) {
	t.Helper()
	dir := filepath.Join(state, ".pulumi", "locks", "organization", project, stack)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+".json"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDescribeNamesHolderAndAge(t *testing.T) {
	l := lock.Lock{PID: 4242, User: "runner", Host: "fv-az12", Time: now.Add(-14*time.Minute - 3*time.Second)}
	if got, want := l.Describe(now), "runner@fv-az12 (pid 4242) since 2026-11-30T14:41:04Z, 14m ago"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	for d, want := range map[time.Duration]string{
		42 * time.Second: "42s", 2*time.Hour + 5*time.Minute: "2h5m", 3 * time.Hour: "3h",
		(3*24 + 4) * time.Hour: "3d4h", 48 * time.Hour: "2d",
	} {
		if got := lock.Ago(d); got != want {
			t.Errorf("Ago(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"0s": 0, "90m": 90 * time.Minute, "1h": time.Hour, "2d": 48 * time.Hour, " 6h ": 6 * time.Hour} {
		if got, err := lock.ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "-1h", "1 hour", "d"} {
		if _, err := lock.ParseAge(in); err == nil || !strings.Contains(err.Error(), "is not a lock age") {
			t.Errorf("ParseAge(%q) = %v, want a lock-age error", in, err)
		}
	}
}

// A file backend's locks are read where the CLI writes them, oldest first,
// an unreadable one is still listed (by its file's time), and Remove
// deletes exactly the one named.
func TestFileBackendLocks(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	url := "file://" + state
	if ls, err := lock.Read(ctx, url, "app", "dev"); err != nil || len(ls) != 0 {
		t.Fatalf("no locks: got %v, %v", ls, err)
	}
	writeLock(t, state, "app", "dev", "b", `{"pid":7,"username":"runner","hostname":"fv-az12","timestamp":"2026-11-30T14:41:04Z"}`)
	writeLock(t, state, "app", "dev", "a", `{"pid":9,"username":"alice","hostname":"laptop","timestamp":"2026-11-30T12:00:00Z"}`)
	writeLock(t, state, "app", "dev", "c", `not json`)
	writeLock(t, state, "app", "prod", "d", `{"pid":1,"username":"x","hostname":"y","timestamp":"2026-11-30T12:00:00Z"}`)

	s, err := lock.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ls, err := s.List(ctx, "app", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 3 {
		t.Fatalf("locks = %+v, want 3", ls)
	}
	if ls[0].Holder() != "alice@laptop (pid 9)" || ls[1].Holder() != "runner@fv-az12 (pid 7)" {
		t.Errorf("not oldest first: %+v", ls)
	}
	if !ls[2].Unreadable || ls[2].Time.IsZero() || !strings.Contains(ls[2].Holder(), "unreadable lock (c.json)") {
		t.Errorf("unreadable lock = %+v", ls[2])
	}
	if err := s.Remove(ctx, ls[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, ls[0]); err != nil {
		t.Errorf("removing a lock already gone: %v", err)
	}
	if ls, _ := s.List(ctx, "app", "dev"); len(ls) != 2 {
		t.Errorf("after Remove: %+v", ls)
	}
	if ls, _ := s.List(ctx, "app", "prod"); len(ls) != 1 {
		t.Errorf("another stack's lock: %+v", ls)
	}
}

func TestSupported(t *testing.T) {
	for u, want := range map[string]bool{
		"file:///tmp/x": true, "s3://b?region=us-east-1": true, "azblob://c": true, "gs://b": true,
		"https://api.pulumi.com": false, "": false,
	} {
		if got := lock.Supported(u); got != want {
			t.Errorf("Supported(%q) = %v", u, got)
		}
	}
}

// The same on real S3 and Azure Blob services (s3rver, azurite on
// loopback): the lock the CLI writes is read through the bucket, with the
// backend URL and credentials exactly as the CLI is given them.
func TestBlobBackendLocks(t *testing.T) {
	for name, start := range map[string]func(testing.TB) map[string]string{"s3": backends.S3, "azblob": backends.AzureBlob} {
		t.Run(name, func(t *testing.T) {
			env := start(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			ctx := context.Background()
			url := env["PULUMI_BACKEND_URL"]
			b, err := blob.OpenBucket(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			key := ".pulumi/locks/organization/app/dev/5f0c.json"
			if err := b.WriteAll(ctx, key, []byte(`{"pid":7,"username":"runner","hostname":"fv-az12","timestamp":"2026-11-30T14:41:04Z"}`), nil); err != nil {
				t.Fatal(err)
			}
			ls, err := lock.Read(ctx, url, "app", "dev")
			if err != nil || len(ls) != 1 || ls[0].Describe(now) != "runner@fv-az12 (pid 7) since 2026-11-30T14:41:04Z, 14m ago" {
				t.Fatalf("locks = %+v, %v", ls, err)
			}
			s, err := lock.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Remove(ctx, ls[0]); err != nil {
				t.Fatal(err)
			}
			if keys := backends.Keys(t, env); slices.Contains(keys, key) {
				t.Errorf("the lock is still in the bucket: %v", keys)
			}
		})
	}
}
