package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// metricsURL finds the metrics listener's URL in a server's log.
var metricsURL = regexp.MustCompile(`msg="serving metrics" endpoint=(http://127\.0\.0\.1:\d+/metrics)`)

// anyUUID matches a uuid anywhere.
var anyUUID = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// waitForLog waits until the log matches re and returns the first group.
func waitForLog(t *testing.T, log *plannrtest.SyncBuffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the log never matched %s:\n%s", re, log.String())
	return ""
}

// scrape reads the metrics and parses them with Prometheus' text parser.
func scrape(t *testing.T, url string) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("the metrics do not parse as Prometheus' text format: %v\n%s", err, body)
	}
	return string(body), families
}

// sample is the value of the series of family name with exactly labels,
// and whether there is one. A histogram's value is its count.
func sample(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsAfterAKnownSequence serves HTTP with metrics on a listener of
// their own, drives a known sequence (two refused requests, a session, a
// list retried after a 503, a list retried after a 429, a rename that
// Plannr answers 404, so a tool error) and checks the counters by name and
// label with Prometheus' text parser; no label or value carries a token,
// a uuid, a label or a client's text.
func TestMetricsAfterAKnownSequence(t *testing.T) {
	fake, upstream := startFake(t)
	p := startHTTP(t, append(baseEnv(t),
		"PLANNR_BASE_URL="+upstream,
		"PLANNR_TOKEN="+testToken,
		"PLANNR_MCP_AUTH_TOKENS="+clientToken,
		"PLANNR_RATE_LIMIT=0",
	), "--metrics-addr", "127.0.0.1:0")
	metrics := waitForLog(t, p.stderr, metricsURL)

	// Before anything: the runtime's and the process's metrics are there.
	_, families := scrape(t, metrics)
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes", "plannr_mcp_build_info"} {
		if families[name] == nil {
			t.Errorf("no %s before any call", name)
		}
	}

	// Two requests the guard refuses.
	if resp, _ := post(t, p.url, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %s", resp.Status)
	}
	wrong := "Bearer wrong-" + clientToken
	if resp, _ := post(t, p.url, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{"Authorization": wrong}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %s", resp.Status)
	}

	session := connectHTTP(t, p.url, plannrtest.Bearer{Token: clientToken}, "2025-11-25")
	const listPath = "/api/v1/oauth/connections"
	fake.Inject(sandbox.Fault{Method: http.MethodGet, Path: listPath, Status: http.StatusServiceUnavailable})
	if res := callTool(t, session, "list_oauth_connections", map[string]any{}); res.IsError {
		t.Fatalf("list after a 503: %s", resultText(res))
	}
	fake.Inject(sandbox.Fault{Method: http.MethodGet, Path: listPath, Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}})
	if res := callTool(t, session, "list_oauth_connections", map[string]any{}); res.IsError {
		t.Fatalf("list after a 429: %s", resultText(res))
	}
	const missing, secretLabel = "0b96d72c-0000-4000-8000-000000000000", "Label that must not leak 5c1e"
	if res := callTool(t, session, "rename_oauth_connection", map[string]any{"uuid": missing, "label": secretLabel}); !res.IsError {
		t.Fatalf("renaming an unknown connection succeeded: %s", resultText(res))
	}

	body, families := scrape(t, metrics)
	const list, put = "GET /api/v1/oauth/connections", "PUT /api/v1/oauth/connections/{uuid}"
	// What the fake saw decides the 2xx count: the server may also ask
	// for the logins, on its own.
	lists := 0
	for _, r := range fake.Requests() {
		if r.Method == http.MethodGet && r.Path == listPath {
			lists++
		}
	}
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"plannr_mcp_tool_calls_total", map[string]string{"tool": "list_oauth_connections", "outcome": "ok"}, 2},
		{"plannr_mcp_tool_calls_total", map[string]string{"tool": "rename_oauth_connection", "outcome": "tool_error"}, 1},
		{"plannr_mcp_tool_call_duration_seconds", map[string]string{"tool": "list_oauth_connections"}, 2},
		{"plannr_mcp_tool_call_duration_seconds", map[string]string{"tool": "rename_oauth_connection"}, 1},
		{"plannr_mcp_upstream_requests_total", map[string]string{"endpoint": list, "status_class": "5xx"}, 1},
		{"plannr_mcp_upstream_requests_total", map[string]string{"endpoint": list, "status_class": "4xx"}, 1},
		{"plannr_mcp_upstream_requests_total", map[string]string{"endpoint": list, "status_class": "2xx"}, float64(lists - 2)},
		{"plannr_mcp_upstream_requests_total", map[string]string{"endpoint": put, "status_class": "4xx"}, 1},
		{"plannr_mcp_upstream_request_duration_seconds", map[string]string{"endpoint": list}, float64(lists)},
		{"plannr_mcp_upstream_retries_total", map[string]string{"endpoint": list, "cause": "503"}, 1},
		{"plannr_mcp_upstream_retries_total", map[string]string{"endpoint": list, "cause": "429"}, 1},
		{"plannr_mcp_upstream_rate_limited_total", map[string]string{"endpoint": list}, 1},
		{"plannr_mcp_http_rejected_requests_total", map[string]string{"reason": "no_client_token"}, 1},
		{"plannr_mcp_http_rejected_requests_total", map[string]string{"reason": "wrong_client_token"}, 1},
		{"plannr_mcp_http_sessions", map[string]string{}, 1},
		{"plannr_mcp_rate_limit_refusals_total", map[string]string{}, 0},
	}
	for _, w := range want {
		got, ok := sample(families, w.name, w.labels)
		if !ok || got != w.value {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.value)
		}
	}
	if _, ok := sample(families, "plannr_mcp_upstream_rate_limit_remaining", map[string]string{}); !ok {
		t.Error("no plannr_mcp_upstream_rate_limit_remaining, though the fake sends X-RateLimit-Remaining")
	}
	if _, ok := sample(families, "plannr_mcp_upstream_retries_total", map[string]string{"endpoint": put, "cause": "404"}); ok {
		t.Error("a 404 was counted as retried")
	}

	checkMetricsHoldNothingPrivate(t, body, families, testToken, clientToken, wrong, secretLabel)

	// The metrics listener carries no MCP.
	if resp, err := http.Post(strings.TrimSuffix(metrics, "/metrics")+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /mcp on the metrics listener: %v %v, want 404", resp, err)
	}
}

