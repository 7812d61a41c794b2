package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// exporter sends spans to an OTLP/HTTP receiver as protobuf
// (ExportTraceServiceRequest), as OpenTelemetry's own otlptracehttp does.
// It is written here rather than imported because otlptracehttp links gRPC
// and the OTLP collector's generated code into the binary, whose package
// initialization every start of the server would pay, tracing or not; this
// encoder writes the same messages with protowire alone.
type exporter struct {
	cfg    *exportConfig
	client *http.Client
	logger *slog.Logger

	mu         sync.Mutex
	lastLogged time.Time
	failures   int
}

// newExporter returns an exporter for cfg.
func newExporter(cfg *exportConfig, logger *slog.Logger) *exporter {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg.tls
	return &exporter{
		cfg: cfg,
		client: &http.Client{
			Transport: t,
			Timeout:   cfg.timeout,
			// A redirect would carry the headers, which may hold an API
			// key, to another address.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		logger: logger,
	}
}

// ExportSpans sends spans in one request. A failure is logged, at most once
// a minute, and not returned: the SDK would only print it again.
func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	if err := e.send(ctx, encodeSpans(spans)); err != nil {
		e.failed(err, len(spans))
	}
	return nil
}

// Shutdown releases the exporter's connections.
func (e *exporter) Shutdown(context.Context) error {
	e.client.CloseIdleConnections()
	return nil
}

// send posts one request body.
func (e *exporter) send(ctx context.Context, body []byte) error {
	var reader io.Reader = bytes.NewReader(body)
	if e.cfg.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		reader = &buf
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.url, reader)
	if err != nil {
		return err
	}
	for k, v := range e.cfg.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if e.cfg.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		// The error names the URL and the network's complaint, never a header.
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the OTLP receiver answered %s", resp.Status)
	}
	return nil
}

// failed logs an export that failed, at most once a minute.
func (e *exporter) failed(err error, spans int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failures++
	if time.Since(e.lastLogged) < time.Minute {
		return
	}
	e.logger.Warn("could not export spans", "otlp_endpoint", e.cfg.url, "error", err, "spans", spans, "failed_exports", e.failures)
	e.lastLogged, e.failures = time.Now(), 0
}

// The field numbers of OTLP's protobuf messages (opentelemetry-proto,
// collector/trace/v1 and trace/v1, common/v1, resource/v1).
const (
	fieldResourceSpans = 1 // ExportTraceServiceRequest.resource_spans

	fieldResource   = 1 // ResourceSpans.resource
	fieldScopeSpans = 2 // ResourceSpans.scope_spans

	fieldResourceAttributes = 1 // Resource.attributes

	fieldScope      = 1 // ScopeSpans.scope
	fieldSpans      = 2 // ScopeSpans.spans
	fieldScopeName  = 1 // InstrumentationScope.name
	fieldScopeVersn = 2 // InstrumentationScope.version

	fieldTraceID      = 1
	fieldSpanID       = 2
	fieldTraceState   = 3
	fieldParentSpanID = 4
	fieldName         = 5
	fieldKind         = 6
	fieldStart        = 7
	fieldEnd          = 8
	fieldAttributes   = 9
	fieldDroppedAttrs = 10
	fieldEvents       = 11
	fieldDroppedEvts  = 12
	fieldLinks        = 13
	fieldDroppedLinks = 14
	fieldStatus       = 15
	fieldFlags        = 16

	fieldEventTime  = 1
	fieldEventName  = 2
	fieldEventAttrs = 3

	fieldLinkTraceID = 1
	fieldLinkSpanID  = 2
	fieldLinkState   = 3
	fieldLinkAttrs   = 4
	fieldLinkFlags   = 6

	fieldStatusMessage = 2
	fieldStatusCode    = 3

	fieldKey   = 1 // KeyValue.key
	fieldValue = 2 // KeyValue.value

	fieldStringValue = 1 // AnyValue
	fieldBoolValue   = 2
	fieldIntValue    = 3
	fieldDoubleValue = 4
	fieldArrayValue  = 5
	fieldArrayValues = 1 // ArrayValue.values
)

// Span flags: the W3C trace flags in the low byte, and whether the parent
// is remote.
const (
	flagHasIsRemote = 0x100
	flagIsRemote    = 0x200
)

// encodeSpans encodes spans as one ExportTraceServiceRequest, grouped by
// resource and then by instrumentation scope.
func encodeSpans(spans []sdktrace.ReadOnlySpan) []byte {
	type scopeKey struct{ name, version string }
	type group struct {
		res    []byte
		scopes map[scopeKey][]sdktrace.ReadOnlySpan
		order  []scopeKey
	}
	var groups []*group
	byRes := map[attribute.Distinct]*group{}
	for _, s := range spans {
		key := s.Resource().Equivalent()
		g := byRes[key]
		if g == nil {
			g = &group{scopes: map[scopeKey][]sdktrace.ReadOnlySpan{}}
			for _, kv := range s.Resource().Attributes() {
				g.res = appendMessage(g.res, fieldResourceAttributes, appendKeyValue(nil, kv))
			}
			byRes[key] = g
			groups = append(groups, g)
		}
		sk := scopeKey{s.InstrumentationScope().Name, s.InstrumentationScope().Version}
		if _, ok := g.scopes[sk]; !ok {
			g.order = append(g.order, sk)
		}
		g.scopes[sk] = append(g.scopes[sk], s)
	}
	var out []byte
	for _, g := range groups {
		rs := appendMessage(nil, fieldResource, g.res)
		for _, sk := range g.order {
			var scope []byte
			scope = appendString(scope, fieldScopeName, sk.name)
			scope = appendString(scope, fieldScopeVersn, sk.version)
			ss := appendMessage(nil, fieldScope, scope)
			for _, s := range g.scopes[sk] {
				ss = appendMessage(ss, fieldSpans, appendSpan(nil, s))
			}
			rs = appendMessage(rs, fieldScopeSpans, ss)
		}
		out = appendMessage(out, fieldResourceSpans, rs)
	}
	return out
}

