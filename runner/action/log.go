package action

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/sethvargo/go-githubactions"
)

// LogHandler is the slog handler of action mode: each record becomes a
// workflow command on the step's log, written through a (masking) writer
// by go-githubactions, which escapes it: debug as ::debug:: (GitHub shows
// it when step debug logging is on), info as a plain line, warnings and
// errors as ::warning:: and ::error:: annotations. So the engine's and the
// GitHub client's logs are masked and visible like the rest of the run.
type LogHandler struct {
	a     *githubactions.Action
	attrs []slog.Attr
	group string
}

// NewLogHandler returns a handler writing workflow commands with a.
func NewLogHandler(a *githubactions.Action) *LogHandler { return &LogHandler{a: a} }

// Enabled implements slog.Handler: every level, since GitHub itself hides
// debug lines unless the run asks for them.
func (h *LogHandler) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (h *LogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Resolve())
	}
	r.Attrs(func(a slog.Attr) bool {
		if !a.Equal(slog.Attr{}) {
			fmt.Fprintf(&b, " %s=%v", h.key(a.Key), a.Value.Resolve())
		}
		return true
	})
	msg := b.String()
	switch {
	case r.Level >= slog.LevelError:
		h.a.Errorf("%s", msg)
	case r.Level >= slog.LevelWarn:
		h.a.Warningf("%s", msg)
	case r.Level >= slog.LevelInfo:
		h.a.Infof("%s", msg)
	default:
		h.a.Debugf("%s", msg)
	}
	return nil
}

func (h *LogHandler) key(k string) string {
	if h.group == "" {
		return k
	}
	return h.group + "." + k
}

// WithAttrs implements slog.Handler; the attributes keep the group they
// were added in.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range attrs {
		c.attrs = append(c.attrs, slog.Attr{Key: h.key(a.Key), Value: a.Value})
	}
	return &c
}

// WithGroup implements slog.Handler.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}

// HeldWriter holds what is written to it until Release, then passes
// writes through. The log is held so that no line, not even an engine's
// debug line, comes before the run's ::add-mask:: commands.
type HeldWriter struct {
	mu       sync.Mutex
	w        io.Writer
	buf      bytes.Buffer
	released bool
}

// Hold returns a HeldWriter over w.
func Hold(w io.Writer) *HeldWriter { return &HeldWriter{w: w} }

// Write implements io.Writer.
func (h *HeldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return h.w.Write(p)
	}
	return h.buf.Write(p)
}

// Release writes what was held and lets later writes through.
func (h *HeldWriter) Release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.released {
		h.released = true
		_, _ = h.w.Write(h.buf.Bytes())
		h.buf.Reset()
	}
}
