package telemetry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	mcptracing "github.com/mark3labs/mcp-go/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// scopeName is the instrumentation scope of every span.
const scopeName = "github.com/plannr-mcp/plannr-mcp"

// Attribute keys: OpenTelemetry's MCP, GenAI, HTTP and error conventions.
const (
	keyMethod          = attribute.Key("mcp.method.name")
	keySession         = attribute.Key("mcp.session.id")
	keyProtocolVersion = attribute.Key("mcp.protocol.version")
	keyResourceURI     = attribute.Key("mcp.resource.uri")
	keyToolName        = attribute.Key("gen_ai.tool.name")
	keyPromptName      = attribute.Key("gen_ai.prompt.name")
	keyOperation       = attribute.Key("gen_ai.operation.name")
	keyTransport       = attribute.Key("network.transport")
	keyErrorType       = attribute.Key("error.type")
	keyHTTPMethod      = attribute.Key("http.request.method")
	keyHTTPStatus      = attribute.Key("http.response.status_code")
	keyResendCount     = attribute.Key("http.request.resend_count")
	keyURLTemplate     = attribute.Key("url.template")
	keyServerAddress   = attribute.Key("server.address")
	keyServerPort      = attribute.Key("server.port")
)

// tracing is the tracer provider and what the spans need.
type tracing struct {
	provider  *sdktrace.TracerProvider
	tracer    trace.Tracer
	export    *exportConfig
	transport string // network.transport: pipe or tcp
}

// newTracing builds the tracer provider that exports to ec.
func newTracing(_ context.Context, ec *exportConfig, cfg Config, logger *slog.Logger) *tracing {
	attrs := append([]attribute.KeyValue{
		attribute.String("service.name", ec.serviceName),
		attribute.String("service.version", cfg.Version),
	}, ec.resource...)
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(newExporter(ec, logger)),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(ec.sampler),
	)
	transport := "pipe"
	if cfg.Transport == "http" {
		transport = "tcp"
	}
	return &tracing{
		provider:  provider,
		tracer:    provider.Tracer(scopeName, trace.WithInstrumentationVersion(cfg.Version)),
		export:    ec,
		transport: transport,
	}
}

// mcpTracer is mcp-go's tracer: a server span for each MCP request.
func (tr *tracing) mcpTracer() mcptracing.Tracer { return mcpTracer{tr} }

// mcpTracer adapts mcp-go's tracing interface to OpenTelemetry, with the
// names and attributes of the MCP conventions.
type mcpTracer struct{ tr *tracing }

// Start starts the server span of an MCP request, which mcp-go names
// "mcp.<method>". mcp-go's own internal span around a tool handler is not
// made: the server span already names the tool.
func (m mcpTracer) Start(ctx context.Context, name string, kind mcptracing.SpanKind, attrs ...mcptracing.Attribute) (context.Context, mcptracing.Span) {
	if kind != mcptracing.SpanKindServer {
		return ctx, noSpan{}
	}
	method := knownMethod(strings.TrimPrefix(name, "mcp."))
	kv := []attribute.KeyValue{keyMethod.String(method), keyTransport.String(m.tr.transport)}
	for _, a := range attrs {
		switch a.Key {
		case "mcp.session.id":
			kv = append(kv, keySession.String(sessionDigest(a.Value)))
		case "mcp.protocol.version":
			if mcp.IsValidProtocolVersion(a.Value) {
				kv = append(kv, keyProtocolVersion.String(a.Value))
			}
		}
	}
	ctx, span := m.tr.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(kv...))
	s := mcpSpan{span}
	return mcptracing.ContextWithSpan(ctx, s), s
}

// mcpSpan is an OpenTelemetry span behind mcp-go's interface. mcp-go's
// attributes and messages are not copied: they may quote what a client
// sent. Names and error types are set by the middlewares and hooks here.
type mcpSpan struct{ span trace.Span }

