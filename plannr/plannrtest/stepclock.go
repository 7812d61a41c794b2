package plannrtest

import (
	"context"
	"slices"
	"sync"
	"time"
)

// StepClock is a virtual clock whose Sleep blocks until the test moves time
// on (Step), for tests that need waits to be pending: concurrent callers of
// a rate limiter, or a call cancelled while it waits.
type StepClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers []*sleeper
	changed  chan struct{}
}

type sleeper struct {
	until time.Time
	wake  chan struct{}
}

// NewStepClock returns a clock that starts at start.
func NewStepClock(start time.Time) *StepClock {
	return &StepClock{now: start, changed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *StepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep blocks until Step moves the clock past d from now, or ctx ends.
func (c *StepClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c.mu.Lock()
	s := &sleeper{until: c.now.Add(d), wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.notifyLocked()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		c.sleepers = slices.DeleteFunc(c.sleepers, func(x *sleeper) bool { return x == s })
		c.notifyLocked()
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Sleeping returns how many callers are blocked in Sleep.
func (c *StepClock) Sleeping() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sleepers)
}

// Step moves time to the earliest pending wake-up and wakes every sleeper
// due then. It reports false if nobody is sleeping.
func (c *StepClock) Step() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sleepers) == 0 {
		return false
	}
	next := c.sleepers[0].until
	for _, s := range c.sleepers {
		if s.until.Before(next) {
			next = s.until
		}
	}
	if next.After(c.now) {
		c.now = next
	}
	c.sleepers = slices.DeleteFunc(c.sleepers, func(s *sleeper) bool {
		if s.until.After(c.now) {
			return false
		}
		close(s.wake)
		return true
	})
	c.notifyLocked()
	return true
}

// Note wakes WaitFor, for state kept outside the clock.
func (c *StepClock) Note() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notifyLocked()
}

func (c *StepClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// WaitFor blocks until cond holds, checking it whenever the clock changes or
// Note is called, or until ctx ends.
func (c *StepClock) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
