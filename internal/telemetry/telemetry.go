// Package telemetry is how plannr-mcp is watched in operation: Prometheus
// metrics, served on a listener of their own (--metrics-addr), and
// OpenTelemetry traces, exported over OTLP/HTTP when the standard
// OTEL_EXPORTER_OTLP_* environment asks for them.
//
// It hooks into the rest through small interfaces: plannr.Observer for the
// requests to Plannr, auth.SourceOptions.OnRefresh for token refreshes,
// httpserve.Config.OnReject and Server.LiveSessions for the HTTP guard and
// sessions, and mcp-go server options (a tracer, a _meta propagator, hooks
// and handler middlewares) for MCP requests. With metrics and tracing both
// off, none of it is installed, and the request path pays nothing.
//
// Nothing it records carries a token, a uuid, a connection's label or any
// other value a client or Plannr chose: metric labels and span attributes
// are tool names, routes, outcomes, status codes and classes from fixed
// sets, and the session, where it is named, by a digest.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// Config configures Telemetry.
type Config struct {
	// Version is the server's version, for build_info and service.version.
	Version string
	// Transport is "stdio" or "http", for network.transport.
	Transport string
	// Metrics turns the metrics on; ServeMetrics serves them.
	Metrics bool
	// Env holds the variables of TraceEnv that are set; tracing is on
	// when they name an OTLP endpoint.
	Env map[string]string
	// Logger receives what telemetry has to say, never a secret; nil discards.
	Logger *slog.Logger
}

// Telemetry is the server's metrics and tracing; either may be off. Its
// methods are safe on a nil *Telemetry, which records nothing.
type Telemetry struct {
	metrics *metrics
	tracing *tracing
	logger  *slog.Logger
}

// New sets up what cfg turns on. An environment that asks for tracing in a
// way the server cannot honour (another protocol, an unreadable
// certificate) is an error that names the variable; it never quotes a
// header's value.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Telemetry{logger: logger}
	if cfg.Metrics {
		t.metrics = newMetrics(cfg.Version)
	}
	ec, err := traceConfig(cfg.Env)
	switch {
	case errors.Is(err, errTracingOff):
	case err != nil:
		return nil, fmt.Errorf("tracing: %w", err)
	default:
		t.tracing = newTracing(ctx, ec, cfg, logger)
		logger.Info("exporting traces", "otlp_endpoint", ec.url, "service_name", ec.serviceName)
	}
	return t, nil
}

// HeaderSecrets are the values of the OTLP headers (which may hold an API
// key), for the process's list of secrets that no upstream text may carry.
func (t *Telemetry) HeaderSecrets() []string {
	if t == nil || t.tracing == nil {
		return nil
	}
	var v []string
	for _, h := range t.tracing.export.headers {
		v = append(v, h)
	}
	return v
}

// Enabled reports whether metrics or tracing is on.
func (t *Telemetry) Enabled() bool { return t != nil && (t.metrics != nil || t.tracing != nil) }

// Tracing reports whether spans are exported.
func (t *Telemetry) Tracing() bool { return t != nil && t.tracing != nil }

// PlannrObserver is the observer for a Plannr client of baseURL (whose
// host and port its spans name), or nil when telemetry is off.
func (t *Telemetry) PlannrObserver(baseURL string) plannr.Observer {
	if !t.Enabled() {
		return nil
	}
	o := observer{t: t}
	if u, err := url.Parse(baseURL); err == nil {
		o.host, o.port = u.Hostname(), u.Port()
		if o.port == "" && u.Scheme == "https" {
			o.port = "443"
		} else if o.port == "" {
			o.port = "80"
		}
	}
	return o
}

// ServerOptions are the mcp-go options that observe MCP requests: a span
// for each (with its parent from the request's _meta), and the tool calls'
// metrics. None when telemetry is off.
func (t *Telemetry) ServerOptions() []server.ServerOption {
	if !t.Enabled() {
		return nil
	}
	opts := []server.ServerOption{server.WithToolHandlerMiddleware(t.observeTool)}
	if t.tracing != nil {
		opts = append(opts,
			server.WithTracer(t.tracing.mcpTracer()),
			server.WithMetaPropagator(metaPropagator{}),
			addOnError(t.tracing.onError),
			server.WithPromptHandlerMiddleware(t.tracing.observePrompt),
			server.WithResourceHandlerMiddleware(t.tracing.observeResource),
		)
	}
	return opts
}

