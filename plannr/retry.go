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
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/internal/neterr"
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

// ErrOutcomeUnknown marks a failed request that may have reached Plannr
// and been carried out: an attempt was sent and its answer was lost (the
// connection dropped, the attempt timed out) or was a server error. A
// failed request that does not match it certainly changed nothing: it was
// never sent, or Plannr refused it with a 4xx.
var ErrOutcomeUnknown = errors.New("the request may have reached Plannr and been carried out")

// outcomeUnknown marks err with ErrOutcomeUnknown, keeping its message.
type outcomeUnknown struct{ err error }

func (e outcomeUnknown) Error() string   { return e.err.Error() }
func (e outcomeUnknown) Unwrap() []error { return []error{e.err, ErrOutcomeUnknown} }

// exchange is what sending one request has come to so far, over every
// attempt: the last answer, and what is known of the ones before it.
type exchange struct {
	start    time.Time
	attempts int
	elapsed  time.Duration
	// gaveUp is set when the final failure was one worth retrying, but the
	// attempts or the time ran out.
	gaveUp bool
	// uncertain is set once an attempt reached Plannr without a definite
	// answer: it may have been carried out.
	uncertain bool

	status int
	header http.Header
	body   []byte

	// endpoint and err are kept for an Observer only.
	endpoint string
	err      error
}

// attempt is the outcome of sending a request once.
type attempt struct {
	status int
	header http.Header
	body   []byte
	err    error
	// wrote reports that the whole request was written to the connection.
	wrote bool
}

// retryMargin is the least time an attempt after a wait must have before
// the call's deadline; a wait that would leave less is not started.
const retryMargin = time.Second

// send sends req with tok until Plannr answers in a way not worth retrying,
// or the policy or the deadline says to stop; x records the outcome. A
// non-nil error means no answer came back; the answer otherwise, whatever
// its status, is in x.
func (c *Client) send(ctx context.Context, req *http.Request, tok *oauth2.Token, x *exchange) error {
	resendable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for n := 1; ; n++ {
		held, err := c.limiter.wait(ctx, c.clock)
		if err != nil {
			var te *ThrottleError
			if errors.As(err, &te) {
				c.logger.Warn("plannr request held back by the rate limiter",
					slog.String("method", req.Method), slog.String("path", req.URL.Path), slog.Duration("wanted_wait", te.Wait))
				if c.observer != nil {
					c.observer.RateLimited(ctx, x.endpoint, te.Wait, true)
				}
			}
			return err
		}
		if held > 0 && c.observer != nil {
			c.observer.RateLimited(ctx, x.endpoint, held, false)
		}
		began := time.Now() // real time: how long the wire took, for the log
		a := c.attempt(ctx, req, tok)
		took := time.Since(began)
		now := c.clock.Now()
		x.attempts++
		x.elapsed = now.Sub(x.start)
		if a.wrote && (a.err != nil || a.status >= 500) {
			x.uncertain = true
		}

		v := judge(ctx, req.Method, a, now)
		attrs := []any{
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("attempt", x.attempts),
			slog.Duration("duration", took),
		}
		if held > 0 {
			attrs = append(attrs, slog.Duration("rate_limit_wait", held))
		}
		if a.err == nil {
			attrs = append(attrs, slog.Int("status", a.status))
			if a.status == http.StatusTooManyRequests && v.wait > 0 {
				c.limiter.pause(now, now.Add(v.wait))
			} else {
				c.limiter.observe(now, a.header)
			}
		} else {
			attrs = append(attrs, slog.String("error", a.err.Error()))
		}

		observe := func(cause string, wait time.Duration) {
			if c.observer == nil {
				return
			}
			info := AttemptInfo{Endpoint: x.endpoint, Status: a.status, Duration: took, RetryCause: cause, RetryWait: wait, Remaining: -1}
			if a.err != nil {
				info.Failure = failureClass(ctx, a.err)
			} else {
				info.Remaining = remainingOf(a.header)
			}
			c.observer.Attempted(ctx, info)
		}
		if !v.retry {
			observe("", 0)
			x.gaveUp = v.failure && x.attempts > 1
			if x.gaveUp {
				c.logger.Warn("plannr request failed", append(attrs, slog.Duration("elapsed", x.elapsed))...)
			} else {
				c.logger.Debug("plannr request", attrs...)
			}
			x.status, x.header, x.body = a.status, a.header, a.body
			return a.err
		}
		wait := v.wait
		if wait <= 0 {
			wait = c.retry.backoff(n, c.random)
		}
		giveUp := ""
		switch deadline, ok := ctx.Deadline(); {
		case n > c.retry.MaxRetries:
			giveUp = "no retries left"
		case !resendable:
			giveUp = "the request body cannot be sent again"
		case ok && now.Add(wait+retryMargin).After(deadline):
			giveUp = "the wait would outlast the call's deadline"
		}
		if giveUp != "" {
			observe("", 0)
			x.gaveUp = x.attempts > 1
			c.logger.Warn("plannr request failed; not retrying", append(attrs,
				slog.String("reason", giveUp), slog.Duration("wanted_wait", wait), slog.Duration("elapsed", x.elapsed))...)
			x.status, x.header, x.body = a.status, a.header, a.body
			return a.err
		}
		observe(retryCause(ctx, a), wait)
		c.logger.Info("plannr request failed; retrying", append(attrs, slog.Duration("wait", wait))...)
		if err := c.clock.Sleep(ctx, wait); err != nil {
			x.gaveUp = false
			return err
		}
	}
}

