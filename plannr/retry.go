package plannr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// RetryPolicy says how the client retries a request that failed in a way
// that may pass: a 429, 502, 503 or 504 answer, a connection reset or
// dropped, or an attempt that timed out.
//
// Only requests that are safe to repeat are retried after such a failure:
// GET, HEAD, OPTIONS and PUT (renaming twice to the same label changes
// nothing). Any request is retried after a 429, which Plannr sends before
// acting. Other 4xx answers, and 500s, are never retried.
//
// The call's deadline (see WithTimeout) bounds the whole: a wait that would
// end past it is not started, and the last failure is returned instead.
type RetryPolicy struct {
	// MaxRetries is how many times a failed request is sent again; zero
	// turns retries off.
	MaxRetries int
	// BaseDelay is the wait before the first retry; each later wait doubles,
	// up to MaxDelay. Each wait is drawn at random between half and all of
	// that (jitter), so that clients that failed together do not retry
	// together. A Retry-After header from Plannr replaces the computed wait.
	// Zero means the default.
	BaseDelay time.Duration
	// MaxDelay caps a computed wait; zero means the default.
	MaxDelay time.Duration
	// AttemptTimeout bounds one attempt, reading the answer included, so a
	// request that hangs is abandoned and retried; zero means only the
	// call's deadline bounds it.
	AttemptTimeout time.Duration
}

// Defaults for RetryPolicy. With them a call that keeps failing gives up
// after 5 attempts and at most 7.5 s of waiting, well inside DefaultTimeout.
const (
	DefaultMaxRetries     = 4
	DefaultBaseDelay      = 500 * time.Millisecond
	DefaultMaxDelay       = 8 * time.Second
	DefaultAttemptTimeout = 10 * time.Second
)

// DefaultRetryPolicy returns the policy a client uses unless told otherwise.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxRetries:     DefaultMaxRetries,
		BaseDelay:      DefaultBaseDelay,
		MaxDelay:       DefaultMaxDelay,
		AttemptTimeout: DefaultAttemptTimeout,
	}
}

func (p RetryPolicy) validate() error {
	if p.MaxRetries < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.AttemptTimeout < 0 {
		return fmt.Errorf("plannr: retry policy values must not be negative: %+v", p)
	}
	return nil
}

// backoff returns the wait before retry number n (1 for the first retry):
// BaseDelay doubled n-1 times, capped at MaxDelay, with equal jitter.
func (p RetryPolicy) backoff(n int, random func() float64) time.Duration {
	base, ceiling := p.BaseDelay, p.MaxDelay
	if base <= 0 {
		base = DefaultBaseDelay
	}
	if ceiling <= 0 {
		ceiling = DefaultMaxDelay
	}
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return d/2 + time.Duration(random()*float64(d/2))
}

// RetryError reports a request that was retried and still failed. Err is
// the last attempt's error, so errors.As finds an *ErrorResponse or
// *RateLimitError through it.
type RetryError struct {
	// Attempts is how many times the request was sent.
	Attempts int
	// Elapsed is the time from the first attempt to giving up, waits included.
	Elapsed time.Duration
	// Err is the last attempt's error.
	Err error
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("%v (gave up after %d attempts over %s)", e.Err, e.Attempts, e.Elapsed.Round(time.Millisecond))
}

// Unwrap returns the last attempt's error.
func (e *RetryError) Unwrap() error { return e.Err }

// attemptStats is how a call learns what the retry layer did for it: do
// puts one in the request's context and the layer fills it in.
type attemptStats struct {
	start    time.Time
	attempts int
	elapsed  time.Duration
	// gaveUp is set when the final failure was one worth retrying, but the
	// attempts or the time ran out.
	gaveUp bool
}

type attemptStatsKey struct{}

func withAttemptStats(ctx context.Context, s *attemptStats) context.Context {
	return context.WithValue(ctx, attemptStatsKey{}, s)
}

