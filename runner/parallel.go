package runner

import (
	"context"
	"sync"
)

// Each calls run(i) for every i in [0, n), at most limit at once, and
// returns when all have returned. A call still waiting for a slot when ctx
// is done is not started: cancelled(i, err) is called instead, so a
// cancelled run stops at once rather than starting queued stacks. The CLI
// and the action both run their stacks through it.
func Each(ctx context.Context, limit, n int, run func(i int), cancelled func(i int, err error)) {
	limit = max(1, limit)
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				cancelled(i, context.Cause(ctx))
				return
			}
			defer func() { <-slots }()
			if err := ctx.Err(); err != nil {
				// The slot and the cancellation came together.
				cancelled(i, context.Cause(ctx))
				return
			}
			run(i)
		}()
	}
	wg.Wait()
}
