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
// returns context.DeadlineExceeded. Functions scheduled with At run when the
// virtual time reaches them, so that something can happen "while" an execution
// waits (a SendTaskSuccess after ten simulated minutes). It is safe for
// concurrent use.
type VirtualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []virtualTimer // in time order, ties in scheduling order
}

type virtualTimer struct {
	at time.Time
	f  func()
}

// NewVirtualClock returns a VirtualClock reading start.
func NewVirtualClock(start time.Time) *VirtualClock { return &VirtualClock{now: start} }

// Now returns the virtual time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// At runs f when the virtual time reaches t: the Sleep or Advance that passes t
// stops there, runs f (without the clock's lock: f may read the clock and
// schedule more), and goes on unless f canceled the sleeper's context (an answer
// to the task token it waits on), which then wakes at t. A t already past runs
// at the next Sleep or Advance.
func (c *VirtualClock) At(t time.Time, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := len(c.timers)
	for i > 0 && c.timers[i-1].at.After(t) {
		i--
	}
	c.timers = append(c.timers, virtualTimer{})
	copy(c.timers[i+1:], c.timers[i:])
	c.timers[i] = virtualTimer{at: t, f: f}
}

// AfterFunc runs f once the virtual time has advanced by d (see At).
func (c *VirtualClock) AfterFunc(d time.Duration, f func()) { c.At(c.Now().Add(d), f) }

// due removes and returns the first timer at or before limit; the lock is held.
func (c *VirtualClock) due(limit time.Time) (virtualTimer, bool) {
	if len(c.timers) == 0 || c.timers[0].at.After(limit) {
		return virtualTimer{}, false
	}
	t := c.timers[0]
	c.timers = c.timers[1:]
	return t, true
}

// runDue runs the timers due by limit in order, moving Now to each; the lock is
// held on entry and on return. It stops early when ctx is done.
func (c *VirtualClock) runDue(ctx context.Context, limit time.Time) error {
	for {
		t, ok := c.due(limit)
		if !ok {
			return nil
		}
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
		if ctx != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// Advance moves the clock forward by d, running the timers due on the way.
func (c *VirtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	target := c.now.Add(d)
	c.runDue(nil, target)
	if target.After(c.now) {
		c.now = target
	}
}

// Sleep advances Now by d, or up to the earliest engine deadline in ctx,
// running the timers due on the way.
func (c *VirtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	target := c.now.Add(d)
	dl, capped := virtualDeadline(ctx)
	capped = capped && target.After(dl)
	limit := target
	if capped {
		limit = dl
	}
	if err := c.runDue(ctx, limit); err != nil {
		return err
	}
	if capped {
		if dl.After(c.now) {
			c.now = dl
		}
		return context.DeadlineExceeded
	}
	if target.After(c.now) {
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