// retryTransport is the client's resilience layer, an http.RoundTripper
// beneath the bearer-token transport. Each attempt first takes a slot from
// the rate limiter, so retries count against the budget too; the answer is
// read in full (up to maxBody+1 bytes) before the layer decides, so that an
// answer cut off mid-body is retried like any other dropped connection.
type retryTransport struct {
	next    http.RoundTripper
	policy  RetryPolicy
	limiter *RateLimiter
	clock   Clock
	logger  *slog.Logger
	maxBody int64
	random  func() float64
	// buffers holds *bytes.Buffer for answers of unknown length.
	buffers sync.Pool
}

// retryMargin is the least time an attempt after a wait must have before
// the call's deadline; a wait that would leave less is not started.
const retryMargin = time.Second

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	stats, _ := ctx.Value(attemptStatsKey{}).(*attemptStats)
	if stats == nil {
		stats = &attemptStats{}
	}
	if stats.start.IsZero() {
		stats.start = t.clock.Now()
	}
	resendable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for attempt := 1; ; attempt++ {
		held, err := t.limiter.wait(ctx, t.clock)
		if err != nil {
			var te *ThrottleError
			if errors.As(err, &te) {
				t.logger.Warn("plannr request held back by the rate limiter",
					slog.String("method", req.Method), slog.String("path", req.URL.Path), slog.Duration("wanted_wait", te.Wait))
			}
			if attempt == 1 && req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
		began := time.Now() // real time: how long the wire took, for the log
		resp, err := t.attempt(ctx, req, attempt)
		took := time.Since(began)
		now := t.clock.Now()
		stats.attempts++
		stats.elapsed = now.Sub(stats.start)

		v := t.judge(ctx, req, resp, err, now)
		attrs := []any{
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("attempt", attempt),
			slog.Duration("duration", took),
		}
		if held > 0 {
			attrs = append(attrs, slog.Duration("rate_limit_wait", held))
		}
		if resp != nil {
			attrs = append(attrs, slog.Int("status", resp.StatusCode))
			if resp.StatusCode == http.StatusTooManyRequests && v.wait > 0 {
				t.limiter.pause(now, now.Add(v.wait))
			} else {
				t.limiter.observe(now, resp.Header)
			}
		} else {
			attrs = append(attrs, slog.String("error", err.Error()))
		}

		if !v.retry {
			stats.gaveUp = v.failure && attempt > 1
			if stats.gaveUp {
				t.logger.Warn("plannr request failed", append(attrs, slog.Duration("elapsed", stats.elapsed))...)
			} else {
				t.logger.Debug("plannr request", attrs...)
			}
			return resp, err
		}
		wait := v.wait
		if wait <= 0 {
			wait = t.policy.backoff(attempt, t.random)
		}
		giveUp := ""
		switch deadline, ok := ctx.Deadline(); {
		case attempt > t.policy.MaxRetries:
			giveUp = "no retries left"
		case !resendable:
			giveUp = "the request body cannot be sent again"
		case ok && now.Add(wait+retryMargin).After(deadline):
			giveUp = "the wait would outlast the call's deadline"
		}
		if giveUp != "" {
			stats.gaveUp = attempt > 1
			t.logger.Warn("plannr request failed; not retrying", append(attrs,
				slog.String("reason", giveUp), slog.Duration("wanted_wait", wait), slog.Duration("elapsed", stats.elapsed))...)
			return resp, err
		}
		t.logger.Info("plannr request failed; retrying", append(attrs, slog.Duration("wait", wait))...)
		if err := t.clock.Sleep(ctx, wait); err != nil {
			stats.gaveUp = false
			return nil, err
		}
	}
}

// attempt sends the request once and reads the answer's body into memory.
func (t *retryTransport) attempt(ctx context.Context, req *http.Request, n int) (*http.Response, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if t.policy.AttemptTimeout > 0 {
		actx, cancel = context.WithTimeout(ctx, t.policy.AttemptTimeout)
	}
	defer cancel()
	r := req.Clone(actx)
	if n > 1 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("rewinding the request body: %w", err)
		}
		r.Body = body
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, t.attemptError(ctx, actx, err)
	}
	data, err := t.readBody(resp)
	resp.Body.Close()
	if err != nil {
		return nil, t.attemptError(ctx, actx, fmt.Errorf("reading the %d answer: %w", resp.StatusCode, err))
	}
	resp.Body = &bufferedBody{Reader: bytes.NewReader(data), data: data}
	resp.ContentLength = int64(len(data))
	return resp, nil
}

