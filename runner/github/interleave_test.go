package github_test

// The interleaving harness: writers of one sticky comment run against the
// fake GitHub through a scheduler that decides, one step at a time, which
// request reaches GitHub, when a write lands, when its answer comes back,
// which requests fail (a 5xx before or after the write took effect, a
// secondary rate limit) and when time moves on. Only one writer runs at a
// time and every choice is the scheduler's, so a schedule is a list of
// choices and the harness explores them all, depth first, up to a bound
// on how often a schedule departs from round-robin order (delay bounding)
// and on the faults it injects.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

// call is one writer's call of UpsertSections.
type call struct {
	sections []github.Section
	settle   bool
}

// scenario is a set of writers; writer i makes its calls in order.
type scenario struct {
	name    string
	head    string
	writers [][]call
	// seed is the comment before the writers start ("" for none).
	seed []github.Section
	// want is each stack's body at the end; a stack absent from want must
	// be absent from the comment.
	want map[string]string
	// departures and faults bound the exploration (see bounds).
	departures, faults int
}

type actKind int

const (
	actServe    actKind = iota // a read reaches GitHub and is answered
	actLand                    // a write reaches GitHub; its answer is held
	actRespond                 // a landed write's answer is delivered
	actAdvance                 // time moves to the next sleeper's wake
	actFail                    // a 502 without the write taking effect
	actLandFail                // the write takes effect, the answer is a 502
	actLimit                   // a secondary rate limit (403, Retry-After: 60)
)

type pending struct {
	writer int
	req    *http.Request
	body   []byte
	write  bool
	sent   time.Time
	landed *http.Response
	reply  chan *http.Response
}

type sleeper struct {
	writer int
	wake   time.Time
	done   chan struct{}
}

type action struct {
	kind actKind
	p    *pending
}

// world is one execution: the scheduler's state. Writers block in its
// RoundTrip and Sleep; the scheduler resumes one at a time and waits for
// it to block again or finish (an event).
type world struct {
	mu       sync.Mutex
	now      time.Time
	pending  []*pending
	sleepers []*sleeper
	events   chan struct{}
	handler  http.Handler
	inFlight time.Duration
	// next is where round-robin order starts: after the last writer run.
	next int
}

func (w *world) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) sleepFor(writer int) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		if d <= 0 {
			return ctx.Err()
		}
		s := &sleeper{writer: writer, done: make(chan struct{})}
		w.mu.Lock()
		s.wake = w.now.Add(d)
		w.sleepers = append(w.sleepers, s)
		w.mu.Unlock()
		w.events <- struct{}{}
		<-s.done
		return ctx.Err()
	}
}

// writerClock is a Clock whose sleeps block in the world.
type writerClock struct {
	w     *world
	sleep func(context.Context, time.Duration) error
}

func (c writerClock) Now() time.Time                                   { return c.w.Now() }
func (c writerClock) Sleep(ctx context.Context, d time.Duration) error { return c.sleep(ctx, d) }

// writerTransport hands each request to the scheduler.
type writerTransport struct {
	w      *world
	writer int
}

func (t writerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	write := req.Method == http.MethodPatch || req.Method == http.MethodDelete ||
		(req.Method == http.MethodPost && !strings.HasSuffix(req.URL.Path, "/graphql"))
	p := &pending{writer: t.writer, req: req, body: body, write: write, reply: make(chan *http.Response)}
	t.w.mu.Lock()
	p.sent = t.w.now
	t.w.pending = append(t.w.pending, p)
	t.w.mu.Unlock()
	t.w.events <- struct{}{}
	return <-p.reply, nil
}

// forward applies p to the fake GitHub now.
func (w *world) forward(p *pending) *http.Response {
	r := p.req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(p.body))
	rec := httptest.NewRecorder()
	w.handler.ServeHTTP(rec, r)
	return rec.Result()
}

func fault(status int, header http.Header, body string) *http.Response {
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	for k, v := range header {
		h[k] = v
	}
	return &http.Response{StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ProtoMajor: 1, ProtoMinor: 1}
}

// enabled lists what may happen next, round-robin order first, so that
// choice 0 is the default schedule; faults and moving time come last.
func (w *world) enabled(writers int, faultsLeft int) []action {
	var acts, faults []action
	for k := range writers {
		writer := (w.next + k) % writers
		for _, p := range w.pending {
			if p.writer != writer {
				continue
			}
			switch {
			case !p.write:
				acts = append(acts, action{actServe, p})
			case p.landed != nil:
				acts = append(acts, action{actRespond, p})
			default:
				acts = append(acts, action{actLand, p})
				if faultsLeft > 0 {
					faults = append(faults, action{actFail, p}, action{actLandFail, p}, action{actLimit, p})
				}
			}
		}
	}
	acts = append(acts, faults...)
	if len(w.sleepers) > 0 {
		wake := w.sleepers[0].wake
		for _, s := range w.sleepers {
			if s.wake.Before(wake) {
				wake = s.wake
			}
		}
		// A sent write lands within inFlight or never: time cannot pass
		// that point while it is still held.
		ok := true
		for _, p := range w.pending {
			if p.write && p.landed == nil && p.sent.Add(w.inFlight).Before(wake) {
				ok = false
			}
		}
		if ok {
			acts = append(acts, action{kind: actAdvance})
		}
	}
	return acts
}

