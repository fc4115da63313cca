package runner_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/containercraft/konductor-action/runner"
)

// At most limit at once, every index once.
func TestEachBounded(t *testing.T) {
	var running, peak atomic.Int32
	var mu sync.Mutex
	seen := map[int]int{}
	release := make(chan struct{})
	go func() {
		for range 10 {
			release <- struct{}{}
		}
	}()
	runner.Each(context.Background(), 3, 10, func(i int) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		mu.Lock()
		seen[i]++
		mu.Unlock()
		running.Add(-1)
	}, func(int, error) { t.Error("cancelled without a cancellation") })
	if peak.Load() > 3 || len(seen) != 10 {
		t.Errorf("peak %d, ran %v", peak.Load(), seen)
	}
}

// Cancelled while stacks wait for a slot: the waiting ones are not started
// and say so; Each returns once the running one returns.
func TestEachStopsWaitingWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan int, 5)
	var mu sync.Mutex
	var cancelledIdx []int
	runner.Each(ctx, 1, 5, func(i int) {
		started <- i
		cancel()
		<-ctx.Done()
	}, func(i int, err error) {
		if err != context.Canceled {
			t.Errorf("cancelled(%d, %v)", i, err)
		}
		mu.Lock()
		cancelledIdx = append(cancelledIdx, i)
		mu.Unlock()
	})
	close(started)
	n := 0
	for range started {
		n++
	}
	if n != 1 || len(cancelledIdx) != 4 {
		t.Errorf("started %d, cancelled %v", n, cancelledIdx)
	}
}