// appendSpan encodes one Span message.
func appendSpan(b []byte, s sdktrace.ReadOnlySpan) []byte {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = appendBytes(b, fieldTraceID, tid[:])
	b = appendBytes(b, fieldSpanID, sid[:])
	b = appendString(b, fieldTraceState, sc.TraceState().String())
	flags := uint32(sc.TraceFlags()) | flagHasIsRemote
	if p := s.Parent(); p.IsValid() {
		pid := p.SpanID()
		b = appendBytes(b, fieldParentSpanID, pid[:])
		if p.IsRemote() {
			flags |= flagIsRemote
		}
	}
	b = appendString(b, fieldName, s.Name())
	b = appendVarint(b, fieldKind, uint64(otlpKind(s.SpanKind())))
	b = appendFixed64(b, fieldStart, unixNano(s.StartTime()))
	b = appendFixed64(b, fieldEnd, unixNano(s.EndTime()))
	for _, kv := range s.Attributes() {
		b = appendMessage(b, fieldAttributes, appendKeyValue(nil, kv))
	}
	b = appendVarint(b, fieldDroppedAttrs, uint64(s.DroppedAttributes()))
	for _, ev := range s.Events() {
		var e []byte
		e = appendFixed64(e, fieldEventTime, unixNano(ev.Time))
		e = appendString(e, fieldEventName, ev.Name)
		for _, kv := range ev.Attributes {
			e = appendMessage(e, fieldEventAttrs, appendKeyValue(nil, kv))
		}
		b = appendMessage(b, fieldEvents, e)
	}
	b = appendVarint(b, fieldDroppedEvts, uint64(s.DroppedEvents()))
	for _, l := range s.Links() {
		var e []byte
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		e = appendBytes(e, fieldLinkTraceID, ltid[:])
		e = appendBytes(e, fieldLinkSpanID, lsid[:])
		e = appendString(e, fieldLinkState, l.SpanContext.TraceState().String())
		for _, kv := range l.Attributes {
			e = appendMessage(e, fieldLinkAttrs, appendKeyValue(nil, kv))
		}
		e = protowire.AppendTag(e, fieldLinkFlags, protowire.Fixed32Type)
		e = protowire.AppendFixed32(e, uint32(l.SpanContext.TraceFlags())|flagHasIsRemote)
		b = appendMessage(b, fieldLinks, e)
	}
	b = appendVarint(b, fieldDroppedLinks, uint64(s.DroppedLinks()))
	var st []byte
	st = appendString(st, fieldStatusMessage, s.Status().Description)
	st = appendVarint(st, fieldStatusCode, uint64(otlpStatus(s.Status().Code)))
	b = appendMessage(b, fieldStatus, st)
	b = protowire.AppendTag(b, fieldFlags, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, flags)
}

// otlpKind is OTLP's Span.SpanKind for k; the numbers happen to agree.
func otlpKind(k trace.SpanKind) int {
	switch k {
	case trace.SpanKindInternal, trace.SpanKindServer, trace.SpanKindClient, trace.SpanKindProducer, trace.SpanKindConsumer:
		return int(k)
	}
	return 0
}

// otlpStatus is OTLP's Status.StatusCode for c: unset 0, ok 1, error 2.
func otlpStatus(c codes.Code) int {
	switch c {
	case codes.Ok:
		return 1
	case codes.Error:
		return 2
	}
	return 0
}

func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}

// appendKeyValue encodes a KeyValue message's fields.
func appendKeyValue(b []byte, kv attribute.KeyValue) []byte {
	b = appendString(b, fieldKey, string(kv.Key))
	return appendMessage(b, fieldValue, appendAnyValue(nil, kv.Value))
}

// appendAnyValue encodes an AnyValue message's fields.
func appendAnyValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.BOOL:
		b = protowire.AppendTag(b, fieldBoolValue, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		b = protowire.AppendTag(b, fieldIntValue, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		b = protowire.AppendTag(b, fieldDoubleValue, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v.AsFloat64()))
	case attribute.STRINGSLICE:
		var arr []byte
		for _, s := range v.AsStringSlice() {
			arr = appendMessage(arr, fieldArrayValues, appendStringValue(nil, s))
		}
		return appendMessage(b, fieldArrayValue, arr)
	}
	return appendStringValue(b, v.String())
}

// appendStringValue encodes an AnyValue holding s; an empty string is
// written too, so that the value is not absent.
func appendStringValue(b []byte, s string) []byte {
	b = protowire.AppendTag(b, fieldStringValue, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendString writes a string field, leaving out an empty one as proto3 does.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// appendMessage writes an embedded message field.
func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

// appendVarint writes a varint field, leaving out a zero as proto3 does.
func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendFixed64(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}