// addOnError adds an error hook to the server's hooks, keeping those the
// options before it installed (server.WithHooks would replace them).
func addOnError(hook server.OnErrorHookFunc) server.ServerOption {
	return func(s *server.MCPServer) {
		if s.GetHooks() == nil {
			server.WithHooks(&server.Hooks{})(s)
		}
		s.GetHooks().AddOnError(hook)
	}
}

// OnRefresh counts a refresh of the OAuth2 login (auth.SourceOptions.OnRefresh).
func (t *Telemetry) OnRefresh(err error) {
	if t != nil && t.metrics != nil {
		t.metrics.refreshed(err)
	}
}

// OnReject counts a request the HTTP guard refused (httpserve.Config.OnReject).
func (t *Telemetry) OnReject(reason string) {
	if t != nil && t.metrics != nil {
		t.metrics.rejected.WithLabelValues(reason).Inc()
	}
}

// SignIn counts a user's sign-in to this server, with its outcome (a
// fixed word such as "success" or "denied", never a user's name).
func (t *Telemetry) SignIn(outcome string) {
	if t != nil && t.metrics != nil {
		t.metrics.signIns.WithLabelValues(outcome).Inc()
	}
}

// WatchSessions exports live, the count of live HTTP sessions, as the
// gauge plannr_mcp_http_sessions.
func (t *Telemetry) WatchSessions(live func() int) {
	if t == nil || t.metrics == nil {
		return
	}
	t.metrics.registry.MustRegister(newGaugeFunc("http_sessions",
		"Live sessions of the stateful HTTP mode.", func() float64 { return float64(live()) }))
}

// ServeMetrics listens on addr and serves the metrics at /metrics until
// ctx ends; the listener carries no MCP. It fails at once when it cannot
// listen. Without metrics it does nothing.
func (t *Telemetry) ServeMetrics(ctx context.Context, addr string) error {
	if t == nil || t.metrics == nil || addr == "" {
		return nil
	}
	srv, err := listenMetrics(ctx, addr, t.metrics.registry, t.logger)
	if err != nil {
		return err
	}
	go srv.serve(ctx)
	return nil
}

// Shutdown exports the spans still buffered, within ctx.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil || t.tracing == nil {
		return nil
	}
	return t.tracing.provider.Shutdown(ctx)
}

// observeTool counts each tool call and names its span after the tool.
func (t *Telemetry) observeTool(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		res, err := next(ctx, req)
		outcome := OutcomeOK
		switch {
		case err != nil:
			outcome = OutcomeError
		case res != nil && res.IsError:
			outcome = OutcomeToolError
		}
		// The middleware wraps registered tools only, so the name is one
		// of the server's own.
		name := req.Params.Name
		if t.metrics != nil {
			t.metrics.toolCall(name, outcome, time.Since(start))
		}
		if t.tracing != nil {
			t.tracing.toolCalled(ctx, name, outcome)
		}
		return res, err
	}
}

// observer is the Plannr client's observer: metrics and spans.
type observer struct {
	t          *Telemetry
	host, port string // of Plannr's base URL
}

// StartRequest starts a client span for the request when tracing is on.
func (o observer) StartRequest(ctx context.Context, endpoint string) (context.Context, func(plannr.RequestOutcome)) {
	if o.t.tracing == nil {
		return ctx, func(plannr.RequestOutcome) {}
	}
	return o.t.tracing.startUpstream(ctx, endpoint, o.host, o.port)
}

// Attempted counts the attempt and notes a retry on the span.
func (o observer) Attempted(ctx context.Context, a plannr.AttemptInfo) {
	if o.t.metrics != nil {
		o.t.metrics.attempted(a)
	}
	if o.t.tracing != nil {
		o.t.tracing.attempted(ctx, a)
	}
}

// RateLimited counts a wait for the client-side rate limiter.
func (o observer) RateLimited(ctx context.Context, _ string, wait time.Duration, refused bool) {
	if o.t.metrics != nil {
		o.t.metrics.rateLimited(wait, refused)
	}
	if o.t.tracing != nil {
		o.t.tracing.rateLimited(ctx, wait, refused)
	}
}
