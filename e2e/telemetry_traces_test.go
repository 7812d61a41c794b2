//go:build unix

package e2e

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// otlpReceiver is an OTLP/HTTP receiver on loopback: it keeps every span
// posted to /v1/traces, and the headers that came with them.
type otlpReceiver struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service []string
	headers []http.Header
	errs    []string
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	// ExportTraceServiceRequest and TracesData are the same message on
	// the wire: field 1, the resource spans.
	var data tracepb.TracesData
	switch {
	case req.URL.Path != "/v1/traces" || req.Method != http.MethodPost:
		r.errs = append(r.errs, req.Method+" "+req.URL.Path)
	case req.Header.Get("Content-Type") != "application/x-protobuf":
		r.errs = append(r.errs, "Content-Type "+req.Header.Get("Content-Type"))
	case err != nil:
		r.errs = append(r.errs, err.Error())
	default:
		if err := proto.Unmarshal(body, &data); err != nil {
			r.errs = append(r.errs, "decoding: "+err.Error())
		}
	}
	r.headers = append(r.headers, req.Header.Clone())
	for _, rs := range data.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				r.service = append(r.service, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	w.WriteHeader(http.StatusOK)
}

// attr returns a span's attribute as text.
func attr(attrs []*commonpb.KeyValue, key string) (string, bool) {
	for _, kv := range attrs {
		if kv.GetKey() == key {
			v := kv.GetValue()
			switch v.GetValue().(type) {
			case *commonpb.AnyValue_IntValue:
				return fmt.Sprint(v.GetIntValue()), true
			case *commonpb.AnyValue_BoolValue:
				return fmt.Sprint(v.GetBoolValue()), true
			case *commonpb.AnyValue_DoubleValue:
				return fmt.Sprint(v.GetDoubleValue()), true
			}
			return v.GetStringValue(), true
		}
	}
	return "", false
}

