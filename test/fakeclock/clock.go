// Package fakeclock is a clock for tests that advances only when slept on:
// the GitHub client's retries and the action's lock waits take no time.
package fakeclock

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake clock that advances only when slept on, so tests of
// retries, rate-limit waits and lock waits take no real time. The server can
// share it (WithClock(clock.Now)) with the client under test.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	// OnSleep, when set, is called after the nth sleep (from 1), outside
	// the lock: a test can change the world between retries.
	OnSleep func(n int)
}

// New returns a clock at a fixed instant.
func New() *Clock { return &Clock{now: time.Unix(1_760_000_000, 0)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep advances the clock by d at once, unless ctx is done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	n, f := len(c.sleeps), c.OnSleep
	c.mu.Unlock()
	if f != nil {
		f(n)
	}
	return nil
}

// Sleeps returns every sleep so far, in order.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}