// chooser replays a prefix of choices, then takes choice 0, recording
// every choice point.
type chooser struct {
	prefix []int
	trace  []choicePoint
}

type choicePoint struct{ n, picked int }

func (c *chooser) choose(n int) int {
	i := len(c.trace)
	pick := 0
	if i < len(c.prefix) {
		pick = c.prefix[i]
	}
	c.trace = append(c.trace, choicePoint{n, pick})
	return pick
}

// nextPrefix is the next schedule in depth-first order whose departures
// from choice 0 number at most bound; nil when all are explored.
func nextPrefix(trace []choicePoint, bound int) []int {
	for i := len(trace) - 1; i >= 0; i-- {
		if trace[i].picked+1 >= trace[i].n {
			continue
		}
		dev := 1
		for _, cp := range trace[:i] {
			if cp.picked != 0 {
				dev++
			}
		}
		if dev > bound {
			continue
		}
		prefix := make([]int, i+1)
		for j, cp := range trace[:i] {
			prefix[j] = cp.picked
		}
		prefix[i] = trace[i].picked + 1
		return prefix
	}
	return nil
}

type bounds struct {
	departures, faults int
	// fresh and inFlight are the clients' write bounds; the scheduler
	// always holds writes up to github.DefaultInFlight.
	fresh, inFlight time.Duration
}

// execution runs sc once under the schedule c picks and returns what was
// wrong with the end state, if anything.
func execution(t *testing.T, srv *fakegithub.Server, pr int, sc scenario, b bounds, c *chooser, clock *sharedClock) string {
	w := &world{now: time.Unix(1_760_000_000, 0), events: make(chan struct{}), handler: srv.Handler(), inFlight: github.DefaultInFlight}
	clock.set(w)
	srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: pr, HeadRepo: "o/r", HeadRef: "feature", HeadSHA: sc.head})
	if sc.seed != nil {
		srv.SeedComment(owner, repo, pr, fakegithub.DefaultLogin, github.Compose(header, sc.seed, 0))
	}
	errs := make([]error, len(sc.writers))
	for i, calls := range sc.writers {
		cl, err := github.New(fakegithub.DefaultToken, srv.URL(),
			github.WithBaseTransport(writerTransport{w, i}),
			github.WithClock(writerClock{w, w.sleepFor(i)}),
			github.WithLogger(quiet),
			github.WithJitter(func() float64 { return 0.5 }),
			github.WithHeader(header),
			github.WithCommentAuthor(fakegithub.DefaultLogin),
			github.WithWriteBounds(b.fresh, b.inFlight))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer func() { w.events <- struct{}{} }()
			for _, cl2 := range calls {
				if _, err := cl.UpsertSections(context.Background(), owner, repo, pr, cl2.sections, cl2.settle); err != nil {
					errs[i] = err
					return
				}
			}
		}()
		<-w.events // it blocked or finished
	}
	faults := 0
	for steps := 0; ; steps++ {
		if steps > 10_000 {
			return "the schedule did not end after 10000 steps"
		}
		acts := w.enabled(len(sc.writers), b.faults-faults)
		if len(acts) == 0 {
			break
		}
		a := acts[c.choose(len(acts))]
		resume := func(p *pending, resp *http.Response) {
			w.mu.Lock()
			for i, q := range w.pending {
				if q == p {
					w.pending = append(w.pending[:i], w.pending[i+1:]...)
					break
				}
			}
			w.next = (p.writer + 1) % len(sc.writers)
			w.mu.Unlock()
			p.reply <- resp
			<-w.events
		}
		switch a.kind {
		case actServe:
			resume(a.p, w.forward(a.p))
		case actLand:
			a.p.landed = w.forward(a.p)
		case actRespond:
			resume(a.p, a.p.landed)
		case actFail:
			faults++
			resume(a.p, fault(http.StatusBadGateway, nil, `{"message":"Server Error"}`))
		case actLandFail:
			faults++
			w.forward(a.p)
			resume(a.p, fault(http.StatusBadGateway, nil, `{"message":"Server Error"}`))
		case actLimit:
			faults++
			resume(a.p, fault(http.StatusForbidden, http.Header{"Retry-After": {"60"}},
				fmt.Sprintf(`{"message":%q,"documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`, fakegithub.SecondaryRateLimitMessage)))
		case actAdvance:
			wake := w.sleepers[0].wake
			for _, s := range w.sleepers {
				if s.wake.Before(wake) {
					wake = s.wake
				}
			}
			w.mu.Lock()
			w.now = wake
			w.mu.Unlock()
			for {
				var s *sleeper
				for _, x := range w.sleepers {
					if !x.wake.After(wake) && (s == nil || x.writer < s.writer) {
						s = x
					}
				}
				if s == nil {
					break
				}
				w.mu.Lock()
				for i, x := range w.sleepers {
					if x == s {
						w.sleepers = append(w.sleepers[:i], w.sleepers[i+1:]...)
						break
					}
				}
				w.next = (s.writer + 1) % len(sc.writers)
				w.mu.Unlock()
				close(s.done)
				<-w.events
			}
		}
	}
	if len(w.pending) > 0 || len(w.sleepers) > 0 {
		return "writers still blocked at the end"
	}
	for i, err := range errs {
		if err != nil {
			return fmt.Sprintf("writer %d failed: %v", i, err)
		}
	}
	return checkEnd(srv, pr, sc)
}

