// Package backends runs real self-managed Pulumi state backends on loopback
// for engine tests: s3rver for S3 and azurite for Azure Blob Storage, both
// installed from npm by `make tools` (tools/npm) and found through
// KONDUCTOR_NPM_BIN. Each server lives for one test, in a temp dir, on a port
// the kernel picks, and is killed with its process group at cleanup.
package backends

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
)

// EnvNpmBin names the node_modules/.bin dir holding s3rver and azurite.
const EnvNpmBin = "KONDUCTOR_NPM_BIN"

// Bucket is the bucket (S3) or container (Azure) the state lives in.
const Bucket = "pulumi-state"

const (
	// S3Credential is the access key id and secret s3rver accepts.
	S3Credential = "S3RVER"
	// AzureAccount and AzureKey are Azurite's well-known development
	// account and key (documented in Azurite's README).
	AzureAccount = "devstoreaccount1"
	AzureKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// startTimeout bounds how long a server may take to listen and answer;
// azurite needs several seconds on a loaded machine.
const startTimeout = 60 * time.Second

// S3 starts s3rver with the bucket pulumi-state and returns the environment
// that points the Pulumi CLI at it.
func S3(t testing.TB) map[string]string {
	t.Helper()
	began := time.Now()
	dir := t.TempDir()
	port := start(t, "s3rver", "-d", dir, "-a", "127.0.0.1", "-p", "0", "--configure-bucket", Bucket)
	endpoint := "http://127.0.0.1:" + port
	// s3rver creates the bucket after it starts listening: wait for it.
	waitFor(t, "s3rver bucket "+Bucket, func() error {
		_, err := s3List(endpoint)
		return err
	})
	t.Logf("s3rver serving bucket %s on %s (ready in %s)", Bucket, endpoint, time.Since(began).Round(time.Millisecond))
	return map[string]string{
		"PULUMI_BACKEND_URL":    "s3://" + Bucket + "?endpoint=" + url.QueryEscape(endpoint) + "&use_path_style=true&region=us-east-1",
		"AWS_ACCESS_KEY_ID":     S3Credential,
		"AWS_SECRET_ACCESS_KEY": S3Credential,
		"AWS_REGION":            "us-east-1",
	}
}

// AzureBlob starts azurite's blob service, creates the container
// pulumi-state and returns the environment that points the Pulumi CLI at it.
func AzureBlob(t testing.TB) map[string]string {
	t.Helper()
	began := time.Now()
	dir := t.TempDir()
	port := start(t, "azurite-blob", "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", dir,
		"--skipApiVersionCheck", "--disableTelemetry")
	host := "127.0.0.1:" + port
	client := azureClient(t, host)
	waitFor(t, "azurite container "+Bucket, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := client.CreateContainer(ctx, Bucket, nil)
		if bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
			return nil
		}
		return err
	})
	t.Logf("azurite serving container %s on http://%s (ready in %s)", Bucket, host, time.Since(began).Round(time.Millisecond))
	return map[string]string{
		"PULUMI_BACKEND_URL":    "azblob://" + Bucket + "?localemu=true&domain=" + host + "&protocol=http",
		"AZURE_STORAGE_ACCOUNT": AzureAccount,
		"AZURE_STORAGE_KEY":     AzureKey,
	}
}

// Keys lists every object key in the backend env (as returned by S3 or
// AzureBlob) points at, through the storage API itself, sorted.
func Keys(t testing.TB, env map[string]string) []string {
	t.Helper()
	u, err := url.Parse(env["PULUMI_BACKEND_URL"])
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	switch u.Scheme {
	case "s3":
		keys, err = s3List(u.Query().Get("endpoint"))
	case "azblob":
		keys, err = azureList(azureClient(t, u.Query().Get("domain")))
	default:
		t.Fatalf("backends.Keys: not a test backend: %q", u)
	}
	if err != nil {
		t.Fatalf("listing %s: %v", u, err)
	}
	sort.Strings(keys)
	return keys
}

// npmBin returns the dir holding the npm-installed servers, or fails: a
// backend test must never pass by skipping.
func npmBin(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(EnvNpmBin)
	if dir == "" {
		t.Fatal(EnvNpmBin + " is not set: run the tests with `make test`, which installs s3rver and azurite from tools/npm")
	}
	return dir
}

// listening matches the line both servers print once bound, e.g.
// "S3rver listening on 127.0.0.1:43595" and "Azurite Blob service
// successfully listens on http://127.0.0.1:38299".
var listening = regexp.MustCompile(`listen(?:ing|s) on (?:http://)?127\.0\.0\.1:(\d+)`)

// start runs name from the npm bin dir in its own process group, returns
// the port it reports listening on, and registers its teardown.
func start(t testing.TB, name string, args ...string) string {
	t.Helper()
	bin := filepath.Join(npmBin(t), name)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: %v (run `make tools`)", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() {
		exitErr = cmd.Wait()
		pw.Close()
		close(exited)
	}()

	// Everything the server prints is kept for failure messages; the first
	// "listening" line yields the port.
	var mu sync.Mutex
	var output strings.Builder
	portc := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			output.WriteString(line + "\n")
			mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case portc <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	logs := func() string {
		mu.Lock()
		defer mu.Unlock()
		return output.String()
	}

	t.Cleanup(func() {
		// The npm shims are node scripts; kill the whole group so nothing
		// outlives the test, gently first. Harmless if it already exited.
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, logs())
		}
	})

	select {
	case port := <-portc:
		return port
	case <-exited:
		<-scanned
		t.Fatalf("%s exited before listening: %v\n%s", name, exitErr, logs())
	case <-time.After(startTimeout):
		t.Fatalf("%s did not report listening within %s:\n%s", name, startTimeout, logs())
	}
	return ""
}

// waitFor retries f until it succeeds or startTimeout passes.
func waitFor(t testing.TB, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %v", what, startTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// s3List lists the bucket with an anonymous ListObjectsV2, which s3rver
// serves without a signature.
func s3List(endpoint string) ([]string, error) {
	var keys []string
	token := ""
	for {
		q := url.Values{"list-type": {"2"}}
		if token != "" {
			q.Set("continuation-token", token)
		}
		resp, err := http.Get(endpoint + "/" + Bucket + "?" + q.Encode())
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s: %s", resp.Request.URL, resp.Status, body)
		}
		var page struct {
			Contents []struct {
				Key string
			}
			IsTruncated           bool
			NextContinuationToken string
		}
		if err := xml.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("ListObjectsV2 response: %w", err)
		}
		for _, c := range page.Contents {
			keys = append(keys, c.Key)
		}
		if !page.IsTruncated {
			return keys, nil
		}
		if page.NextContinuationToken == "" {
			return nil, errors.New("ListObjectsV2: truncated without a continuation token")
		}
		token = page.NextContinuationToken
	}
}

func azureClient(t testing.TB, host string) *azblob.Client {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(AzureAccount, AzureKey)
	if err != nil {
		t.Fatal(err)
	}
	client, err := azblob.NewClientWithSharedKeyCredential("http://"+host+"/"+AzureAccount+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func azureList(client *azblob.Client) ([]string, error) {
	var keys []string
	pager := client.NewListBlobsFlatPager(Bucket, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			return nil, err
		}
		for _, b := range page.Segment.BlobItems {
			keys = append(keys, *b.Name)
		}
	}
	return keys, nil
}