// SetAttributes ignores mcp-go's attributes (see mcpSpan).
func (mcpSpan) SetAttributes(...mcptracing.Attribute) {}

// RecordError records nothing: an error's text may quote a client or Plannr.
func (mcpSpan) RecordError(error) {}

// SetStatus marks the span failed, without mcp-go's description.
func (s mcpSpan) SetStatus(code mcptracing.StatusCode, _ string) {
	if code == mcptracing.StatusError {
		s.span.SetStatus(codes.Error, "")
	}
}

// End ends the span.
func (s mcpSpan) End() { s.span.End() }

// noSpan is the span of what is not traced.
type noSpan struct{}

func (noSpan) SetAttributes(...mcptracing.Attribute)   {}
func (noSpan) RecordError(error)                       {}
func (noSpan) SetStatus(mcptracing.StatusCode, string) {}
func (noSpan) End()                                    {}

// knownMethod is method if it is one of MCP's, else "other": a span's name
// must not be a client's text.
func knownMethod(method string) string {
	switch mcp.MCPMethod(method) {
	case mcp.MethodInitialize, mcp.MethodPing, mcp.MethodResourcesList, mcp.MethodResourcesTemplatesList,
		mcp.MethodResourcesRead, mcp.MethodResourcesSubscribe, mcp.MethodResourcesUnsubscribe,
		mcp.MethodPromptsList, mcp.MethodPromptsGet, mcp.MethodToolsList, mcp.MethodToolsCall,
		mcp.MethodSetLogLevel, mcp.MethodTasksGet, mcp.MethodTasksList, mcp.MethodTasksResult,
		mcp.MethodTasksCancel, mcp.MethodCompletionComplete, mcp.MethodServerDiscover,
		mcp.MethodSubscriptionsListen:
		return method
	}
	return "other"
}

// sessionDigest names a session in a span without giving its id, which
// with a client token is enough to act in the session: the first 16 hex
// digits of its SHA-256.
func sessionDigest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}

// toolCalled names the MCP request's span after the tool and records the
// outcome, as the conventions say: error.type tool_error for a tool that
// answered with an error result.
func (tr *tracing) toolCalled(ctx context.Context, tool, outcome string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetName(string(mcp.MethodToolsCall) + " " + tool)
	span.SetAttributes(keyToolName.String(tool), keyOperation.String("execute_tool"))
	if outcome == OutcomeToolError {
		span.SetAttributes(keyErrorType.String(OutcomeToolError))
		span.SetStatus(codes.Error, "")
	}
}

// observePrompt names the span of prompts/get after the prompt, one of the
// server's own.
func (tr *tracing) observePrompt(next server.PromptHandlerFunc) server.PromptHandlerFunc {
	return func(ctx context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetName(string(mcp.MethodPromptsGet) + " " + req.Params.Name)
			span.SetAttributes(keyPromptName.String(req.Params.Name))
		}
		return next(ctx, req)
	}
}

// observeResource records the URI of resources/read: the server's
// resources have fixed URIs, so it is bounded.
func (tr *tracing) observeResource(next server.ResourceHandlerFunc) server.ResourceHandlerFunc {
	return func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(keyResourceURI.String(req.Params.URI))
		}
		return next(ctx, req)
	}
}

// jsonrpcError is what mcp-go's request errors can say of themselves.
type jsonrpcError interface{ ToJSONRPCError() mcp.JSONRPCError }

// onError records a request that failed as a JSON-RPC error: error.type is
// its code, as the conventions say.
func (tr *tracing) onError(ctx context.Context, _ any, _ mcp.MCPMethod, _ any, err error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	errType := "_OTHER"
	var je jsonrpcError
	if errors.As(err, &je) {
		errType = strconv.Itoa(je.ToJSONRPCError().Error.Code)
	}
	span.SetAttributes(keyErrorType.String(errType))
	span.SetStatus(codes.Error, "")
}

