package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Clock is the time source of the retrying transport and of the sticky
// comment's waits, injectable so tests never sleep for real.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or returns ctx's error if ctx ends first.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RealClock is the wall clock.
var RealClock Clock = realClock{}

// Transport defaults.
const (
	DefaultMaxAttempts    = 5
	DefaultBaseDelay      = time.Second
	DefaultMaxDelay       = 30 * time.Second
	DefaultMaxWait        = 5 * time.Minute
	DefaultAttemptTimeout = 30 * time.Second
	// DefaultSecondaryWait is how long to wait after a secondary rate limit
	// that names no time: GitHub asks for at least a minute.
	DefaultSecondaryWait = time.Minute
	// resetBuffer is added to X-RateLimit-Reset, which has second granularity.
	resetBuffer = time.Second
)

// RateLimitError is returned (wrapped in the *url.Error of net/http and then
// by go-github) when GitHub rate-limits a request and the wait it asks for is
// longer than Transport.MaxWait, or would outlast the request's context.
type RateLimitError struct {
	Method, Path string
	Status       int
	// Secondary is true for a secondary rate limit, false when the primary
	// (hourly) limit is exhausted.
	Secondary bool
	// Until is when GitHub allows requests again.
	Until time.Time
	// Wait is how long that was from the response; MaxWait what we accept.
	Wait, MaxWait time.Duration
	// Deadline is set when the request's context ends before Until.
	Deadline time.Time
	// Retry is set for a write, which the transport never waits out nor
	// replays: its caller composes it again after Until.
	Retry bool
}