// checkEnd checks the comment holds every stack's latest section once,
// correctly labelled, and nothing else.
func checkEnd(srv *fakegithub.Server, pr int, sc scenario) string {
	var marked []fakegithub.Comment
	for _, cm := range srv.Comments(owner, repo, pr) {
		if strings.HasPrefix(cm.Body, github.CommentMarker) {
			marked = append(marked, cm)
		}
	}
	if len(marked) != 1 {
		return fmt.Sprintf("%d marked comments, want 1", len(marked))
	}
	body := marked[0].Body
	_, secs, _ := github.Parse(body)
	got := map[string]github.Section{}
	for _, s := range secs {
		if n := strings.Count(body, "<!-- konductor:section:"+s.Stack+":begin"); n != 1 {
			return fmt.Sprintf("section %s appears %d times:\n%s", s.Stack, n, body)
		}
		got[s.Stack] = s
	}
	for stack, want := range sc.want {
		s, ok := got[stack]
		if !ok {
			return fmt.Sprintf("section %s lost:\n%s", stack, body)
		}
		if s.Body != want {
			return fmt.Sprintf("section %s = %q, want %q:\n%s", stack, s.Body, want, body)
		}
		label := ""
		if s.SHA != "" && s.SHA != sc.head {
			label = sc.head
		}
		if s.SupersededBy != label {
			return fmt.Sprintf("section %s (commit %.7s) labelled superseded by %q, want %q:\n%s", stack, s.SHA, s.SupersededBy, label, body)
		}
	}
	for stack := range got {
		if _, ok := sc.want[stack]; !ok {
			return fmt.Sprintf("section %s should not be there:\n%s", stack, body)
		}
	}
	return ""
}

// sharedClock is the fake server's clock: the current execution's.
type sharedClock struct {
	mu sync.Mutex
	w  *world
}

func (c *sharedClock) set(w *world) { c.mu.Lock(); c.w = w; c.mu.Unlock() }
func (c *sharedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w == nil {
		return time.Unix(1_760_000_000, 0)
	}
	return c.w.now
}

// explore runs every schedule of sc within b; it returns the number of
// executions and the first violation with its schedule.
func explore(t *testing.T, sc scenario, b bounds, limit int) (runs int, violation string) {
	clock := &sharedClock{}
	srv := fakegithub.New(t, fakegithub.WithClock(clock.Now), fakegithub.WithRateLimit(1<<40), fakegithub.WithoutRequestLog())
	var prefix []int
	for pr := 1; ; pr++ {
		c := &chooser{prefix: prefix}
		if bad := execution(t, srv, pr, sc, b, c, clock); bad != "" {
			picks := make([]string, len(c.trace))
			for i, cp := range c.trace {
				picks[i] = fmt.Sprintf("%d/%d", cp.picked, cp.n)
			}
			return pr, fmt.Sprintf("%s\nschedule (choice/options): %s", bad, strings.Join(picks, " "))
		}
		prefix = nextPrefix(c.trace, b.departures)
		if prefix == nil || (limit > 0 && pr >= limit) {
			return pr, ""
		}
	}
}

const (
	shaOld  = "0ddc0ffee0ddc0ffee0ddc0ffee0ddc0ffee0ddc"
	shaHead = "4eadbeef4eadbeef4eadbeef4eadbeef4eadbeef"
)

func sec(stack, sha, body string) github.Section {
	return github.Section{Stack: stack, SHA: sha, Body: body}
}

func one(s github.Section) []call { return []call{{[]github.Section{s}, true}} }

