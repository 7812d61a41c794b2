// Package httpserve serves an MCP server over the streamable HTTP transport,
// with the protections mcp-go's handler leaves to its user: client bearer
// tokens, an Origin allow-list, DNS-rebinding protection, a request body
// limit, a cap on live sessions, idle session expiry, timeouts and graceful
// shutdown.
//
// The MCP endpoint is /mcp; /healthz answers liveness probes. By default the
// server is stateful: a client's initialize creates a session that later
// requests name in the Mcp-Session-Id header, so a client must keep talking
// to the same process. In stateless mode no session state is held and any
// replica can answer any request. Requests using protocol version 2026-07-28
// or later carry no session in either mode.
package httpserve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/server"
)

// Endpoint is the path of the MCP endpoint.
const Endpoint = "/mcp"

// HealthPath is the path of the liveness probe.
const HealthPath = "/healthz"

// Defaults for the zero fields of Config.
const (
	DefaultAddr               = "127.0.0.1:8080"
	DefaultMaxBodyBytes       = 1 << 20
	DefaultMaxSessions        = 1000
	DefaultSessionIdleTimeout = 30 * time.Minute
	DefaultReadHeaderTimeout  = 10 * time.Second
	DefaultReadTimeout        = 30 * time.Second
	DefaultIdleTimeout        = 2 * time.Minute
	DefaultShutdownTimeout    = 20 * time.Second
)

// maxHeaderBytes bounds a request's headers; MCP requests need little.
const maxHeaderBytes = 64 << 10

// ErrNoClientTokens reports a listen address other clients could reach while
// no client tokens are configured.
var ErrNoClientTokens = errors.New("no client tokens are configured")

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	// Addr is the host:port to listen on.
	Addr string
	// Tokens are the bearer tokens clients must send. With none, the
	// server only listens on loopback addresses and accepts any local client.
	Tokens []string
	// AllowedOrigins lists the browser origins (scheme://host[:port]) that
	// may call the server; a request carrying any other Origin is refused.
	// CORS headers are sent to these origins only.
	AllowedOrigins []string
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For header names the client in logs. Other X-Forwarded-*
	// headers are never used.
	TrustedProxies []netip.Prefix
	// Stateless holds no session state, for running several replicas.
	Stateless bool
	// MaxBodyBytes bounds a request body; larger ones get 413.
	MaxBodyBytes int64
	// MaxSessions bounds the live sessions of the stateful mode; an
	// initialize beyond it gets 503.
	MaxSessions int
	// SessionIdleTimeout ends a stateful session after this long without a request.
	SessionIdleTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, headers and body. It does
	// not bound the time taken to answer.
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds how long requests in flight may run once
	// shutdown has begun.
	ShutdownTimeout time.Duration
	// Logger receives the server's logs; nil discards them. It never
	// receives a token or a session id.
	Logger *slog.Logger
	// OnReject, if set, is called with a short, bounded name of the reason
	// (such as "wrong_client_token") each time the guard refuses a request, for metrics.
	OnReject func(reason string)
	// Verifier, when set, checks OAuth access tokens instead of client
	// tokens: the remote mode, where each request acts for its person.
	Verifier Verifier
	// Handlers are served beside the MCP endpoint, by mux pattern, behind
	// the Host check: the authorization server's endpoints.
	Handlers map[string]http.Handler
	// PublicHosts are Host values a loopback listener accepts besides
	// loopback names: the public URL's, for a reverse proxy on this machine.
	PublicHosts []string
}

func (c Config) withDefaults() Config {
	c.Addr = cmp.Or(c.Addr, DefaultAddr)
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, DefaultMaxBodyBytes)
	c.MaxSessions = cmp.Or(c.MaxSessions, DefaultMaxSessions)
	c.SessionIdleTimeout = cmp.Or(c.SessionIdleTimeout, DefaultSessionIdleTimeout)
	c.ReadHeaderTimeout = cmp.Or(c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, DefaultReadTimeout)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, DefaultIdleTimeout)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.MaxBodyBytes < 0:
		return errors.New("the maximum request body must be positive")
	case c.MaxSessions < 0:
		return errors.New("the maximum number of sessions must be positive")
	case c.SessionIdleTimeout < 0, c.ReadHeaderTimeout < 0, c.ReadTimeout < 0, c.IdleTimeout < 0, c.ShutdownTimeout < 0:
		return errors.New("timeouts must be positive")
	}
	for _, o := range c.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			return err
		}
	}
	return nil
}

// checkOrigin accepts an origin as browsers send it: scheme://host[:port].
func checkOrigin(o string) error {
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || scheme == "" || rest == "" || strings.ContainsAny(rest, "/?#@ ") || strings.ToLower(o) != o {
		return fmt.Errorf("allowed origin %q: write it as a browser sends it, scheme://host[:port] in lower case, without a path", o)
	}
	return nil
}

// Server is an MCP server served over streamable HTTP. Create it with New
// and run it with Serve or ListenAndServe, once.
type Server struct {
	cfg        Config
	logger     *slog.Logger
	tokens     *tokenSet
	origins    map[string]bool
	sessions   *sessionTable // nil when stateless
	subjects   subjects      // of the Verifier's tokens
	streamable *server.StreamableHTTPServer
	http       *http.Server

	// streams ends once shutdown has let the calls in flight finish,
	// ending the long-lived streams (GET and subscriptions/listen) that
	// would otherwise hold it up.
	streams     context.Context
	stopStreams context.CancelFunc
	calls       atomic.Int64 // requests in flight other than streams
}

