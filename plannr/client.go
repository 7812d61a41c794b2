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
	"strconv"
	"strings"
	"time"
	"unicode"

	sjson "github.com/segmentio/encoding/json"
	"golang.org/x/oauth2"
)

// DefaultBaseURL is Plannr's production API.
const DefaultBaseURL = "https://api.plannrcrm.com"

// DefaultTimeout bounds one call, including every retry, every wait and
// reading the answer.
const DefaultTimeout = 30 * time.Second

// DefaultMaxResponseBytes bounds how much of an answer the client reads.
const DefaultMaxResponseBytes = 8 << 20

// AccountHeader carries the account a request acts for.
const AccountHeader = "X-PLANNR-ACCOUNT-UUID"

// Client talks to the Plannr API. It is safe for concurrent use.
type Client struct {
	baseURL     string // without a trailing slash
	httpClient  *http.Client
	userAgent   string
	accountUUID string
	timeout     time.Duration
	maxBody     int64
	clock       Clock
	listCache   *listCache
}

// Option configures a Client.
type Option func(*clientConfig) error

type clientConfig struct {
	baseURL     string
	transport   http.RoundTripper
	userAgent   string
	accountUUID string
	timeout     time.Duration
	maxBody     int64
	retry       RetryPolicy
	limiter     *RateLimiter
	listTTL     time.Duration
	logger      *slog.Logger
	clock       Clock
}

// WithBaseURL points the client at another Plannr, such as a test server.
func WithBaseURL(u string) Option {
	return func(c *clientConfig) error { c.baseURL = u; return nil }
}

// WithAccountUUID sends X-PLANNR-ACCOUNT-UUID with every request.
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

// WithTransport sets the transport that sends requests, beneath the
// bearer-token transport and the retry and rate-limit layer.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *clientConfig) error { c.transport = rt; return nil }
}

// WithMaxResponseBytes bounds how much of an answer is read; a larger answer is an error.
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
	transport := cfg.transport
	if transport == nil {
		transport = NewTransport()
	}
	// The resilience layer sits beneath the bearer-token transport, next to
	// the wire: every attempt, including one re-sent after a token refresh
	// above, takes a rate-limit slot and gets the same retry treatment.
	resilient := &retryTransport{
		next:    transport,
		policy:  cfg.retry,
		limiter: cfg.limiter,
		clock:   cfg.clock,
		logger:  cfg.logger,
		maxBody: cfg.maxBody,
		random:  defaultRandom,
	}
	return &Client{
		baseURL: strings.TrimRight(base.String(), "/"),
		httpClient: &http.Client{
			Transport: &bearerTransport{source: ts, base: resilient},
			// Plannr's API does not redirect; following one could carry the
			// bearer token to another host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		userAgent:   cfg.userAgent,
		accountUUID: cfg.accountUUID,
		timeout:     cfg.timeout,
		maxBody:     cfg.maxBody,
		clock:       cfg.clock,
		listCache:   newListCache(cfg.listTTL),
	}, nil
}

// ListOAuthConnections returns every OAuth2 connection of the account.
// With WithListCache, a list fetched within the cache's lifetime is
// returned without asking Plannr.
func (c *Client) ListOAuthConnections(ctx context.Context) ([]Connection, error) {
	if conns, ok := c.listCache.get(c.clock.Now()); ok {
		return conns, nil
	}
	gen := c.listCache.generation()
	const path = "/api/v1/oauth/connections"
	var body struct {
		Data []wireConnection `json:"data"`
	}
	if err := c.do(ctx, http.MethodGet, path, nil, &body); err != nil {
		return nil, err
	}
	conns := make([]Connection, len(body.Data))
	for i := range body.Data {
		conn, err := body.Data[i].connection()
		if err != nil {
			return nil, fmt.Errorf("plannr: GET %s: %w: decoding the 200 answer: %w", path, ErrMalformedResponse, err)
		}
		conns[i] = conn
	}
	c.listCache.put(gen, conns, c.clock.Now())
	return conns, nil
}

// RenameOAuthConnection sets a connection's label and returns the updated connection.
func (c *Client) RenameOAuthConnection(ctx context.Context, uuid, label string) (*Connection, error) {
	var body connectionBody
	req := struct {
		Label string `json:"label"`
	}{label}
	c.listCache.invalidate()
	defer c.listCache.invalidate()
	if err := c.do(ctx, http.MethodPut, "/api/v1/oauth/connections/"+url.PathEscape(uuid), req, &body); err != nil {
		return nil, err
	}
	return body.connection()
}

// DeleteOAuthConnection removes a connection between the account and the
// third party entirely. Add-ons that depend on it stop working.
func (c *Client) DeleteOAuthConnection(ctx context.Context, uuid string) error {
	c.listCache.invalidate()
	defer c.listCache.invalidate()
	return c.do(ctx, http.MethodDelete, "/api/v1/oauth/connections/"+url.PathEscape(uuid), nil, nil)
}

