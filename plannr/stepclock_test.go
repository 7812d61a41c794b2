package plannr_test

import (
	"context"
	"slices"
	"sync"
	"time"
)

// stepClock is a virtual clock whose Sleep blocks until the test moves time
// on (step), for tests that need waits to be pending: concurrent callers of
// a rate limiter, or a call cancelled while it waits.
type stepClock struct {
	mu       sync.Mutex
	now      time.Time
	sleepers []*stepSleeper
	changed  chan struct{}
}

type stepSleeper struct {
	until time.Time
	wake  chan struct{}
}

func newStepClock(start time.Time) *stepClock {
	return &stepClock{now: start, changed: make(chan struct{})}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c.mu.Lock()
	s := &stepSleeper{until: c.now.Add(d), wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.notifyLocked()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		c.sleepers = slices.DeleteFunc(c.sleepers, func(x *stepSleeper) bool { return x == s })
		c.notifyLocked()
		c.mu.Unlock()
		return ctx.Err()
	}
}

// sleeping returns how many callers are blocked in Sleep.
func (c *stepClock) sleeping() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sleepers)
}

// step moves time to the earliest pending wake-up and wakes every sleeper
// due then. It reports false if nobody is sleeping.
func (c *stepClock) step() bool {
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
	c.sleepers = slices.DeleteFunc(c.sleepers, func(s *stepSleeper) bool {
		if s.until.After(c.now) {
			return false
		}
		close(s.wake)
		return true
	})
	c.notifyLocked()
	return true
}

// note wakes waitFor, for state kept outside the clock.
func (c *stepClock) note() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notifyLocked()
}

func (c *stepClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitFor blocks until cond holds, checking it whenever the clock changes or
// note is called, or until ctx ends.
func (c *stepClock) waitFor(ctx context.Context, cond func() bool) error {
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
