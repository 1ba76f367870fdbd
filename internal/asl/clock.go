package asl

import (
	"context"
	"sync"
	"time"
)

// Clock is the time source of an execution: Wait states, retry delays and timeouts use it.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error // returns ctx.Err() if cancelled
}

// RealClock is wall-clock time.
var RealClock Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// VirtualClock is a Clock whose Sleep advances Now instantly, for tests and
// for fast local runs. It honours deadlines set by the engine (Task and
// execution TimeoutSeconds): a Sleep past a deadline stops at the deadline and
// returns context.DeadlineExceeded. It is safe for concurrent use.
type VirtualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewVirtualClock returns a VirtualClock reading start.
func NewVirtualClock(start time.Time) *VirtualClock { return &VirtualClock{now: start} }

// Now returns the virtual time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *VirtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Sleep advances Now by d, or up to the earliest engine deadline in ctx.
func (c *VirtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	target := c.now.Add(d)
	if dl, ok := virtualDeadline(ctx); ok && target.After(dl) {
		if dl.After(c.now) {
			c.now = dl
		}
		return context.DeadlineExceeded
	}
	if d > 0 {
		c.now = target
	}
	return nil
}

type deadlineKey struct{}

// withDeadline attaches an engine deadline (in clock time) to ctx. With a real
// clock it is also a context deadline, so real invokers are interrupted.
func withDeadline(ctx context.Context, clock Clock, at time.Time) (context.Context, context.CancelFunc) {
	if prev, ok := virtualDeadline(ctx); ok && prev.Before(at) {
		at = prev
	}
	ctx = context.WithValue(ctx, deadlineKey{}, at)
	if _, virtual := clock.(*VirtualClock); virtual {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, at)
}

func virtualDeadline(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(deadlineKey{}).(time.Time)
	return t, ok
}
