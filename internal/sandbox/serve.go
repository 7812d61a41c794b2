package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Config says how to serve the sandbox.
type Config struct {
	// Addr is the address to listen on; port 0 picks a free one. Empty
	// means 127.0.0.1:0.
	Addr string
	// Token is the bearer token the fake accepts besides OAuth2 logins;
	// empty means SandboxToken.
	Token string
	// Redirects are redirect URLs the demo OAuth2 client accepts besides
	// DemoRedirectURIs.
	Redirects []string
	// Inspect serves the inspection endpoints under InspectPrefix.
	Inspect bool
	// Logger receives the HTTP server's errors; nil discards them.
	Logger *slog.Logger
}

// Running is a sandbox being served.
type Running struct {
	// URL is its base URL, for PLANNR_BASE_URL.
	URL string

	srv    *http.Server
	served chan error
}

// DemoOptions are the fake's settings wherever the sandbox is served: no rate
// limit, and the demo OAuth2 client, sign-in page and second user, so that
// a login can be tried too.
func DemoOptions(redirects ...string) []Option {
	return []Option{
		WithRateLimit(0),
		WithOAuthClient(DemoClient(redirects...)),
		WithLoginPage(),
		WithUsers(SecondUser(time.Now())),
		WithReauthorizePage(),
	}
}

// Start serves the sandbox on cfg.Addr until Close.
func Start(ctx context.Context, cfg Config) (*Running, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Token == "" {
		cfg.Token = SandboxToken
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	newFake := func() *Server { return New(append(DemoOptions(cfg.Redirects...), WithTokens(cfg.Token))...) }
	var handler http.Handler = newFake()
	if cfg.Inspect {
		handler = newInspected(newFake)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	r := &Running{
		URL: "http://" + ln.Addr().String(),
		srv: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 5 * time.Second,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
		served: make(chan error, 1),
	}
	go func() { r.served <- r.srv.Serve(ln) }()
	return r, nil
}

// Done receives the reason the server stopped, if it stops on its own.
func (r *Running) Done() <-chan error { return r.served }

// Close stops serving, letting requests in flight finish for a moment.
func (r *Running) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = r.srv.Close()
	}
}
