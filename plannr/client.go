package plannr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
)

// DefaultBaseURL is Plannr's production API.
const DefaultBaseURL = "https://api.plannrcrm.com"

// DefaultTimeout bounds one call, including every retry, every wait and
// reading the answer.
const DefaultTimeout = 30 * time.Second

// DefaultMaxResponseBytes bounds how much of an answer the client reads: a
// list of about eighty thousand connections.
const DefaultMaxResponseBytes = 32 << 20

// AccountHeader carries the account a request acts for.
const AccountHeader = "X-PLANNR-ACCOUNT-UUID"

// Client talks to the Plannr API. It is safe for concurrent use.
//
// Every request takes the same path through Do: a bearer token from the
// token source, a slot from the rate limiter, then attempts and retries as
// the retry policy allows, each answer read in full, bounded, and scrubbed
// of secrets as it arrives, then checked (CheckResponse) and decoded.
type Client struct {
	clientConfig // baseURL normalized, without a trailing slash
	transport    http.RoundTripper
	source       oauth2.TokenSource
	random       func() float64
	buffers      bufferPool
	listCache    *listCache
	basePath     string // the base URL's path, which Endpoint leaves out
}

// Option configures a Client.
type Option func(*clientConfig) error

type clientConfig struct {
	baseURL     string
	userAgent   string
	accountUUID string
	timeout     time.Duration
	maxBody     int64
	retry       RetryPolicy
	limiter     *RateLimiter
	listTTL     time.Duration
	logger      *slog.Logger
	clock       Clock
	secrets     *untrusted.Secrets
	observer    Observer
	transport   http.RoundTripper
}

// WithBaseURL points the client at another Plannr, such as a test server.
func WithBaseURL(u string) Option {
	return func(c *clientConfig) error { c.baseURL = u; return nil }
}

// WithAccountUUID sends X-PLANNR-ACCOUNT-UUID with every request to an
// endpoint that takes it.
func WithAccountUUID(uuid string) Option {
	return func(c *clientConfig) error { c.accountUUID = uuid; return nil }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *clientConfig) error { c.userAgent = ua; return nil }
}

// WithTimeout bounds each call, retries and waits included; zero or less
// disables the bound.
func WithTimeout(d time.Duration) Option {
	return func(c *clientConfig) error { c.timeout = d; return nil }
}

// WithMaxResponseBytes bounds how much of an answer is read; a larger answer
// is an error (ResponseTooLargeError).
func WithMaxResponseBytes(n int64) Option {
	return func(c *clientConfig) error {
		if n <= 0 {
			return fmt.Errorf("plannr: max response bytes must be positive, got %d", n)
		}
		c.maxBody = n
		return nil
	}
}

// WithRetry sets how failed requests are retried; the default is
// DefaultRetryPolicy. RetryPolicy{} turns retries off.
func WithRetry(p RetryPolicy) Option {
	return func(c *clientConfig) error {
		if err := p.validate(); err != nil {
			return err
		}
		c.retry = p
		return nil
	}
}

// WithRateLimit gives the client its own rate limiter for l; the default is
// DefaultRateLimit. A zero Requests turns client-side limiting off. Clients
// that act with the same credential should share one limiter instead: see
// WithRateLimiter.
func WithRateLimit(l RateLimit) Option {
	return func(c *clientConfig) error { c.limiter = NewRateLimiter(l); return nil }
}

// WithRateLimiter makes the client take its slots from rl, which other
// clients acting with the same credential may share. A nil rl turns
// client-side limiting off.
func WithRateLimiter(rl *RateLimiter) Option {
	return func(c *clientConfig) error { c.limiter = rl; return nil }
}

// WithListCache keeps the result of ListOAuthConnections for ttl, so that
// repeated lists do not spend the rate limit; a rename or delete through the
// client empties it. Zero or less, the default, turns caching off.
func WithListCache(ttl time.Duration) Option {
	return func(c *clientConfig) error { c.listTTL = ttl; return nil }
}

// WithLogger receives one record per attempt: method, path, status or
// error, duration, and the wait before a retry. Tokens, headers and bodies
// are never logged. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *clientConfig) error {
		if l != nil {
			c.logger = l
		}
		return nil
	}
}

// WithClock replaces the clock that retries, the rate limiter and the list
// cache use to tell the time and to wait; tests use it to observe waits
// without sleeping. Per-attempt and per-call timeouts keep real time.
func WithClock(clock Clock) Option {
	return func(c *clientConfig) error {
		if clock == nil {
			return errors.New("plannr: clock must not be nil")
		}
		c.clock = clock
		return nil
	}
}