func (e *RateLimitError) Error() string {
	kind := "primary rate limit exhausted"
	if e.Secondary {
		kind = "secondary rate limit hit"
	}
	why := fmt.Sprintf("longer than the maximum wait of %s", e.MaxWait)
	switch {
	case e.Retry:
		why = "then the write is composed again"
	case !e.Deadline.IsZero():
		why = fmt.Sprintf("after the request's deadline %s", e.Deadline.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("github: %s (%s %s: %d); GitHub allows requests again at %s, in %s, %s",
		kind, e.Method, e.Path, e.Status, e.Until.UTC().Format(time.RFC3339), e.Wait.Round(time.Second), why)
}

// Transport is an http.RoundTripper that retries what GitHub asks to retry:
// 5xx with exponential backoff and jitter; secondary rate limits (403 or 429
// with Retry-After, or a 403 whose message says "secondary rate limit") after
// the time GitHub names; an exhausted primary limit (X-RateLimit-Remaining: 0)
// until X-RateLimit-Reset. A wait longer than MaxWait fails at once with a
// *RateLimitError. Every attempt has its own timeout. Request bodies are
// replayed on each attempt.
//
// Network errors and attempt time-outs are retried only for idempotent
// methods: a POST may have been applied even though no answer came back.
// A 5xx is retried for every method, as GitHub answers 5xx when the request
// was not processed.
//
// A write of the sticky comment (a request whose context carries a send-by
// time, see withSendBy) is sent once or not at all: never after its
// send-by time, never replayed, and never held for a rate limit (a
// *RateLimitError with Retry set says when to compose it again), so no
// write can carry a body older than the freshness bound.
type Transport struct {
	Base           http.RoundTripper // http.DefaultTransport when nil
	Clock          Clock             // RealClock when nil
	Logger         *slog.Logger      // slog.Default() when nil
	MaxAttempts    int               // attempts per request, DefaultMaxAttempts when 0
	BaseDelay      time.Duration     // first backoff, DefaultBaseDelay when 0
	MaxDelay       time.Duration     // backoff cap, DefaultMaxDelay when 0
	MaxWait        time.Duration     // longest rate limit wait, DefaultMaxWait when 0
	SecondaryWait  time.Duration     // wait for a secondary limit naming no time, DefaultSecondaryWait when 0
	AttemptTimeout time.Duration     // per attempt, DefaultAttemptTimeout when 0; negative for none
	// Jitter returns a number in [0, 1); math/rand when nil.
	Jitter func() float64

	budget       *budget       // shared with the Client; none when nil
	writeTimeout time.Duration // a write's attempt timeout; AttemptTimeout when 0
}

// ErrBudget is returned once a client has spent its budget for GitHub
// calls (WithBudget).
var ErrBudget = errors.New("github: the time allowed for GitHub calls is spent")

// errStale stops a write whose read is older than the freshness bound.
var errStale = errors.New("github: the read this write was composed from is too old; not sent")

// budget is the time a client may spend in GitHub calls and waits.
type budget struct {
	mu    sync.Mutex
	limit time.Duration // none when <= 0
	spent time.Duration
}

func (b *budget) left() time.Duration {
	if b == nil || b.limit <= 0 {
		return math.MaxInt64
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit - b.spent
}

func (b *budget) spend(d time.Duration) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.spent += d
	b.mu.Unlock()
}

// take spends d if that much is left.
func (b *budget) take(d time.Duration) error {
	if left := b.left(); d > left {
		return b.spentErr(fmt.Sprintf("a wait of %s does not fit in the %s left", d.Round(time.Second), max(left, 0).Round(time.Second)))
	}
	b.spend(d)
	return nil
}

func (b *budget) spentErr(why string) error {
	return fmt.Errorf("%w: %s of %s for the whole run (retries and rate limit waits included)", ErrBudget, why, b.limit)
}

type sendByKey struct{}

// withSendBy marks ctx's request as a write of the sticky comment that
// must not be sent after at (no bound when at is zero).
func withSendBy(ctx context.Context, at time.Time) context.Context {
	return context.WithValue(ctx, sendByKey{}, at)
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) clock() Clock {
	if t.Clock != nil {
		return t.Clock
	}
	return RealClock
}

func (t *Transport) logger() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

func orDefault[T int | time.Duration](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

// backoff is the exponential delay before attempt n+1 (n >= 1) with equal
// jitter: half fixed, half random.
func (t *Transport) backoff(n int) time.Duration {
	d := orDefault(t.BaseDelay, DefaultBaseDelay)
	limit := orDefault(t.MaxDelay, DefaultMaxDelay)
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	j := rand.Float64
	if t.Jitter != nil {
		j = t.Jitter
	}
	return d/2 + time.Duration(j()*float64(d/2))
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodPatch:
		// PATCH of a comment body is idempotent: the same body twice is one edit.
		return true
	}
	return false
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	getBody := req.GetBody
	if req.Body != nil && req.Body != http.NoBody && getBody == nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("github: reading request body: %w", err)
		}
		getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	maxAttempts := orDefault(t.MaxAttempts, DefaultMaxAttempts)
	log := t.logger()
	clock := t.clock()
	start := clock.Now()
	defer func() { t.budget.spend(clock.Now().Sub(start)) }()
	if sendBy, ok := ctx.Value(sendByKey{}).(time.Time); ok {
		return t.write(ctx, req, getBody, sendBy)
	}

	for attempt := 1; ; attempt++ {
		if t.budget.left() <= clock.Now().Sub(start) {
			return nil, t.budget.spentErr("spent before " + req.Method + " " + req.URL.Path)
		}
		resp, err := t.attempt(ctx, req, getBody, orDefault(t.AttemptTimeout, DefaultAttemptTimeout))
		last := attempt >= maxAttempts
		if err != nil {
			if ctx.Err() != nil || last || !idempotent(req.Method) {
				return nil, err
			}
			wait := t.backoff(attempt)
			log.Warn("github: request failed, retrying", "method", req.Method, "path", req.URL.Path,
				"attempt", attempt, "wait", wait, "error", err)
			if werr := t.wait(ctx, start, wait); werr != nil {
				return nil, fmt.Errorf("%w (last error: %w)", werr, err)
			}
			continue
		}
		wait, rlErr := t.classify(ctx, req, resp, attempt)
		if rlErr != nil {
			drain(resp)
			return nil, rlErr
		}
		if wait < 0 || last {
			return resp, nil
		}
		log.Warn("github: retrying", "method", req.Method, "path", req.URL.Path,
			"status", resp.StatusCode, "attempt", attempt, "wait", wait)
		drain(resp)
		if err := t.wait(ctx, start, wait); err != nil {
			return nil, fmt.Errorf("%w (last answer: %s %s: %d)", err, req.Method, req.URL.Path, resp.StatusCode)
		}
	}
}

// wait sleeps d if the budget has room for it beyond what this request
// (begun at start) has used.
func (t *Transport) wait(ctx context.Context, start time.Time, d time.Duration) error {
	used := t.clock().Now().Sub(start)
	if left := t.budget.left() - used; d > left {
		return t.budget.spentErr(fmt.Sprintf("a wait of %s does not fit in the %s left", d.Round(time.Second), max(left, 0).Round(time.Second)))
	}
	return t.clock().Sleep(ctx, d)
}

// write sends a sticky comment write once (see Transport).
func (t *Transport) write(ctx context.Context, req *http.Request, getBody func() (io.ReadCloser, error), sendBy time.Time) (*http.Response, error) {
	if t.budget.left() <= 0 {
		return nil, t.budget.spentErr("spent before " + req.Method + " " + req.URL.Path)
	}
	if !sendBy.IsZero() && t.clock().Now().After(sendBy) {
		return nil, errStale
	}
	resp, err := t.attempt(ctx, req, getBody, orDefault(t.writeTimeout, orDefault(t.AttemptTimeout, DefaultAttemptTimeout)))
	if err != nil {
		return nil, err
	}
	wait, rlErr := t.classify(ctx, req, resp, 1)
	var e *RateLimitError
	switch {
	case errors.As(rlErr, &e):
	case rlErr != nil:
		drain(resp)
		return nil, rlErr
	case wait >= 0 && resp.StatusCode < 500:
		e = &RateLimitError{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Until: t.clock().Now().Add(wait), Wait: wait}
	default:
		return resp, nil // a 5xx or an answer: go-github reads it
	}
	drain(resp)
	e.Retry = true
	return nil, e
}

// attempt sends one copy of req with its own timeout; the timeout's context
// lives until the response body is closed.
func (t *Transport) attempt(ctx context.Context, req *http.Request, getBody func() (io.ReadCloser, error), timeout time.Duration) (*http.Response, error) {
	cancel := context.CancelFunc(func() {})
	actx := ctx
	if timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, timeout)
	}
	r := req.Clone(actx)
	if getBody != nil {
		body, err := getBody()
		if err != nil {
			cancel()
			return nil, fmt.Errorf("github: replaying request body: %w", err)
		}
		r.Body = body
		r.GetBody = getBody
	}
	resp, err := t.base().RoundTrip(r)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// classify says how long to wait before retrying resp (negative: do not