// attempt sends req once with tok and reads the answer in full. The answer
// is scrubbed of secrets here, where it enters the process: of the token
// this request carried, and of every secret the client was given.
func (c *Client) attempt(ctx context.Context, req *http.Request, tok *oauth2.Token) attempt {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.retry.AttemptTimeout > 0 {
		actx, cancel = context.WithTimeout(ctx, c.retry.AttemptTimeout)
	}
	defer cancel()
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			wrote.Store(true)
		}
	}}
	r := req.Clone(httptrace.WithClientTrace(actx, trace))
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return attempt{err: fmt.Errorf("rewinding the request body: %w", err)}
		}
		r.Body = body
	}
	tok.SetAuthHeader(r)
	resp, err := c.transport.RoundTrip(r)
	if err != nil {
		return attempt{err: c.secrets.RedactError(r, attemptError(ctx, actx, c.retry.AttemptTimeout, err)), wrote: wrote.Load()}
	}
	body, err := c.readBody(resp)
	resp.Body.Close()
	if err != nil {
		return attempt{err: c.secrets.RedactError(r, attemptError(ctx, actx, c.retry.AttemptTimeout, err)), wrote: true}
	}
	return attempt{status: resp.StatusCode, header: resp.Header, body: c.secrets.RedactAnswer(r, body), wrote: true}
}

// readBody reads an answer's body, at most maxBody bytes, into a slice
// allocated once at its final size: from Content-Length when the answer has
// one, or copied out of a reused buffer when it is chunked. (io.ReadAll
// would grow a fresh slice from 512 bytes, allocating and copying about
// twice the answer's size.)
func (c *Client) readBody(resp *http.Response) ([]byte, error) {
	tooLarge := &ResponseTooLargeError{Limit: c.maxBody}
	if n := resp.ContentLength; n > c.maxBody {
		return nil, tooLarge
	} else if n >= 0 {
		data := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, data); err != nil {
			return nil, fmt.Errorf("reading the %d answer: %w", resp.StatusCode, err)
		}
		return data, nil
	}
	buf := c.buffers.get()
	defer c.buffers.put(buf)
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, c.maxBody+1)); err != nil {
		return nil, fmt.Errorf("reading the %d answer: %w", resp.StatusCode, err)
	}
	if int64(buf.Len()) > c.maxBody {
		return nil, tooLarge
	}
	return bytes.Clone(buf.Bytes()), nil
}

// bufferPool holds buffers for answers of unknown length.
type bufferPool struct{ pool sync.Pool }

// maxPooledBuffer is the largest buffer kept for the next answer; a rare
// huge answer's buffer is left to the garbage collector rather than kept.
const maxPooledBuffer = 1 << 20

func (p *bufferPool) get() *bytes.Buffer {
	if b, ok := p.pool.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (p *bufferPool) put(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		b.Reset()
		p.pool.Put(b)
	}
}

// attemptError names an attempt that ran out of time as such.
func attemptError(ctx, actx context.Context, limit time.Duration, err error) error {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &AttemptTimeoutError{Limit: limit}
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		// The transport's wording ("net/http: request canceled") hides
		// whether the call was cancelled or ran out of time.
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
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

// verdict is what the retry logic makes of one attempt.
type verdict struct {
	failure bool          // the attempt failed in a way worth retrying
	retry   bool          // ... and it may be retried
	wait    time.Duration // how long Plannr asked us to wait, if it did
}

// judge decides whether an attempt's outcome is worth another try.
func judge(ctx context.Context, method string, a attempt, now time.Time) verdict {
	if ctx.Err() != nil {
		// Cancelled, or out of time: a call that ran out of time after a
		// retry still reports having given up.
		return verdict{failure: errors.Is(ctx.Err(), context.DeadlineExceeded)}
	}
	safe := repeatable(method)
	if a.err != nil {
		transient := isTransient(a.err)
		return verdict{failure: transient, retry: transient && safe}
	}
	switch a.status {
	case http.StatusTooManyRequests:
		wait := ParseRetryAfter(a.header.Get("Retry-After"), now)
		if reset := parseUnixSeconds(a.header.Get("X-RateLimit-Reset")); wait == 0 && reset.After(now) {
			wait = reset.Sub(now)
		}
		return verdict{failure: true, retry: true, wait: wait}
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return verdict{failure: true, retry: safe, wait: ParseRetryAfter(a.header.Get("Retry-After"), now)}
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
	case neterr.IsReset(err), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

// defaultRandom is the jitter source.
func defaultRandom() float64 { return rand.Float64() }
