package plannr

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is a request budget: at most Requests requests in any span of
// time Per long.
type RateLimit struct {
	// Requests is how many requests may be sent per Per; zero or less turns
	// client-side limiting off.
	Requests int
	// Per is the span the budget covers; zero or less means a minute.
	Per time.Duration
	// Burst is how many requests may go out back to back before pacing
	// starts; zero picks Requests/50 (at least 1). It is capped at Requests.
	Burst int
}

// DefaultRateLimit is Plannr's documented limit: 500 requests a minute per user.
func DefaultRateLimit() RateLimit { return RateLimit{Requests: 500, Per: time.Minute} }

// RateLimiter paces requests so that the client stays within Plannr's rate
// limit instead of running into 429s. Every attempt, retries included, takes
// a slot. It also slows down when Plannr's X-RateLimit-Remaining runs low,
// and holds every request back while Plannr has asked us to wait after a 429.
//
// Plannr's limit is per user, so every client acting with the same
// credential should share one RateLimiter (see WithRateLimiter). A nil
// *RateLimiter limits nothing. It is safe for concurrent use.
type RateLimiter struct {
	bucket   *rate.Limiter
	requests int
	per      time.Duration
	limit    rate.Limit // the configured rate, restored when Plannr has room again
	burst    int

	mu sync.Mutex
	// last is the latest time handed to bucket. rate.Limiter expects the
	// times it is given to move forward, so every call uses the later of
	// the clock's time and last.
	last        time.Time
	pausedUntil time.Time
	slowed      bool
}

// NewRateLimiter returns a limiter for l, or nil (no limiting) when
// l.Requests is zero or less.
//
// The limiter is a token bucket of l.Burst tokens, refilled at a rate chosen
// so that no window of l.Per ever holds more than l.Requests requests.
func NewRateLimiter(l RateLimit) *RateLimiter {
	if l.Requests <= 0 {
		return nil
	}
	if l.Per <= 0 {
		l.Per = time.Minute
	}
	burst := l.Burst
	if burst <= 0 {
		burst = max(1, l.Requests/50)
	}
	burst = min(burst, l.Requests)
	// A token bucket lets through at most burst + rate*Per requests in any
	// window Per long. With a refill of (Requests - burst + 0.9) per Per that
	// is under Requests + 1, so at most Requests; the 0.9 rather than 1
	// leaves room for floating-point rounding.
	limit := rate.Limit((float64(l.Requests-burst) + 0.9) / l.Per.Seconds())
	return &RateLimiter{
		bucket:   rate.NewLimiter(limit, burst),
		requests: l.Requests,
		per:      l.Per,
		limit:    limit,
		burst:    burst,
	}
}

// ThrottleError reports a request the client held back and never sent: its
// rate limiter would have had to delay it past the call's deadline.
type ThrottleError struct {
	// Wait is how long the request would have had to wait for a slot.
	Wait time.Duration
}

func (e *ThrottleError) Error() string {
	return fmt.Sprintf("plannr: request not sent: staying within Plannr's rate limit would mean waiting %s, past the call's deadline", e.Wait.Round(time.Millisecond))
}

// wait blocks until the request may be sent and returns how long it waited.
// It returns a *ThrottleError at once, without waiting, when the slot lies
// beyond ctx's deadline, and ctx's error if ctx ends while waiting.
func (l *RateLimiter) wait(ctx context.Context, clock Clock) (time.Duration, error) {
	if l == nil {
		return 0, ctx.Err()
	}
	l.mu.Lock()
	now := clock.Now()
	at := l.advance(now)
	if l.pausedUntil.After(at) {
		at = l.pausedUntil
		l.last = at
	}
	r := l.bucket.ReserveN(at, 1)
	l.mu.Unlock()
	if !r.OK() {
		// Cannot happen: the burst is at least 1 and the rate positive.
		return 0, &ThrottleError{Wait: rate.InfDuration}
	}
	delay := r.DelayFrom(now)
	if delay <= 0 {
		return 0, ctx.Err()
	}
	if deadline, ok := ctx.Deadline(); ok && now.Add(delay+retryMargin).After(deadline) {
		l.cancel(r, clock)
		return 0, &ThrottleError{Wait: delay}
	}
	if err := clock.Sleep(ctx, delay); err != nil {
		l.cancel(r, clock)
		return 0, err
	}
	return delay, nil
}

// cancel gives back a slot that will not be used.
func (l *RateLimiter) cancel(r *rate.Reservation, clock Clock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.CancelAt(l.advance(clock.Now()))
}

// advance returns the time to hand the bucket: now, or the latest time it
// has already seen. The caller holds l.mu.
func (l *RateLimiter) advance(now time.Time) time.Time {
	if now.After(l.last) {
		l.last = now
	}
	return l.last
}

// pause holds every request back until Plannr's limit lifts: it answered
// 429 and said when. What is known of the window then is better than what
// X-RateLimit-Remaining implied, so any slow-down for a low remaining count
// ends as well.
func (l *RateLimiter) pause(now, until time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
	if l.slowed {
		at := l.advance(now)
		l.bucket.SetLimitAt(at, l.limit)
		l.bucket.SetBurstAt(at, l.burst)
		l.slowed = false
	}
}

// observe reads Plannr's rate-limit headers from an answer. When fewer than
// a tenth of the window's requests remain, the limiter spreads what is left
// over a whole window, so the budget lasts until the window resets; once an
// answer shows room again, the configured pace returns.
func (l *RateLimiter) observe(now time.Time, h http.Header) {
	if l == nil {
		return
	}
	remaining, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	if err != nil || remaining < 0 {
		return
	}
	limit, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Limit")))
	if err != nil || limit <= 0 {
		limit = l.requests
	}
	low := max(1, limit/10)

	l.mu.Lock()
	defer l.mu.Unlock()
	at := l.advance(now)
	switch {
	case remaining < low:
		slow := rate.Every(l.per / time.Duration(remaining+1))
		if slow < l.limit {
			l.bucket.SetLimitAt(at, slow)
			l.bucket.SetBurstAt(at, 1)
			l.slowed = true
		}
	case l.slowed:
		l.bucket.SetLimitAt(at, l.limit)
		l.bucket.SetBurstAt(at, l.burst)
		l.slowed = false
	}
}
