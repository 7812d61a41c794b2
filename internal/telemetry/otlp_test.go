package telemetry

import (
	"bytes"
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestEncodeSpansDecodesWithTheOfficialProto encodes spans of every shape
// with the hand-written encoder and decodes them with OpenTelemetry's
// generated protobuf code: every field comes back.
func TestEncodeSpansDecodesWithTheOfficialProto(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "svc"))),
	)
	tracer := provider.Tracer("scope", trace.WithInstrumentationVersion("v1"))
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	ctx, parent := tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), remote), "parent",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("s", "v"), attribute.Int("i", -7), attribute.Bool("b", true),
			attribute.Float64("f", 1.5), attribute.StringSlice("ss", []string{"x", "y"}), attribute.String("empty", "")),
		trace.WithLinks(trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("l", "k")}}))
	_, child := tracer.Start(ctx, "child", trace.WithSpanKind(trace.SpanKindClient))
	child.AddEvent("retry", trace.WithAttributes(attribute.String("cause", "503")), trace.WithTimestamp(time.Unix(10, 5)))
	child.SetStatus(codes.Error, "")
	child.End()
	parent.End()

	var data tracepb.TracesData
	if err := proto.Unmarshal(encodeSpans(rec.Ended()), &data); err != nil {
		t.Fatal(err)
	}
	if len(data.ResourceSpans) != 1 || len(data.ResourceSpans[0].ScopeSpans) != 1 {
		t.Fatalf("grouping: %v", &data)
	}
	rs := data.ResourceSpans[0]
	if kv := rs.Resource.Attributes; len(kv) != 1 || kv[0].Key != "service.name" || kv[0].Value.GetStringValue() != "svc" {
		t.Errorf("resource = %v", rs.Resource)
	}
	ss := rs.ScopeSpans[0]
	if ss.Scope.Name != "scope" || ss.Scope.Version != "v1" || len(ss.Spans) != 2 {
		t.Fatalf("scope spans = %v", ss)
	}
	c, p := ss.Spans[0], ss.Spans[1]
	if c.Name != "child" || p.Name != "parent" {
		t.Fatalf("names %q %q", c.Name, p.Name)
	}
	if tid := remote.TraceID(); !bytes.Equal(p.TraceId, tid[:]) || !bytes.Equal(c.TraceId, tid[:]) {
		t.Errorf("parent trace id %x", p.TraceId)
	}
	if pid := remote.SpanID(); !bytes.Equal(p.ParentSpanId, pid[:]) || p.Flags != 0x301 {
		t.Errorf("parent: parent id %x, flags %#x; want %x and 0x301 (sampled, parent remote)", p.ParentSpanId, p.Flags, pid)
	}
	if !bytes.Equal(c.ParentSpanId, p.SpanId) || c.Flags != 0x101 {
		t.Errorf("child: parent id %x (want %x), flags %#x", c.ParentSpanId, p.SpanId, c.Flags)
	}
	if p.Kind != tracepb.Span_SPAN_KIND_SERVER || c.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("kinds %v %v", p.Kind, c.Kind)
	}
	if p.StartTimeUnixNano == 0 || p.EndTimeUnixNano < p.StartTimeUnixNano {
		t.Errorf("times %d %d", p.StartTimeUnixNano, p.EndTimeUnixNano)
	}
	got := map[string]string{}
	for _, kv := range p.Attributes {
		got[kv.Key] = kv.Value.String()
	}
	for key, want := range map[string]string{
		"s": `string_value:"v"`, "i": "int_value:-7", "b": "bool_value:true", "f": "double_value:1.5",
		"ss": `array_value:{values:{string_value:"x"} values:{string_value:"y"}}`, "empty": `string_value:""`,
	} {
		if normalize(got[key]) != normalize(want) {
			t.Errorf("attribute %s = %s, want %s", key, got[key], want)
		}
	}
	if len(p.Links) != 1 || p.Links[0].Attributes[0].Key != "l" || p.Links[0].Flags != 0x101 {
		t.Errorf("links = %v", p.Links)
	}
	if len(c.Events) != 1 || c.Events[0].Name != "retry" || c.Events[0].TimeUnixNano != 10_000_000_005 || c.Events[0].Attributes[0].Value.GetStringValue() != "503" {
		t.Errorf("events = %v", c.Events)
	}
	if c.Status.Code != tracepb.Status_STATUS_CODE_ERROR || p.Status.Code != tracepb.Status_STATUS_CODE_UNSET {
		t.Errorf("statuses %v %v", c.Status, p.Status)
	}
}

// normalize drops the spaces prototext puts at random.
func normalize(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }
