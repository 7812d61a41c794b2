package httpserve

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestGuard(t *testing.T) {
	ts := startServer(t, Config{
		Tokens:         []string{tokenA, tokenB},
		AllowedOrigins: []string{"https://app.example.com"},
		MaxBodyBytes:   4096,
	})
	port := strings.TrimPrefix(strings.TrimSuffix(ts.url, Endpoint), "http://127.0.0.1:")
	huge := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"` + strings.Repeat("x", 5000) + `"}}`

	tests := []struct {
		name       string
		req        rawRequest
		chunked    bool // send the body without a Content-Length
		wantStatus int
		wantHeader map[string]string
		wantBody   string
	}{
		{
			name:       "no token",
			req:        rawRequest{body: initializeBody},
			wantStatus: http.StatusUnauthorized,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="plannr-mcp"`},
		},
		{
			name:       "wrong token",
			req:        rawRequest{token: "client-token-wrong-0123456789", body: initializeBody},
			wantStatus: http.StatusUnauthorized,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="plannr-mcp", error="invalid_token"`},
		},
		{
			name:       "a prefix of a token",
			req:        rawRequest{token: tokenA[:len(tokenA)-1], body: initializeBody},
			wantStatus: http.StatusUnauthorized,
		},
		{
			name:       "another scheme",
			req:        rawRequest{body: initializeBody, headers: map[string]string{"Authorization": "Basic " + tokenA}},
			wantStatus: http.StatusUnauthorized,
		},
		{
			name:       "no token on a GET",
			req:        rawRequest{method: http.MethodGet},
			wantStatus: http.StatusUnauthorized,
		},
		{
			name:       "right token",
			req:        rawRequest{token: tokenA, body: initializeBody},
			wantStatus: http.StatusOK,
			wantBody:   `"serverInfo"`,
		},
		{
			name:       "second token, scheme in lower case",
			req:        rawRequest{body: initializeBody, headers: map[string]string{"Authorization": "bearer " + tokenB}},
			wantStatus: http.StatusOK,
		},
		{
			name:       "foreign Host on a loopback listener",
			req:        rawRequest{token: tokenA, body: initializeBody, host: "attacker.example:" + port},
			wantStatus: http.StatusForbidden,
		},
		{
			name:       "foreign Host is refused before the token is checked",
			req:        rawRequest{body: initializeBody, host: "attacker.example"},
			wantStatus: http.StatusForbidden,
		},
		{
			name:       "localhost Host",
			req:        rawRequest{token: tokenA, body: initializeBody, host: "localhost:" + port},
			wantStatus: http.StatusOK,
		},
		{
			name:       "foreign Origin",
			req:        rawRequest{token: tokenA, body: initializeBody, headers: map[string]string{"Origin": "https://attacker.example"}},
			wantStatus: http.StatusForbidden,
		},
		{
			name:       "null Origin",
			req:        rawRequest{token: tokenA, body: initializeBody, headers: map[string]string{"Origin": "null"}},
			wantStatus: http.StatusForbidden,
		},
		{
			// The conformance suite's dns-rebinding-protection: a page of
			// this machine may call a loopback server; the Host check is
			// what stops rebinding.
			name:       "the server's own loopback origin on a loopback listener",
			req:        rawRequest{token: tokenA, body: initializeBody, headers: map[string]string{"Origin": "http://127.0.0.1:" + port}},
			wantStatus: http.StatusOK,
			wantHeader: map[string]string{"Access-Control-Allow-Origin": "http://127.0.0.1:" + port},
		},
		{
			name:       "another loopback origin on a loopback listener",
			req:        rawRequest{token: tokenA, body: initializeBody, host: "localhost:" + port, headers: map[string]string{"Origin": "http://localhost:6274"}},
			wantStatus: http.StatusOK,
		},
		{
			name:       "a rebound name as Host and Origin",
			req:        rawRequest{token: tokenA, body: initializeBody, host: "evil.example:" + port, headers: map[string]string{"Origin": "http://evil.example:" + port}},
			wantStatus: http.StatusForbidden,
		},
		{
			name:       "a loopback look-alike origin",
			req:        rawRequest{token: tokenA, body: initializeBody, headers: map[string]string{"Origin": "http://127.0.0.1.evil.example"}},
			wantStatus: http.StatusForbidden,
		},
		{
			name:       "a loopback origin with user information",
			req:        rawRequest{token: tokenA, body: initializeBody, headers: map[string]string{"Origin": "http://evil.example@127.0.0.1"}},
			wantStatus: http.StatusForbidden,
		},
		{
			name:       "allowed Origin gets CORS headers",
			req:        rawRequest{token: tokenA, body: initializeBody, headers: map[string]string{"Origin": "https://app.example.com"}},
			wantStatus: http.StatusOK,
			wantHeader: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Vary": "Origin"},
		},
		{
			name: "preflight from an allowed Origin needs no token",
			req: rawRequest{method: http.MethodOptions, headers: map[string]string{
				"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}},
			wantStatus: http.StatusNoContent,
			wantHeader: map[string]string{"Access-Control-Allow-Origin": "https://app.example.com", "Access-Control-Allow-Methods": "GET, POST, DELETE"},
		},
		{
			name:       "preflight from a foreign Origin",
			req:        rawRequest{method: http.MethodOptions, headers: map[string]string{"Origin": "https://attacker.example", "Access-Control-Request-Method": "POST"}},
			wantStatus: http.StatusForbidden,
			wantHeader: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name:       "no CORS headers without an Origin",
			req:        rawRequest{token: tokenA, body: initializeBody},
			wantStatus: http.StatusOK,
			wantHeader: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name:       "other methods",
			req:        rawRequest{method: http.MethodPut, token: tokenA, body: initializeBody},
			wantStatus: http.StatusMethodNotAllowed,
			wantHeader: map[string]string{"Allow": "GET, POST, DELETE"},
		},
		{
			name:       "oversized body with a Content-Length",
			req:        rawRequest{token: tokenA, body: huge},
			wantStatus: http.StatusRequestEntityTooLarge,
		},
		{
			name:       "oversized body without a Content-Length",
			req:        rawRequest{token: tokenA, body: huge},
			chunked:    true,
			wantStatus: http.StatusRequestEntityTooLarge,
		},
		{
			name:       "oversized body without a token is refused for the token",
			req:        rawRequest{body: huge},
			wantStatus: http.StatusUnauthorized,
		},
		{
			name:       "GET without a session",
			req:        rawRequest{method: http.MethodGet, token: tokenA},
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "GET of an unknown session",
			req:        rawRequest{method: http.MethodGet, token: tokenA, headers: map[string]string{"Mcp-Session-Id": "NOSUCHSESSION"}},
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "POST in an unknown session",
			req:        rawRequest{token: tokenA, body: listToolsBody(2), headers: map[string]string{"Mcp-Session-Id": "NOSUCHSESSION", "Mcp-Protocol-Version": legacy}},
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "DELETE of an unknown session",
			req:        rawRequest{method: http.MethodDelete, token: tokenA, headers: map[string]string{"Mcp-Session-Id": "NOSUCHSESSION"}},
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "health needs no token",
			req:        rawRequest{method: http.MethodGet, path: HealthPath},
			wantStatus: http.StatusOK,
			wantBody:   "ok\n",
		},
		{
			name:       "other paths",
			req:        rawRequest{method: http.MethodGet, path: "/mcp/x", token: tokenA},
			wantStatus: http.StatusNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			var body string
			if tt.chunked {
				resp, body = ts.doChunked(t, tt.req)
			} else {
				resp, body = ts.do(t, tt.req)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tt.wantStatus, body)
			}
			for k, want := range tt.wantHeader {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body %q lacks %q", body, tt.wantBody)
			}
			if tt.req.path == HealthPath && body != "ok\n" {
				t.Errorf("health reveals more than ok: %q", body)
			}
		})
	}
	if n := len(ts.fake.Requests()); n != 0 {
		t.Errorf("%d requests reached Plannr; only initialize calls were accepted", n)
	}
	logs := ts.logs.String()
	for _, want := range []string{`reason="no client token"`, `reason="wrong client token"`, `reason="Origin not allowed"`, `status=413`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

func (ts *testServer) doChunked(t *testing.T, rr rawRequest) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.url, strings.NewReader(rr.body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // sent chunked
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+rr.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The Authorization header a client sends is the client's credential, for
// this server only: Plannr sees the server's own credential, never it.
func TestClientTokenIsNotPassedOn(t *testing.T) {
	for _, version := range []string{modern, legacy} {
		t.Run(version, func(t *testing.T) {
			ts := startServer(t, Config{Tokens: []string{tokenA}})
			session := connect(t, ts.url, tokenA, version)
			var out struct{ Count int }
			if err := call(context.Background(), session, "list_oauth_connections", map[string]any{}, &out); err != nil {
				t.Fatal(err)
			}
			if out.Count == 0 {
				t.Fatal("no connections listed")
			}
			reqs := ts.fake.Requests()
			if len(reqs) == 0 {
				t.Fatal("the call did not reach Plannr")
			}
			for _, r := range reqs {
				if got := r.Header.Get("Authorization"); got != "Bearer sandbox-token" {
					t.Errorf("Plannr received Authorization %q", got)
				}
				for k, vs := range r.Header {
					for _, v := range vs {
						if strings.Contains(v, tokenA) {
							t.Errorf("Plannr received the client token in %s", k)
						}
					}
				}
			}
		})
	}
}

// ReadTimeout bounds reading a request, not answering it: a call slower
// than ReadTimeout still completes.
func TestReadTimeoutDoesNotCutLongCalls(t *testing.T) {
	ts := startServer(t, Config{ReadTimeout: 500 * time.Millisecond})
	session := connect(t, ts.url, "", legacy)
	ts.fake.Inject(plannrtestDelay(1500 * time.Millisecond))
	var out struct{ Count int }
	if err := call(context.Background(), session, "list_oauth_connections", map[string]any{}, &out); err != nil {
		t.Fatalf("a call longer than ReadTimeout failed: %v", err)
	}
	if out.Count == 0 {
		t.Fatal("no connections listed")
	}
}

func TestClientAddr(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct client", "192.0.2.7:5000", nil, "192.0.2.7"},
		{"an untrusted peer's X-Forwarded-For is ignored", "192.0.2.7:5000", []string{"198.51.100.1"}, "192.0.2.7"},
		{"a trusted proxy names the client", "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"the nearest untrusted hop wins over spoofed ones", "10.1.2.3:5000", []string{"203.0.113.9, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"several headers", "10.1.2.3:5000", []string{"203.0.113.9", "198.51.100.1"}, "198.51.100.1"},
		{"garbage stops the walk", "10.1.2.3:5000", []string{"198.51.100.1, nonsense"}, "10.1.2.3"},
		{"a trusted proxy without the header", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"IPv4-mapped peer", "[::ffff:192.0.2.7]:5000", nil, "192.0.2.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/mcp", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientAddr(r); got != tt.want {
				t.Errorf("clientAddr = %q, want %q", got, tt.want)
			}
		})
	}
}

// On a listener other machines can reach, only listed origins may call:
// a page that claims to be on loopback is not this machine's.
func TestLoopbackOriginsOnlyOnALoopbackListener(t *testing.T) {
	s := &Server{origins: map[string]bool{"https://app.example.com": true}}
	for _, tt := range []struct {
		local  string
		origin string
		want   bool
	}{
		{"127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"127.0.0.1:8080", "https://localhost", true},
		{"[::1]:8080", "http://[::1]:3000", true},
		{"10.0.0.5:8080", "http://127.0.0.1:8080", false},
		{"10.0.0.5:8080", "http://localhost:8080", false},
		{"10.0.0.5:8080", "https://app.example.com", true},
		{"127.0.0.1:8080", "file://localhost", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		addr, err := net.ResolveTCPAddr("tcp", tt.local)
		if err != nil {
			t.Fatal(err)
		}
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
		if got := s.originAllowed(r, tt.origin); got != tt.want {
			t.Errorf("listener %s, Origin %s: allowed = %v, want %v", tt.local, tt.origin, got, tt.want)
		}
	}
}