// WithSecrets names the secrets the process holds, which every answer is
// scrubbed of as it is read, besides the token its own request carried.
func WithSecrets(s *untrusted.Secrets) Option {
	return func(c *clientConfig) error { c.secrets = s; return nil }
}

// WithTransport sends the requests with rt rather than with a transport of
// the client's own, so that the clients of many people share connections.
// Redirects are still not followed.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *clientConfig) error { c.transport = rt; return nil }
}

// NewTransport returns an HTTP transport tuned for many concurrent calls to
// one host: keep-alive with enough idle connections for a busy HTTP server.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// NewClient returns a client that authenticates every request with a bearer
// token from ts. A Personal Access Token and an OAuth2 token take the same
// path: wrap a PAT in oauth2.StaticTokenSource. A source that also
// implements ContextTokenSource or Refresher gets each request's context,
// and a chance to replace a token Plannr rejects with 401.
func NewClient(ts oauth2.TokenSource, opts ...Option) (*Client, error) {
	if ts == nil {
		return nil, errors.New("plannr: a token source is required")
	}
	cfg := clientConfig{
		baseURL:   DefaultBaseURL,
		userAgent: "plannr-mcp",
		timeout:   DefaultTimeout,
		maxBody:   DefaultMaxResponseBytes,
		retry:     DefaultRetryPolicy(),
		limiter:   NewRateLimiter(DefaultRateLimit()),
		logger:    slog.New(slog.DiscardHandler),
		clock:     systemClock{},
	}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	base, err := url.Parse(strings.TrimRight(cfg.baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("plannr: base URL: %w", err)
	}
	if base.Scheme != "https" && base.Scheme != "http" || base.Host == "" {
		return nil, fmt.Errorf("plannr: base URL %q must be an absolute http or https URL", cfg.baseURL)
	}
	cfg.baseURL = strings.TrimRight(base.String(), "/")
	transport := cfg.transport
	if transport == nil {
		transport = NewTransport()
	}
	return &Client{
		clientConfig: cfg,
		// The transport is used directly, not through an http.Client:
		// Plannr's API does not redirect, and following a redirect could
		// carry the bearer token to another host.
		transport: transport,
		source:    ts,
		random:    defaultRandom,
		listCache: newListCache(cfg.listTTL),
		basePath:  base.Path,
	}, nil
}

// RequestOption changes one request.
type RequestOption func(*http.Request)

// WithAccount sends uuid as the request's account instead of the client's;
// an empty uuid sends no account header.
func WithAccount(uuid string) RequestOption {
	return func(r *http.Request) {
		if uuid == "" {
			r.Header.Del(AccountHeader)
		} else {
			r.Header.Set(AccountHeader, uuid)
		}
	}
}

// NewRequest prepares a request to the API path, such as
// "/api/v1/oauth/connections", with body (if not nil) encoded as JSON.
func (c *Client) NewRequest(ctx context.Context, method, path string, body any, opts ...RequestOption) (*http.Request, error) {
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("plannr: encoding request: %w", err)
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, reader)
	if err != nil {
		return nil, fmt.Errorf("plannr: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.accountUUID != "" {
		req.Header.Set(AccountHeader, c.accountUUID)
	}
	for _, opt := range opts {
		opt(req)
	}
	return req, nil
}

// Response is Plannr's answer to a request sent by Do.
type Response struct {
	// StatusCode and Header are those of the last attempt's answer.
	StatusCode int
	// Header holds the last answer's headers.
	Header http.Header
	// Attempts is how many times the request was sent.
	Attempts int
	// Elapsed is the time from the first attempt to the answer, waits included.
	Elapsed time.Duration
}

// Do sends req and decodes a successful JSON answer into v (unless v is nil
// or the answer is 204). A non-2xx answer is an *ErrorResponse (or
// *RateLimitError); a request that may have reached Plannr without a
// definite answer also matches ErrOutcomeUnknown.
func (c *Client) Do(req *http.Request, v any) (*Response, error) {
	resp, body, err := c.roundTrip(req)
	if err != nil || v == nil || resp.StatusCode == http.StatusNoContent {
		return resp, err
	}
	if err := decodeJSON(body, v); err != nil {
		return resp, malformed(req.Method, req.URL.Path, resp.StatusCode, body, err)
	}
	return resp, nil
}

// roundTrip is Do without the decoding: it returns a 2xx answer's body.
func (c *Client) roundTrip(req *http.Request) (*Response, []byte, error) {
	ctx := req.Context()
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	method, path := req.Method, req.URL.Path
	x := &exchange{start: c.clock.Now()}
	if c.observer != nil {
		x.endpoint = c.endpoint(req)
		var end func(RequestOutcome)
		ctx, end = c.observer.StartRequest(ctx, x.endpoint)
		defer func() { end(RequestOutcome{Endpoint: x.endpoint, Status: x.status, Attempts: x.attempts, Err: x.err}) }()
	}
	fail := func(err error) (*Response, []byte, error) {
		if x.gaveUp && x.attempts > 1 {
			err = &RetryError{Attempts: x.attempts, Elapsed: x.elapsed, Err: err}
		}
		if x.uncertain {
			err = outcomeUnknown{err}
		}
		x.err = err
		return nil, nil, err
	}

	tok, err := c.token(ctx)
	if err != nil {
		return fail(err)
	}
	err = c.send(ctx, req, tok, x)
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if err == nil && x.status == http.StatusUnauthorized && replayable {
		// Plannr can revoke a token before its expiry: a source that can
		// replace it gets one chance to, and the request is sent once more.
		fresh, ferr := c.replacement(ctx, tok)
		if ferr != nil {
			return fail(ferr)
		}
		if fresh != nil {
			err = c.send(ctx, req, fresh, x)
		}
	}
	if err != nil {
		return fail(fmt.Errorf("plannr: %s %s: %w", method, path, err))
	}
	resp := &Response{StatusCode: x.status, Header: x.header, Attempts: x.attempts, Elapsed: x.elapsed}
	if err := CheckResponse(method, path, resp, x.body, c.clock.Now()); err != nil {
		return fail(err)
	}
	return resp, x.body, nil
}

// ListOAuthConnections returns every OAuth2 connection of the account. A
// connection with a field that cannot be read is returned with that field
// unknown (see Connection.Unreadable); only an answer that is not a list of
// connections at all is an error. With WithListCache, a list fetched within
// the cache's lifetime is returned without asking Plannr.
func (c *Client) ListOAuthConnections(ctx context.Context) ([]Connection, error) {
	if conns, ok := c.listCache.get(c.clock.Now()); ok {
		return conns, nil
	}
	gen := c.listCache.generation()
	const path = "/api/v1/oauth/connections"
	req, err := c.NewRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	_, body, err := c.roundTrip(req)
	if err != nil {
		return nil, err
	}
	conns, err := decodeList(body)
	if err != nil {
		return nil, malformed(http.MethodGet, path, http.StatusOK, body, err)
	}
	c.listCache.put(gen, conns, c.clock.Now())
	return conns, nil
}

// RenameOAuthConnection sets a connection's label and returns the updated connection.
func (c *Client) RenameOAuthConnection(ctx context.Context, uuid, label string) (*Connection, error) {
	path := "/api/v1/oauth/connections/" + url.PathEscape(uuid)
	req, err := c.NewRequest(ctx, http.MethodPut, path, struct {
		Label string `json:"label"`
	}{label})
	if err != nil {
		return nil, err
	}
	c.listCache.invalidate()
	defer c.listCache.invalidate()
	var body connectionBody
	if _, err := c.Do(req, &body); err != nil {
		return nil, err
	}
	conn, err := body.connection()
	if err != nil {
		return nil, malformed(http.MethodPut, path, http.StatusOK, nil, err)
	}
	return conn, nil
}

// DeleteOAuthConnection removes a connection between the account and the
// third party entirely. Add-ons that depend on it stop working.
func (c *Client) DeleteOAuthConnection(ctx context.Context, uuid string) error {
	req, err := c.NewRequest(ctx, http.MethodDelete, "/api/v1/oauth/connections/"+url.PathEscape(uuid), nil)
	if err != nil {
		return err
	}
	c.listCache.invalidate()
	defer c.listCache.invalidate()
	_, err = c.Do(req, nil)
	return err
}

// ListLogins returns the authenticated user's logins; each names the
// account whose uuid goes in X-PLANNR-ACCOUNT-UUID. The endpoint takes only
// the bearer token, so no account header is sent: it must work precisely
// when the configured account is wrong.
func (c *Client) ListLogins(ctx context.Context) ([]Login, error) {
	req, err := c.NewRequest(ctx, http.MethodGet, "/api/v1/logins", nil, WithAccount(""))
	if err != nil {
		return nil, err
	}
	var body struct {
		Data []Login `json:"data"`
	}
	if _, err := c.Do(req, &body); err != nil {
		return nil, err
	}
	return body.Data, nil
}
