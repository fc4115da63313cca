package action_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/sethvargo/go-githubactions"

	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/mask"
)

// Logs become workflow commands, masked and escaped.
func TestLogHandler(t *testing.T) {
	var out bytes.Buffer
	m := mask.New("s3cr3t-token-1")
	w := m.Writer(&out)
	log := slog.New(action.NewLogHandler(githubactions.New(githubactions.WithWriter(w)))).With("stack", "dev")
	log.Debug("pulumi CLI", "root", "/opt/konductor")
	log.Info("upsert", "url", "https://x/?t=s3cr3t-token-1")
	log.Warn("retrying\nafter 502")
	log.WithGroup("gh").Error("gave up", "status", 502)
	_ = w.Flush()
	want := strings.Join([]string{
		"::debug::pulumi CLI stack=dev root=/opt/konductor",
		"upsert stack=dev url=https://x/?t=[secret]",
		"::warning::retrying%0Aafter 502 stack=dev",
		"::error::gave up stack=dev gh.status=502",
		"",
	}, "\n")
	if got := out.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}
