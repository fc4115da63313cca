// Package lock names and clears the update locks a self-managed Pulumi
// backend (file://, s3://, azblob://, gs://) keeps for a stack. The Pulumi
// CLI writes one JSON object per running update under
// .pulumi/locks/organization/<project>/<stack>/ (pid, user, host, time) and
// deletes it when the update ends; a killed update leaves it behind, and
// every later update of the stack then refuses to start. Reading the lock
// names who holds it and since when; Remove clears one a person judged
// stale. The bucket is opened with gocloud.dev/blob, the library the CLI
// itself uses, at the CLI's own version, so every backend the CLI reaches
// is reached the same way.
package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob" // file://
	_ "gocloud.dev/blob/gcsblob"  // gs://
	_ "gocloud.dev/blob/s3blob"   // s3://
	"gocloud.dev/gcerrors"
)

// DefaultStaleAfter is the age from which a lock is taken for stale: its
// update was most likely killed. It is six times the action's wait for a
// lock (10 minutes) and longer than any update of the built-in modules
// takes (an EKS or AKS cluster, the slowest, is created in about 20
// minutes), yet short enough that a killed deploy is cleared the same
// morning. Teams whose updates run longer raise it (--older-than).
const DefaultStaleAfter = time.Hour

// Lock is one update's lock on a stack.
type Lock struct {
	// Key is the lock object's key in the backend.
	Key  string    `json:"key"`
	PID  int       `json:"pid"`
	User string    `json:"username"`
	Host string    `json:"hostname"`
	Time time.Time `json:"timestamp"`
	// Unreadable is set when the object holds no lock the CLI wrote; Time
	// is then the object's modification time.
	Unreadable bool `json:"unreadable,omitempty"`
}

// Holder names the process that holds the lock: user@host (pid N).
func (l Lock) Holder() string {
	if l.Unreadable {
		return "an unreadable lock (" + path.Base(l.Key) + ")"
	}
	return fmt.Sprintf("%s@%s (pid %d)", l.User, l.Host, l.PID)
}

// Age is how long the lock has been held at now.
func (l Lock) Age(now time.Time) time.Duration { return max(now.Sub(l.Time), 0) }

// Describe says who holds the lock and since when:
// "runner@fv-az12 (pid 4242) since 2026-11-30T14:41:07Z, 14m ago".
func (l Lock) Describe(now time.Time) string {
	if l.Time.IsZero() {
		return l.Holder()
	}
	return fmt.Sprintf("%s since %s, %s ago", l.Holder(), l.Time.UTC().Format(time.RFC3339), Ago(l.Age(now)))
}

// Ago renders a lock's age for people: 42s, 14m, 2h5m, 3d4h.
func Ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return strconv.Itoa(days) + "d"
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

// ParseAge parses a lock age as the user writes it: a Go duration (90m,
// 1h, 0s) or a number of days (2d). Negative ages are refused.
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && !strings.ContainsAny(n, "hms") {
		var days float64
		days, err = strconv.ParseFloat(n, 64)
		d = time.Duration(days * float64(24*time.Hour))
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a lock age: write a duration such as 30m, 1h, 6h or 2d (0s: any lock)", s)
	}
	return d, nil
}

// Supported reports whether the backend URL is a self-managed backend
// whose locks this package reads; Pulumi Cloud's are the service's own.
func Supported(backendURL string) bool {
	u, err := url.Parse(backendURL)
	if err != nil {
		return false
	}
	return blob.DefaultURLMux().ValidBucketScheme(u.Scheme)
}

// Store is a self-managed backend's bucket.
type Store struct {
	bucket *blob.Bucket
}

// Open opens the backend's bucket with the credentials of the process's
// environment, as the Pulumi CLI does (AWS_*, AZURE_STORAGE_*,
// GOOGLE_APPLICATION_CREDENTIALS).
func Open(ctx context.Context, backendURL string) (*Store, error) {
	u, err := bucketURL(backendURL)
	if err != nil {
		return nil, err
	}
	p, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	mux := blob.DefaultURLMux()
	if p.Scheme == azureblob.Scheme {
		// As the CLI does: the default opener refuses a SAS token with a
		// storage_account override; the URL is the user's own, not input
		// from elsewhere.
		mux = &blob.URLMux{}
		mux.RegisterBucket(azureblob.Scheme, &azureblob.URLOpener{
			MakeClient:        azureblob.NewDefaultClient,
			ServiceURLOptions: *azureblob.NewDefaultServiceURLOptions(),
		})
	}
	b, err := mux.OpenBucket(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("opening the state backend to read its locks: %w", err)
	}
	if p.Scheme != "file" {
		// A path after the bucket name is a prefix inside it.
		if sub := strings.TrimLeft(p.Path, "/"); sub != "" {
			b = blob.PrefixedBucket(b, strings.TrimSuffix(sub, "/")+"/")
		}
	}
	return &Store{bucket: b}, nil
}