// retry), or why a rate limit cannot be waited out.
func (t *Transport) classify(ctx context.Context, req *http.Request, resp *http.Response, attempt int) (time.Duration, error) {
	now := t.clock().Now()
	switch {
	case resp.StatusCode >= 500:
		return t.backoff(attempt), nil
	case resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests:
		return -1, nil
	}

	// GitHub's order: Retry-After first, then an exhausted primary limit,
	// then a secondary limit naming no time.
	var until time.Time
	secondary := true
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && secs >= 0 {
			until = now.Add(time.Duration(secs) * time.Second)
		} else if at, err := http.ParseTime(s); err == nil {
			until = at
		}
	}
	if until.IsZero() && resp.Header.Get("X-RateLimit-Remaining") == "0" {
		secondary = false
		until = now.Add(resetBuffer)
		if secs, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			until = time.Unix(secs, 0).Add(resetBuffer)
		}
	}
	if until.IsZero() {
		if resp.StatusCode == http.StatusForbidden && !mentionsSecondaryLimit(resp) {
			return -1, nil // an ordinary 403: permissions
		}
		wait := max(orDefault(t.SecondaryWait, DefaultSecondaryWait), t.backoff(attempt))
		until = now.Add(wait)
	}
	wait := max(until.Sub(now), 0)
	e := &RateLimitError{
		Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode,
		Secondary: secondary, Until: until, Wait: wait, MaxWait: orDefault(t.MaxWait, DefaultMaxWait),
	}
	if wait > e.MaxWait {
		return 0, e
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		e.Deadline = dl
		return 0, e
	}
	return wait, nil
}

// mentionsSecondaryLimit reads the body of a 403 (putting it back) and says
// whether GitHub's message is about a secondary rate limit.
func mentionsSecondaryLimit(resp *http.Response) bool {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), rest), rest}
	if err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return strings.Contains(strings.ToLower(string(b)), "secondary rate limit")
}
