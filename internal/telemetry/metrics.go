package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// MetricsPath is where the metrics listener serves the metrics.
const MetricsPath = "/metrics"

// namespace prefixes every metric of the server's own.
const namespace = "plannr_mcp"

// Outcomes of a tool call, as the outcome label says them.
const (
	OutcomeOK        = "ok"
	OutcomeToolError = "tool_error"
	OutcomeError     = "error"
)

// Outcomes of a token refresh.
const (
	RefreshSuccess       = "success"
	RefreshLoginRequired = "login_required"
	RefreshFailed        = "failed"
)

// metrics are the server's Prometheus metrics, in a registry of their own:
// the client library's global registry is never used. Every label value is
// one of a fixed set: a tool or endpoint name, an outcome, a status class,
// a cause, a reason. None is a token, a uuid, a label or a client's text.
type metrics struct {
	registry *prometheus.Registry

	toolCalls    *prometheus.CounterVec
	toolDuration *prometheus.HistogramVec

	upstreamRequests *prometheus.CounterVec
	upstreamDuration *prometheus.HistogramVec
	upstreamRetries  *prometheus.CounterVec
	upstream429s     *prometheus.CounterVec
	remaining        *prometheus.GaugeVec

	rateLimitWaits    prometheus.Histogram
	rateLimitRefusals prometheus.Counter

	refreshes *prometheus.CounterVec
	signIns   *prometheus.CounterVec
	rejected  *prometheus.CounterVec
}

// newMetrics registers the server's metrics, the Go runtime's and the
// process's in a new registry. It is called only when metrics are served,
// so that a server without them builds none of this.
func newMetrics(version string) *metrics {
	reg := prometheus.NewRegistry()
	f := factory{reg}
	m := &metrics{
		registry: reg,
		toolCalls: f.counterVec("tool_calls_total",
			"MCP tool calls, by tool and outcome: ok, tool_error (the tool answered with an error result) or error (the call failed as a JSON-RPC error).",
			"tool", "outcome"),
		toolDuration: f.histogramVec("tool_call_duration_seconds",
			"Time to answer an MCP tool call, by tool.", prometheus.DefBuckets, "tool"),
		upstreamRequests: f.counterVec("upstream_requests_total",
			"Requests sent to Plannr, one per attempt, by endpoint (method and route) and status class: 2xx, 3xx, 4xx, 5xx, or error when no answer came back.",
			"endpoint", "status_class"),
		upstreamDuration: f.histogramVec("upstream_request_duration_seconds",
			"Time one attempt of a request to Plannr took on the wire, by endpoint.", prometheus.DefBuckets, "endpoint"),
		upstreamRetries: f.counterVec("upstream_retries_total",
			"Requests to Plannr sent again, by endpoint and cause: 429, 502, 503, 504, timeout or connection.",
			"endpoint", "cause"),
		upstream429s: f.counterVec("upstream_rate_limited_total",
			"Answers 429 Too Many Requests from Plannr, by endpoint.", "endpoint"),
		remaining: f.gaugeVec("upstream_rate_limit_remaining",
			"Plannr's X-RateLimit-Remaining in its latest answer that had one: requests left in the current window."),
		rateLimitWaits: f.histogram("rate_limit_wait_seconds",
			"Time requests waited for the client-side rate limiter before they were sent (only requests that waited).",
			[]float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}),
		rateLimitRefusals: f.counter("rate_limit_refusals_total",
			"Requests the client-side rate limiter did not send, because the wait would have outlasted the call's deadline."),
		refreshes: f.counterVec("token_refreshes_total",
			"Refreshes of the OAuth2 login sent to Plannr's token endpoint, by outcome: success, login_required (only a new login helps) or failed.",
			"outcome"),
		signIns: f.counterVec("sign_ins_total",
			"Sign-ins of users to this server, by outcome.", "outcome"),
		rejected: f.counterVec("http_rejected_requests_total",
			"HTTP requests the guard refused before MCP saw them, by reason.", "reason"),
	}
	build := f.gaugeVec("build_info", "Always 1: the version of this server and of Go it was built with.", "version", "goversion")
	build.WithLabelValues(version, runtime.Version()).Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// factory makes metrics in the server's namespace and registers them.
type factory struct{ reg *prometheus.Registry }

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// newGaugeFunc is a gauge in the server's namespace whose value fn gives
// at each scrape.
func newGaugeFunc(name, help string, fn func() float64) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, fn)
}

// toolCall counts one tool call.
func (m *metrics) toolCall(tool, outcome string, d time.Duration) {
	m.toolCalls.WithLabelValues(tool, outcome).Inc()
	m.toolDuration.WithLabelValues(tool).Observe(d.Seconds())
}

// attempted counts one attempt of a request to Plannr.
func (m *metrics) attempted(a plannr.AttemptInfo) {
	m.upstreamRequests.WithLabelValues(a.Endpoint, statusClass(a.Status)).Inc()
	m.upstreamDuration.WithLabelValues(a.Endpoint).Observe(a.Duration.Seconds())
	if a.Status == http.StatusTooManyRequests {
		m.upstream429s.WithLabelValues(a.Endpoint).Inc()
	}
	if a.RetryCause != "" {
		m.upstreamRetries.WithLabelValues(a.Endpoint, a.RetryCause).Inc()
	}
	if a.Remaining >= 0 {
		m.remaining.WithLabelValues().Set(float64(a.Remaining))
	}
}

// rateLimited counts a wait for the client-side rate limiter.
func (m *metrics) rateLimited(wait time.Duration, refused bool) {
	if refused {
		m.rateLimitRefusals.Inc()
		return
	}
	m.rateLimitWaits.Observe(wait.Seconds())
}

// refreshed counts a refresh of the OAuth2 login.
func (m *metrics) refreshed(err error) {
	m.refreshes.WithLabelValues(refreshOutcome(err)).Inc()
}

// refreshOutcome names a refresh's outcome.
func refreshOutcome(err error) string {
	switch {
	case err == nil:
		return RefreshSuccess
	case errors.Is(err, auth.ErrLoginRequired):
		return RefreshLoginRequired
	}
	return RefreshFailed
}

// statusClass is 2xx, 3xx, 4xx or 5xx for an HTTP status, and error for
// none.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "error"
	}
	return strconv.Itoa(status/100) + "xx"
}

// metricsServer serves the registry at MetricsPath on a listener of its
// own, which carries no MCP.
type metricsServer struct {
	srv    *http.Server
	ln     net.Listener
	logger *slog.Logger
}

// listenMetrics listens on addr at once, so that a wrong address fails the
// start, and returns the server to run.
func listenMetrics(ctx context.Context, addr string, reg *prometheus.Registry, logger *slog.Logger) (*metricsServer, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return &metricsServer{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
		ln:     ln,
		logger: logger,
	}, nil
}

// serve serves until ctx ends.
func (s *metricsServer) serve(ctx context.Context) {
	s.logger.Info("serving metrics", "endpoint", "http://"+s.ln.Addr().String()+MetricsPath)
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
	})
	defer stop()
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.logger.Error("the metrics listener stopped", "error", err)
	}
}