// bucketURL turns a backend URL into the URL gocloud opens, as the CLI's
// massageBlobPath does: file:// made absolute and kept out of the temp
// dir, s3:// parameters of the AWS SDK v1 era translated.
func bucketURL(backendURL string) (string, error) {
	u, err := url.Parse(backendURL)
	if err != nil {
		return "", fmt.Errorf("backend URL: %w", err)
	}
	q := u.Query()
	switch u.Scheme {
	case "file":
		dir := strings.TrimPrefix(strings.SplitN(backendURL, "?", 2)[0], "file://")
		if strings.HasPrefix(dir, "~") {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			dir = home + strings.TrimPrefix(dir, "~")
		}
		if !path.IsAbs(dir) {
			wd, err := os.Getwd()
			if err != nil {
				return "", err
			}
			dir = path.Join(wd, dir)
		}
		if q.Get("no_tmp_dir") == "" {
			q.Set("no_tmp_dir", "true")
		}
		return "file://" + dir + "?" + q.Encode(), nil
	case "s3":
		if v, ok := q["disableSSL"]; ok {
			off, _ := strconv.ParseBool(v[len(v)-1])
			q.Del("disableSSL")
			ep := q.Get("endpoint")
			if ep != "" && !strings.Contains(ep, "://") {
				scheme := "https"
				if off {
					scheme = "http"
				}
				q.Set("endpoint", scheme+"://"+ep)
			}
		} else if ep := q.Get("endpoint"); ep != "" && !strings.Contains(ep, "://") {
			q.Set("endpoint", "https://"+ep)
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return backendURL, nil
}

// Close closes the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// dirs are where the CLI keeps a stack's locks: the project layout
// (every store created since v3.61) and the legacy one, whose stack names
// have no project.
func dirs(project, stack string) []string {
	return []string{
		".pulumi/locks/organization/" + project + "/" + stack + "/",
		".pulumi/locks/" + stack + "/",
	}
}

// List returns the stack's locks, oldest first.
func (s *Store) List(ctx context.Context, project, stack string) ([]Lock, error) {
	var out []Lock
	for _, dir := range dirs(project, stack) {
		it := s.bucket.List(&blob.ListOptions{Prefix: dir, Delimiter: "/"})
		for {
			obj, err := it.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("listing the stack's locks: %w", err)
			}
			if obj.IsDir || !strings.HasSuffix(obj.Key, ".json") {
				continue
			}
			l := Lock{Key: obj.Key}
			data, err := s.bucket.ReadAll(ctx, obj.Key)
			if gcerrors.Code(err) == gcerrors.NotFound {
				continue // released while we listed
			}
			if err != nil {
				return nil, fmt.Errorf("reading lock %s: %w", obj.Key, err)
			}
			if json.Unmarshal(data, &l) != nil || l.Time.IsZero() {
				l = Lock{Key: obj.Key, Unreadable: true}
			}
			l.Key = obj.Key
			if l.Time.IsZero() {
				l.Time = obj.ModTime
			}
			out = append(out, l)
		}
	}
	slices.SortStableFunc(out, func(a, b Lock) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Remove deletes one lock; a lock already gone is not an error.
func (s *Store) Remove(ctx context.Context, l Lock) error {
	err := s.bucket.Delete(ctx, l.Key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("removing lock %s: %w", l.Key, err)
	}
	return nil
}

// Read opens the backend, lists the stack's locks and closes it.
func Read(ctx context.Context, backendURL, project, stack string) ([]Lock, error) {
	if !Supported(backendURL) {
		return nil, ErrUnsupported
	}
	s, err := Open(ctx, backendURL)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.List(ctx, project, stack)
}

// ErrUnsupported is returned for a backend whose locks are not files in a
// bucket (Pulumi Cloud).
var ErrUnsupported = errors.New("the backend's locks are not readable as files (Pulumi Cloud keeps them itself)")