// readBody reads an answer's body, at most maxBody+1 bytes, into a slice
// allocated once at its final size: from Content-Length when the answer has
// one, or copied out of a reused buffer when it is chunked. (io.ReadAll
// would grow a fresh slice from 512 bytes, allocating and copying about
// twice the answer's size.)
func (t *retryTransport) readBody(resp *http.Response) ([]byte, error) {
	limit := t.maxBody + 1
	if n := resp.ContentLength; n >= 0 && n < limit {
		data := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	buf, _ := t.buffers.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			t.buffers.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, limit)); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// maxPooledBuffer is the largest buffer kept for the next answer; a rare
// huge answer's buffer is left to the garbage collector rather than kept.
const maxPooledBuffer = 1 << 20

// bufferedBody is an answer's body that attempt has read in full. Client
// decodes data where it lies rather than reading it into another buffer.
type bufferedBody struct {
	*bytes.Reader
	data []byte
}

func (*bufferedBody) Close() error { return nil }

// attemptError names an attempt that ran out of time as such.
func (t *retryTransport) attemptError(ctx, actx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &AttemptTimeoutError{Limit: t.policy.AttemptTimeout}
	}
	return err
}

// AttemptTimeoutError reports one attempt that got no complete answer
// within RetryPolicy.AttemptTimeout. It matches context.DeadlineExceeded.
type AttemptTimeoutError struct {
	// Limit is the attempt's time limit.
	Limit time.Duration
}

func (e *AttemptTimeoutError) Error() string {
	return fmt.Sprintf("no complete answer within %s", e.Limit)
}

// Is makes errors.Is(err, context.DeadlineExceeded) true.
func (e *AttemptTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true, as net.Error's Timeout does.
func (e *AttemptTimeoutError) Timeout() bool { return true }

// verdict is what the retry layer makes of one attempt.
type verdict struct {
	failure bool          // the attempt failed in a way worth retrying
	retry   bool          // ... and it may be retried
	wait    time.Duration // how long Plannr asked us to wait, if it did
}

// judge decides whether an attempt's outcome is worth another try.
func (t *retryTransport) judge(ctx context.Context, req *http.Request, resp *http.Response, err error, now time.Time) verdict {
	if ctx.Err() != nil {
		// Cancelled, or out of time: a call that ran out of time after a
		// retry still reports having given up.
		return verdict{failure: errors.Is(ctx.Err(), context.DeadlineExceeded)}
	}
	safe := repeatable(req.Method)
	if err != nil {
		transient := isTransient(err)
		return verdict{failure: transient, retry: transient && safe}
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		wait := ParseRetryAfter(resp.Header.Get("Retry-After"), now)
		if reset := parseUnixSeconds(resp.Header.Get("X-RateLimit-Reset")); wait == 0 && reset.After(now) {
			wait = reset.Sub(now)
		}
		return verdict{failure: true, retry: true, wait: wait}
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return verdict{failure: true, retry: safe, wait: ParseRetryAfter(resp.Header.Get("Retry-After"), now)}
	}
	return verdict{}
}

// repeatable reports whether sending a request twice has the same effect as
// sending it once. DELETE is left out on purpose: a retry after a lost
// answer would report "not found" for a connection the first attempt removed.
func repeatable(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut:
		return true
	}
	return false
}

// isTransient reports a network failure that may pass: a connection reset,
// closed or cut off mid-answer, or a timeout.
func isTransient(err error) bool {
	var (
		ne net.Error
		te *AttemptTimeoutError
	)
	switch {
	case errors.As(err, &te):
		return true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

// defaultRandom is the jitter source.
func defaultRandom() float64 { return rand.Float64() }