// startUpstream starts the client span of a request to Plannr, named after
// its endpoint (method and route, never a uuid).
func (tr *tracing) startUpstream(ctx context.Context, endpoint, host, port string) (context.Context, func(plannr.RequestOutcome)) {
	method, route, _ := strings.Cut(endpoint, " ")
	attrs := []attribute.KeyValue{keyHTTPMethod.String(method), keyServerAddress.String(host)}
	if route != "" {
		attrs = append(attrs, keyURLTemplate.String(route))
	}
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, keyServerPort.Int(p))
	}
	ctx, span := tr.tracer.Start(ctx, endpoint, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, func(o plannr.RequestOutcome) {
		if o.Status > 0 {
			span.SetAttributes(keyHTTPStatus.Int(o.Status))
		}
		if o.Attempts > 1 {
			span.SetAttributes(keyResendCount.Int(o.Attempts - 1))
		}
		if errType := upstreamErrorType(o); errType != "" {
			span.SetAttributes(keyErrorType.String(errType))
			span.SetStatus(codes.Error, "")
		}
		span.End()
	}
}

// upstreamErrorType is error.type for a request to Plannr: its status code
// when Plannr answered 4xx or 5xx, else a class of failure.
func upstreamErrorType(o plannr.RequestOutcome) string {
	var (
		throttle *plannr.ThrottleError
		cred     *plannr.CredentialError
		tooLarge *plannr.ResponseTooLargeError
	)
	switch {
	case o.Err == nil:
		return ""
	case o.Status >= http.StatusBadRequest:
		return strconv.Itoa(o.Status)
	case errors.As(o.Err, &throttle):
		return "rate_limited"
	case errors.As(o.Err, &cred):
		return "credential"
	case errors.As(o.Err, &tooLarge):
		return "response_too_large"
	case errors.Is(o.Err, plannr.ErrMalformedResponse):
		return "malformed_response"
	case errors.Is(o.Err, context.DeadlineExceeded):
		return plannr.FailureTimeout
	case errors.Is(o.Err, context.Canceled):
		return plannr.FailureCanceled
	case o.Status == 0 && o.Attempts > 0:
		return plannr.FailureConnection
	}
	return "_OTHER"
}

// attempted notes on the request's span an attempt that is retried.
func (tr *tracing) attempted(ctx context.Context, a plannr.AttemptInfo) {
	if a.RetryCause == "" {
		return
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{attribute.String("retry.cause", a.RetryCause), attribute.Float64("retry.wait_seconds", a.RetryWait.Seconds())}
	if a.Status > 0 {
		attrs = append(attrs, keyHTTPStatus.Int(a.Status))
	}
	span.AddEvent("retry", trace.WithAttributes(attrs...))
}

// rateLimited notes a wait for the client-side rate limiter on the span.
func (tr *tracing) rateLimited(ctx context.Context, wait time.Duration, refused bool) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.AddEvent("rate_limit_wait", trace.WithAttributes(
		attribute.Float64("wait_seconds", wait.Seconds()), attribute.Bool("refused", refused)))
}

// metaPropagator takes a request's trace context from its _meta
// (traceparent and tracestate, as MCP 2026-07-28 carries them), so that
// the server's span is the child of the client's.
type metaPropagator struct{}

// InjectMeta adds nothing: the server sends no requests of its own.
func (metaPropagator) InjectMeta(_ context.Context, meta *mcp.Meta) *mcp.Meta { return meta }

// ExtractMeta returns ctx with the remote span context of meta.
func (metaPropagator) ExtractMeta(ctx context.Context, meta *mcp.Meta) context.Context {
	if meta == nil || meta.AdditionalFields == nil {
		return ctx
	}
	carrier := propagation.MapCarrier{}
	for _, k := range []string{"traceparent", "tracestate"} {
		if v, ok := meta.AdditionalFields[k].(string); ok {
			carrier[k] = v
		}
	}
	if len(carrier) == 0 {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, carrier)
}