// New builds a server for mcpServer. It fails when the configuration is
// invalid, or when cfg.Addr is not a loopback address and no client tokens
// are configured (the error wraps ErrNoClientTokens).
func New(mcpServer *server.MCPServer, cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tokens, err := newTokenSet(cfg.Tokens)
	if err != nil {
		return nil, err
	}
	cfg.Tokens = nil // the digests are all the server needs
	if !tokens.enabled() && cfg.Verifier == nil && !loopbackAddr(cfg.Addr) {
		return nil, exposureError(cfg.Addr)
	}
	s := &Server{
		cfg:     cfg,
		logger:  cfg.Logger,
		tokens:  tokens,
		origins: map[string]bool{},
	}
	for _, o := range cfg.AllowedOrigins {
		s.origins[o] = true
	}
	s.streams, s.stopStreams = context.WithCancel(context.Background())

	opts := []server.StreamableHTTPOption{
		server.WithEndpointPath(Endpoint),
		server.WithStreamableHTTPLogger(slog.New(redactSessions{cfg.Logger.Handler()})),
	}
	if cfg.Stateless {
		opts = append(opts, server.WithStateLess(true), server.WithDisableStreaming(true))
	} else {
		s.sessions = newSessionTable(cfg.MaxSessions)
		opts = append(opts,
			server.WithSessionIdManagerResolver(s.sessions),
			server.WithSessionIdleTTL(cfg.SessionIdleTimeout))
	}
	s.streamable = server.NewStreamableHTTPServer(mcpServer, opts...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+HealthPath, health)
	mux.Handle(Endpoint, s.guard(s.streamable))
	for pattern, h := range cfg.Handlers {
		mux.Handle(pattern, s.checkHost(h))
	}
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}

	return s, nil
}

func exposureError(addr string) error {
	return fmt.Errorf("refusing to serve on %s, which other machines may reach, because %w; anyone reaching it could act on the Plannr account", addr, ErrNoClientTokens)
}

// ListenAndServe listens on the configured address and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		s.close()
		return fmt.Errorf("listening on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down gracefully: it stops
// accepting connections, lets the calls in flight finish, then ends the
// sessions and their streams, all within the shutdown timeout. It returns
// nil after a clean shutdown, and an error wrapping
// context.DeadlineExceeded when calls had to be cut off.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	authenticated := s.tokens.enabled() || s.cfg.Verifier != nil
	if !authenticated && !loopbackAddr(ln.Addr().String()) {
		ln.Close()
		s.close()
		return exposureError(ln.Addr().String())
	}
	url := "http://" + ln.Addr().String() + Endpoint
	if !authenticated {
		s.logger.Warn("no client tokens configured: any program on this machine can use this server")
	}
	s.logger.Info("serving MCP over HTTP", "url", url, "stateless", s.cfg.Stateless, "client_auth", authenticated)

	served := make(chan error, 1)
	go func() { served <- s.http.Serve(ln) }()
	select {
	case err := <-served:
		s.close()
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}

	s.logger.Info("shutting down: accepting no new connections, waiting for calls in flight",
		"calls", s.calls.Load(), "timeout", s.cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	// Shutdown closes the listener at once, then waits for every request.
	closed := make(chan error, 1)
	go func() { closed <- s.http.Shutdown(shutdownCtx) }()
	// Streams end only once the calls are done: a client may give up on a
	// session whose stream ends, and with it on a call still running.
	s.waitForCalls(shutdownCtx)
	// A call's answer is written before its count drops, but the client may
	// not have read it yet; a client that sees its stream end first can
	// abandon the session and the answer with it. Give answers a moment.
	select {
	case <-time.After(streamEndGrace):
	case <-shutdownCtx.Done():
	}
	s.stopStreams()
	_ = s.streamable.Shutdown(shutdownCtx) // ends every session and its GET stream
	if err := <-closed; err != nil {
		left := s.calls.Load()
		_ = s.http.Close()
		<-served
		return fmt.Errorf("shutting down: %d calls were still running after %s and were cut off: %w", left, s.cfg.ShutdownTimeout, err)
	}
	<-served
	s.logger.Info("HTTP server stopped")
	return nil
}

// streamEndGrace is how long shutdown waits, after the last call has been
// answered, before it ends the long-lived streams.
const streamEndGrace = 500 * time.Millisecond

// waitForCalls returns once no call is in flight, or when ctx ends.
func (s *Server) waitForCalls(ctx context.Context) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.calls.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// close releases what New started, for a server that will not serve.
func (s *Server) close() {
	s.stopStreams()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.streamable.Shutdown(ctx)
}

// health answers liveness probes. It reveals nothing, not even the version.
func health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// loopbackAddr reports whether addr (host:port or host) only listens on a
// loopback interface. An empty host listens on every interface.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// redactSessions drops session ids from mcp-go's transport logs: with the
// client's token, a session id is enough to act in that session.
type redactSessions struct{ slog.Handler }

// Handle passes the record on with session ids redacted.
func (h redactSessions) Handle(ctx context.Context, r slog.Record) error {
	clean := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if isSessionKey(a.Key) {
			a = slog.String(a.Key, "[redacted]")
		}
		clean.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, clean)
}

// WithAttrs redacts session ids among attrs.
func (h redactSessions) WithAttrs(attrs []slog.Attr) slog.Handler {
	for i, a := range attrs {
		if isSessionKey(a.Key) {
			attrs[i] = slog.String(a.Key, "[redacted]")
		}
	}
	return redactSessions{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps redacting within the group.
func (h redactSessions) WithGroup(name string) slog.Handler {
	return redactSessions{h.Handler.WithGroup(name)}
}

func isSessionKey(k string) bool {
	return strings.Contains(strings.ToLower(k), "session")
}
