package agent

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is exponential with "equal jitter": each wait is between half
// and all of base×2ⁿ, capped, so that agents that lost the same server do
// not come back in lockstep.
type backoff struct {
	base, max time.Duration
	n         int
}

func newBackoff(max time.Duration) *backoff {
	return &backoff{base: 100 * time.Millisecond, max: max}
}

func (b *backoff) next() time.Duration {
	d := b.base << min(b.n, 20)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.n++
	half := d / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.n = 0 }

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