// ListLogins returns the authenticated user's logins; each names the account
// whose uuid goes in X-PLANNR-ACCOUNT-UUID.
func (c *Client) ListLogins(ctx context.Context) ([]Login, error) {
	var body struct {
		Data []Login `json:"data"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/logins", nil, &body); err != nil {
		return nil, err
	}
	return body.Data, nil
}

// connectionBody is an answer holding one connection, which Plannr
// documents as unwrapped but which Laravel resources often wrap in "data".
// Both forms decode in one pass over the answer; a "data" member is decoded
// again only when there is one.
type connectionBody struct {
	Data json.RawMessage `json:"data"`
	wireConnection
}

func (b *connectionBody) connection() (*Connection, error) {
	w := &b.wireConnection
	if len(b.Data) > 0 && string(b.Data) != "null" {
		var wrapped wireConnection
		if err := sjson.Unmarshal(b.Data, &wrapped); err == nil && wrapped.UUID != "" {
			w = &wrapped
		}
	}
	conn, err := w.connection()
	if err != nil {
		return nil, fmt.Errorf("%w: decoding connection: %w", ErrMalformedResponse, err)
	}
	return &conn, nil
}

// ErrResponseTooLarge reports an answer larger than the client will read.
var ErrResponseTooLarge = errors.New("response body too large")

// ErrMalformedResponse reports a successful answer whose body is not the
// JSON the client expects: cut short, or not from Plannr's API at all.
var ErrMalformedResponse = errors.New("answer is not the expected JSON")

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("plannr: encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	stats := &attemptStats{}
	req, err := http.NewRequestWithContext(withAttemptStats(ctx, stats), method, c.baseURL+path, body)
	if err != nil {
		return fmt.Errorf("plannr: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.accountUUID != "" {
		req.Header.Set(AccountHeader, c.accountUUID)
	}

	err = c.send(req, method, path, out)
	if err != nil && stats.gaveUp && stats.attempts > 1 {
		return &RetryError{Attempts: stats.attempts, Elapsed: stats.elapsed, Err: err}
	}
	return err
}

// send sends a prepared request and decodes its answer into out.
func (c *Client) send(req *http.Request, method, path string, out any) error {
	resp, err := c.httpClient.Do(req)
	if err != nil {
		var ce *CredentialError
		if errors.As(err, &ce) {
			return ce
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			// The URL is already in our message; url.Error would repeat it.
			err = ue.Err
		}
		return fmt.Errorf("plannr: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()

	var data []byte
	if body, ok := resp.Body.(*bufferedBody); ok {
		data = body.data // read in full, and bounded, by the resilience layer
	} else if data, err = io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1)); err != nil {
		return fmt.Errorf("plannr: %s %s: reading response: %w", method, path, err)
	}
	if int64(len(data)) > c.maxBody {
		return fmt.Errorf("plannr: %s %s: %w (over %d bytes)", method, path, ErrResponseTooLarge, c.maxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newResponseError(method, path, resp, data, c.clock.Now())
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	// Decoding Plannr's answer is the largest piece of a list call's own
	// work. segmentio/encoding/json, a drop-in replacement for encoding/json
	// (and what the official MCP Go SDK decodes with), reads a list of
	// connections about four times faster.
	if err := sjson.Unmarshal(data, out); err != nil {
		return fmt.Errorf("plannr: %s %s: %w: decoding the %d answer: %w", method, path, ErrMalformedResponse, resp.StatusCode, err)
	}
	return nil
}

// newResponseError builds the typed error for a non-2xx answer.
func newResponseError(method, path string, resp *http.Response, body []byte, now time.Time) error {
	e := &ErrorResponse{Method: method, Path: path, StatusCode: resp.StatusCode}
	var laravel struct {
		Message string              `json:"message"`
		Errors  map[string][]string `json:"errors"`
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		e.Message = ""
	case json.Unmarshal(trimmed, &laravel) == nil && (laravel.Message != "" || laravel.Errors != nil):
		e.Message = laravel.Message
		e.Errors = laravel.Errors
	case looksLikeHTML(trimmed):
		e.Message = "the answer was an HTML page, not JSON (often a proxy or gateway error page)"
	default:
		e.Message = snippet(trimmed, 200)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return &RateLimitError{
			ErrorResponse: e,
			RetryAfter:    ParseRetryAfter(resp.Header.Get("Retry-After"), now),
			Reset:         parseUnixSeconds(resp.Header.Get("X-RateLimit-Reset")),
		}
	}
	return e
}

// ParseRetryAfter reads a Retry-After header given in seconds or as an HTTP
// date; it returns zero when the header is absent, malformed or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func parseUnixSeconds(v string) time.Time {
	secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || secs <= 0 {
		return time.Time{}
	}
	return time.Unix(secs, 0)
}

func looksLikeHTML(b []byte) bool {
	head := strings.ToLower(string(b[:min(len(b), 256)]))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html") || strings.Contains(head, "<body")
}

// snippet returns at most n runes of b with control characters replaced, so
// that an unexpected body can be quoted in an error without harm.
func snippet(b []byte, n int) string {
	var sb strings.Builder
	count := 0
	for _, r := range string(b) {
		if count == n {
			sb.WriteString("…")
			break
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		sb.WriteRune(r)
		count++
	}
	return sb.String()
}

// WithoutAccount returns a client like c that sends no X-PLANNR-ACCOUNT-UUID
// header, for endpoints such as /api/v1/logins that take only the bearer
// token and must work while the configured account is wrong.
func (c *Client) WithoutAccount() *Client {
	cp := *c
	cp.accountUUID = ""
	return &cp
}