// checkMetricsHoldNothingPrivate checks that every label of the server's
// own metrics is from a fixed set, and that nothing anywhere in a scrape is
// one of the secrets, a uuid or a sample connection's label.
func checkMetricsHoldNothingPrivate(t *testing.T, body string, families map[string]*dto.MetricFamily, secrets ...string) {
	t.Helper()
	allowed := map[string]*regexp.Regexp{
		"tool":         regexp.MustCompile(`^(list_oauth_connections|list_plannr_accounts|rename_oauth_connection|reauthorize_oauth_connection|delete_oauth_connection)$`),
		"outcome":      regexp.MustCompile(`^(ok|tool_error|error|success|login_required|failed|denied|refused)$`),
		"endpoint":     regexp.MustCompile(`^((GET|PUT|DELETE) /api/v1/oauth/connections(/\{uuid\})?|GET /api/v1/logins|other)$`),
		"status_class": regexp.MustCompile(`^([1-5]xx|error)$`),
		"cause":        regexp.MustCompile(`^(429|502|503|504|timeout|connection|canceled)$`),
		"reason":       regexp.MustCompile(`^[a-z_]+$`),
		"version":      regexp.MustCompile(`^[\w.+-]+$`),
		"goversion":    regexp.MustCompile(`^go[\w.]+$`),
		"le":           regexp.MustCompile(`.`),
	}
	for name, f := range families {
		if !strings.HasPrefix(name, "plannr_mcp_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				re := allowed[l.GetName()]
				if re == nil || !re.MatchString(l.GetValue()) {
					t.Errorf("%s has the label %s=%q, outside the fixed sets", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(body, secret) {
			t.Errorf("the metrics contain %q", secret)
		}
	}
	if m := anyUUID.FindString(body); m != "" {
		t.Errorf("the metrics contain the uuid %s", m)
	}
	for _, rec := range sandbox.SampleConnections(time.Now()) {
		if strings.Contains(body, rec.Label) {
			t.Errorf("the metrics contain the label %q", rec.Label)
		}
	}
}

// TestMetricsInOAuthMode: with --auth oauth the same metrics are served,
// and sign-ins and refused access tokens are counted, by fixed names.
func TestMetricsInOAuthMode(t *testing.T) {
	srv := startHTTP(t, oauthEnv(t, t.TempDir()), "--sandbox", "--auth", "oauth", "--metrics-addr", "127.0.0.1:0")
	metrics := waitForLog(t, srv.stderr, metricsURL)
	base := strings.TrimSuffix(srv.url, "/mcp")

	if resp, _ := post(t, srv.url, rawInitialize, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no access token: %s", resp.Status)
	}
	const forged = "pmcp_at_forged-token-for-the-metrics-test"
	if resp, _ := post(t, srv.url, rawInitialize, map[string]string{"Authorization": "Bearer " + forged}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a forged access token: %s", resp.Status)
	}
	client := registerClient(t, base)
	access, refresh := client.signIn(sandbox.OwnerEmail)
	session := connectHTTP(t, srv.url, plannrtest.Bearer{Token: access}, "2025-11-25")
	if res := callTool(t, session, "list_oauth_connections", map[string]any{}); res.IsError {
		t.Fatalf("list: %s", resultText(res))
	}

	body, families := scrape(t, metrics)
	for _, w := range []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"plannr_mcp_sign_ins_total", map[string]string{"outcome": "success"}, 1},
		{"plannr_mcp_http_rejected_requests_total", map[string]string{"reason": "no_access_token"}, 1},
		{"plannr_mcp_http_rejected_requests_total", map[string]string{"reason": "access_token_refused"}, 1},
		{"plannr_mcp_tool_calls_total", map[string]string{"tool": "list_oauth_connections", "outcome": "ok"}, 1},
		{"plannr_mcp_upstream_requests_total", map[string]string{"endpoint": "GET /api/v1/oauth/connections", "status_class": "2xx"}, 1},
		{"plannr_mcp_http_sessions", map[string]string{}, 1},
	} {
		if got, ok := sample(families, w.name, w.labels); !ok || got != w.value {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.value)
		}
	}
	checkMetricsHoldNothingPrivate(t, body, families, append(client.issued, access, refresh, forged, storeKey, sandbox.OwnerEmail)...)
}

// TestMetricsOverStdio: --metrics-addr serves metrics in the stdio
// transport too.
func TestMetricsOverStdio(t *testing.T) {
	_, upstream := startFake(t)
	session, stderr := connectStdio(t, append(baseEnv(t), "PLANNR_BASE_URL="+upstream, "PLANNR_TOKEN="+testToken), "2025-11-25", "--metrics-addr", "127.0.0.1:0")
	metrics := waitForLog(t, stderr, metricsURL)
	if res := callTool(t, session, "list_plannr_accounts", map[string]any{}); res.IsError {
		t.Fatalf("list_plannr_accounts: %s", resultText(res))
	}
	_, families := scrape(t, metrics)
	if got, ok := sample(families, "plannr_mcp_tool_calls_total", map[string]string{"tool": "list_plannr_accounts", "outcome": "ok"}); !ok || got != 1 {
		t.Errorf("tool calls = %v (present %v), want 1", got, ok)
	}
	if families["plannr_mcp_http_sessions"] != nil || families["plannr_mcp_http_rejected_requests_total"] != nil {
		t.Error("stdio serves HTTP metrics")
	}
}