var scenarios = []scenario{
	{
		name: "two stacks, jobs apart, over an existing comment",
		head: shaHead,
		seed: []github.Section{sec("old", shaHead, "old@head")},
		writers: [][]call{
			one(sec("dev", shaHead, "dev@head")),
			one(sec("prod", shaHead, "prod@head")),
		},
		want:       map[string]string{"dev": "dev@head", "prod": "prod@head", "old": "old@head"},
		departures: 3, faults: 1,
	},
	{
		name: "two stacks, jobs apart, no comment yet",
		head: shaHead,
		writers: [][]call{
			one(sec("dev", shaHead, "dev@head")),
			one(sec("prod", shaHead, "prod@head")),
		},
		want:       map[string]string{"dev": "dev@head", "prod": "prod@head"},
		departures: 3, faults: 1,
	},
	{
		name: "old and new commit of one stack, and another stack",
		head: shaHead,
		seed: []github.Section{sec("dev", shaOld, "dev@old v0")},
		writers: [][]call{
			one(sec("dev", shaOld, "dev@old")),
			one(sec("dev", shaHead, "dev@head")),
			one(sec("prod", shaHead, "prod@head")),
		},
		want:       map[string]string{"dev": "dev@head", "prod": "prod@head"},
		departures: 2, faults: 1,
	},
	{
		name: "one process writing two stacks, a late note of an old commit, another job",
		head: shaHead,
		seed: []github.Section{{Stack: "konductor-no-stacks", SHA: shaOld, Body: "no stacks affected"}},
		writers: [][]call{
			{
				{[]github.Section{{Stack: "dev", SHA: shaHead, Body: "dev@head", Replaces: []string{"konductor-no-stacks"}}}, false},
				{[]github.Section{
					{Stack: "dev", SHA: shaHead, Body: "dev@head", Replaces: []string{"konductor-no-stacks"}},
					{Stack: "prod", SHA: shaHead, Body: "prod@head", Replaces: []string{"konductor-no-stacks"}},
				}, true},
			},
			one(github.Section{Stack: "konductor-no-stacks", SHA: shaOld, Body: "no stacks affected, late", Note: true}),
			one(github.Section{Stack: "qa", SHA: shaHead, Body: "qa@head", Replaces: []string{"konductor-no-stacks"}}),
		},
		want:       map[string]string{"dev": "dev@head", "prod": "prod@head", "qa": "qa@head"},
		departures: 2, faults: 1,
	},
	{
		name: "four stacks, jobs apart, over an existing comment",
		head: shaHead,
		seed: []github.Section{sec("dev", shaOld, "dev@old"), sec("stage", shaOld, "stage@old")},
		writers: [][]call{
			one(sec("dev", shaHead, "dev@head")),
			one(sec("prod", shaHead, "prod@head")),
			one(sec("qa", shaHead, "qa@head")),
			one(sec("stage", shaHead, "stage@head")),
		},
		want:       map[string]string{"dev": "dev@head", "prod": "prod@head", "qa": "qa@head", "stage": "stage@head"},
		departures: 1, faults: 1,
	},
}

// departures is the exploration bound: KONDUCTOR_INTERLEAVE_DEPTH adds to it.
func departures(t *testing.T, def int) int {
	if s := os.Getenv("KONDUCTOR_INTERLEAVE_DEPTH"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("KONDUCTOR_INTERLEAVE_DEPTH=%q: %v", s, err)
		}
		return def + n
	}
	return def
}

// TestNoInterleavingLosesASection explores, for each scenario, every
// schedule within its bounds: all orders of reads, landings and answers
// that depart from round-robin order at most 1–3 times, with up to one
// fault (a 5xx before or after the write took effect, or a secondary rate
// limit). KONDUCTOR_INTERLEAVE_DEPTH=N allows N more departures.
func TestNoInterleavingLosesASection(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios {
		b := bounds{departures: departures(t, sc.departures), faults: sc.faults, fresh: github.DefaultFreshness, inFlight: github.DefaultInFlight}
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			runs, bad := explore(t, sc, b, 0)
			if bad != "" {
				t.Fatalf("after %d schedules: %s", runs, bad)
			}
			t.Logf("%d writers, %d departures, %d fault: %d schedules explored in %s, none loses a section",
				len(sc.writers), b.departures, b.faults, runs, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestInterleavingsCatchAShortSettle shows the harness finds the race when
// writers settle too early: clients that think a write lands within 1 s
// while GitHub can take up to DefaultInFlight.
func TestInterleavingsCatchAShortSettle(t *testing.T) {
	t.Parallel()
	b := bounds{departures: 2, faults: 0, fresh: github.DefaultFreshness, inFlight: time.Second}
	runs, bad := explore(t, scenarios[0], b, 0)
	if bad == "" {
		t.Fatalf("no schedule of %d loses a section with a 1 s settle; the harness cannot see the race", runs)
	}
	t.Logf("found after %d schedules: %s", runs, bad)
}