// TestTracesToALoopbackReceiver points OTLP/HTTP at a receiver in the
// test, sends a tools/call whose _meta carries a traceparent, with a 503
// to retry, and a rename that Plannr answers 404: the server span is the
// child of the client's, the Plannr request spans its children, with the
// conventions' attributes; no secret, uuid or label is in any span.
func TestTracesToALoopbackReceiver(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	t.Cleanup(collector.Close)
	fake, upstream := startFake(t)
	const otlpSecret = "otlp-api-key-6d2f9"
	p := startStdio(t, append(baseEnv(t),
		"PLANNR_BASE_URL="+upstream,
		"PLANNR_TOKEN="+testToken,
		"PLANNR_RATE_LIMIT=0",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+collector.URL,
		"OTEL_EXPORTER_OTLP_HEADERS=x-api-key="+otlpSecret,
		"OTEL_SERVICE_NAME=plannr-mcp-e2e",
	))

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	fake.Inject(sandbox.Fault{Method: http.MethodGet, Path: "/api/v1/oauth/connections", Status: http.StatusServiceUnavailable})
	p.send(t, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_oauth_connections","arguments":{},"_meta":{"traceparent":"00-`+traceID+`-`+parentID+`-01"}}}`)
	if msg := p.next(t); msg["id"] != float64(2) || msg["result"] == nil {
		t.Fatalf("list: %v", msg)
	}
	const missing, secretLabel = "0b96d72c-0000-4000-8000-000000000000", "Label that must not leak 7a3e"
	p.send(t, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"rename_oauth_connection","arguments":{"uuid":"`+missing+`","label":"`+secretLabel+`"}}}`)
	if msg := p.next(t); msg["id"] != float64(3) {
		t.Fatalf("rename: %v", msg)
	}
	p.send(t, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}`)
	p.next(t)
	// Closing stdin ends the server, which exports what it has left.
	p.stdin.Close()
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the server exited with %v; stderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not exit; stderr:\n%s", p.stderr.String())
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.errs) > 0 {
		t.Fatalf("the receiver refused what it got: %v", recv.errs)
	}
	for _, h := range recv.headers {
		if h.Get("X-Api-Key") != otlpSecret {
			t.Errorf("an export came without the OTEL_EXPORTER_OTLP_HEADERS header")
		}
	}
	if len(recv.service) == 0 || recv.service[0] != "plannr-mcp-e2e" {
		t.Errorf("service.name = %v, want OTEL_SERVICE_NAME", recv.service)
	}
	byName := map[string][]*tracepb.Span{}
	var everything strings.Builder
	for _, s := range recv.spans {
		byName[s.GetName()] = append(byName[s.GetName()], s)
		fmt.Fprintf(&everything, "%s %s %v %v\n", s.GetName(), s.GetStatus().GetMessage(), s.GetAttributes(), s.GetEvents())
	}
	one := func(name string) *tracepb.Span {
		t.Helper()
		if len(byName[name]) != 1 {
			t.Fatalf("%d spans named %q, want 1; spans:\n%s", len(byName[name]), name, everything.String())
		}
		return byName[name][0]
	}
	want := func(s *tracepb.Span, key, value string) {
		t.Helper()
		if got, ok := attr(s.GetAttributes(), key); !ok || got != value {
			t.Errorf("span %q: %s = %q (present %v), want %q", s.GetName(), key, got, ok, value)
		}
	}

	one("initialize")
	list := one("tools/call list_oauth_connections")
	if hex.EncodeToString(list.GetTraceId()) != traceID || hex.EncodeToString(list.GetParentSpanId()) != parentID {
		t.Errorf("the tools/call span is in trace %x under %x, want the _meta traceparent's %s under %s",
			list.GetTraceId(), list.GetParentSpanId(), traceID, parentID)
	}
	if list.GetFlags()&0x300 != 0x300 {
		t.Errorf("the tools/call span's flags %#x do not say its parent is remote", list.GetFlags())
	}
	if list.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("the tools/call span is %v, want a server span", list.GetKind())
	}
	want(list, "mcp.method.name", "tools/call")
	want(list, "gen_ai.tool.name", "list_oauth_connections")
	want(list, "gen_ai.operation.name", "execute_tool")
	want(list, "network.transport", "pipe")
	if _, ok := attr(list.GetAttributes(), "error.type"); ok || list.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("the successful list span records an error")
	}

	get := one("GET /api/v1/oauth/connections")
	if string(get.GetTraceId()) != string(list.GetTraceId()) || string(get.GetParentSpanId()) != string(list.GetSpanId()) {
		t.Errorf("the Plannr request span is not the child of the tools/call span")
	}
	if get.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("the Plannr request span is %v, want a client span", get.GetKind())
	}
	want(get, "http.request.method", "GET")
	want(get, "url.template", "/api/v1/oauth/connections")
	want(get, "http.response.status_code", "200")
	want(get, "http.request.resend_count", "1")
	want(get, "server.address", "127.0.0.1")
	if ev := get.GetEvents(); len(ev) != 1 || ev[0].GetName() != "retry" {
		t.Errorf("the Plannr request span's events = %v, want one retry", ev)
	} else if cause, _ := attr(ev[0].GetAttributes(), "retry.cause"); cause != "503" {
		t.Errorf("the retry's cause = %q, want 503", cause)
	}

	rename := one("tools/call rename_oauth_connection")
	want(rename, "error.type", "tool_error")
	if rename.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("the failed rename's span has status %v", rename.GetStatus())
	}
	if len(rename.GetParentSpanId()) != 0 {
		t.Errorf("a call without _meta has a parent")
	}
	put := one("PUT /api/v1/oauth/connections/{uuid}")
	want(put, "error.type", "404")
	if string(put.GetParentSpanId()) != string(rename.GetSpanId()) {
		t.Errorf("the PUT span is not the child of the rename span")
	}

	// The unknown tool: a JSON-RPC error, named by its code.
	var unknown *tracepb.Span
	for _, s := range byName["tools/call"] {
		unknown = s
	}
	if unknown == nil {
		t.Fatalf("no span for the call of an unknown tool; spans:\n%s", everything.String())
	}
	if et, ok := attr(unknown.GetAttributes(), "error.type"); !ok || !strings.HasPrefix(et, "-326") {
		t.Errorf("the unknown tool's span: error.type = %q, want a JSON-RPC error code", et)
	}

	text := everything.String()
	for _, secret := range []string{testToken, otlpSecret, secretLabel, "no_such_tool"} {
		if strings.Contains(text, secret) {
			t.Errorf("a span contains %q:\n%s", secret, text)
		}
	}
	if m := anyUUID.FindString(text); m != "" {
		t.Errorf("a span contains the uuid %s:\n%s", m, text)
	}
	for _, rec := range sandbox.SampleConnections(time.Now()) {
		if strings.Contains(text, rec.Label) {
			t.Errorf("a span contains the label %q", rec.Label)
		}
	}
	if strings.Contains(p.stderr.String(), otlpSecret) {
		t.Errorf("the server's log contains the OTLP header's value")
	}
}
