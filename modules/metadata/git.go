package metadata

import (
	"context"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// GitFromEnv returns the git facts of the run. In GitHub Actions they come
// from the environment (GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_HEAD_REF on a
// pull request or else GITHUB_REF_NAME, GITHUB_ACTOR); whatever is still
// missing is read from the git checkout in dir. A missing git binary, a
// directory that is not a repository or a detached HEAD leave the fields
// they would have filled empty: metadata is best effort, never fatal.
func GitFromEnv(getenv func(string) string, dir string) Git {
	return gitFacts(getenv, dir, runGit)
}

// gitRunner runs `git -C dir args...` and returns its trimmed stdout.
type gitRunner func(dir string, args ...string) (string, error)

func gitFacts(getenv func(string) string, dir string, git gitRunner) Git {
	g := Git{
		Repository: getenv("GITHUB_REPOSITORY"),
		Commit:     getenv("GITHUB_SHA"),
		Branch:     getenv("GITHUB_HEAD_REF"),
		Actor:      getenv("GITHUB_ACTOR"),
	}
	if g.Branch == "" {
		g.Branch = getenv("GITHUB_REF_NAME")
	}
	if g.Repository != "" && g.Commit != "" && g.Branch != "" && g.Actor != "" {
		return g
	}
	read := func(args ...string) string {
		out, err := git(dir, args...)
		if err != nil {
			return ""
		}
		return out
	}
	if g.Commit == "" {
		g.Commit = read("rev-parse", "HEAD")
	}
	if g.Branch == "" {
		// "HEAD" means detached: no branch.
		if b := read("rev-parse", "--abbrev-ref", "HEAD"); b != "HEAD" {
			g.Branch = b
		}
	}
	if g.Repository == "" {
		g.Repository = repositoryFromRemote(read("config", "--get", "remote.origin.url"))
	}
	if g.Actor == "" {
		g.Actor = read("config", "--get", "user.name")
	}
	return g
}

func runGit(dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// safe.directory=*: git refuses a repository another uid owns ("dubious
	// ownership"), as the runner's workspace is to the action's container,
	// which runs as root. We only read facts from the checkout we were given,
	// so its owner does not matter. -c needs no system gitconfig and, unlike
	// GIT_CONFIG_COUNT, leaves a caller's own GIT_CONFIG_* variables alone.
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "safe.directory=*", "-C", dir}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// repositoryFromRemote turns a remote URL into "owner/name" (or the full
// path for hosts with nested groups). Credentials in the URL are never
// kept. An unparseable remote gives "".
func repositoryFromRemote(remote string) string {
	remote = strings.TrimSpace(remote)
	if remote == "" {
		return ""
	}
	var path string
	if strings.Contains(remote, "://") {
		u, err := url.Parse(remote)
		if err != nil {
			return ""
		}
		path = u.Path
	} else if _, p, ok := strings.Cut(remote, ":"); ok && !strings.HasPrefix(remote, "/") {
		// scp-like: git@github.com:owner/name.git
		path = p
	} else {
		return "" // a local path is not a repository name
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	if !strings.Contains(path, "/") {
		return ""
	}
	return path
}
