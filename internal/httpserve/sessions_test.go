package httpserve

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMaxSessions(t *testing.T) {
	ts := startServer(t, Config{Tokens: []string{tokenA}, MaxSessions: 2})
	first, status := ts.initialize(t, tokenA)
	if status != http.StatusOK || first == "" {
		t.Fatalf("first initialize: status %d, session %q", status, first)
	}
	if second, status := ts.initialize(t, tokenA); status != http.StatusOK || second == "" || second == first {
		t.Fatalf("second initialize: status %d, session %q", status, second)
	}
	resp, body := ts.do(t, rawRequest{token: tokenA, body: initializeBody})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third initialize: status %d, Retry-After %q, body %q; want 503 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp.Header.Get("Mcp-Session-Id") != "" {
		t.Fatal("a refused initialize got a session id")
	}

	// Requests within the live sessions still work.
	resp, body = ts.do(t, rawRequest{token: tokenA, body: listToolsBody(2), headers: map[string]string{"Mcp-Session-Id": first, "Mcp-Protocol-Version": legacy}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "list_oauth_connections") {
		t.Fatalf("tools/list in a live session: %d %s", resp.StatusCode, body)
	}
	// Modern requests hold no session, so the cap does not apply to them.
	connect(t, ts.url, tokenA, modern)

	// Ending a session frees its slot.
	resp, _ = ts.do(t, rawRequest{method: http.MethodDelete, token: tokenA, headers: map[string]string{"Mcp-Session-Id": first}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: status %d", resp.StatusCode)
	}
	resp, _ = ts.do(t, rawRequest{token: tokenA, body: listToolsBody(3), headers: map[string]string{"Mcp-Session-Id": first, "Mcp-Protocol-Version": legacy}})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a request in an ended session: status %d, want 404", resp.StatusCode)
	}
	if _, status := ts.initialize(t, tokenA); status != http.StatusOK {
		t.Fatalf("initialize after a DELETE: status %d", status)
	}
	if n := ts.sessions.live(); n != 2 {
		t.Fatalf("%d live sessions, want 2", n)
	}
}

// A session belongs to the client token that opened it: another client
// cannot use it, even knowing its id.
func TestSessionsAreBoundToTheirClient(t *testing.T) {
	ts := startServer(t, Config{Tokens: []string{tokenA, tokenB}})
	id, status := ts.initialize(t, tokenA)
	if status != http.StatusOK || id == "" {
		t.Fatalf("initialize: %d %q", status, id)
	}
	headers := map[string]string{"Mcp-Session-Id": id, "Mcp-Protocol-Version": legacy}
	tests := []struct {
		name string
		req  rawRequest
		want int
	}{
		{"POST with another client's token", rawRequest{token: tokenB, body: listToolsBody(2), headers: headers}, http.StatusNotFound},
		{"GET with another client's token", rawRequest{method: http.MethodGet, token: tokenB, headers: headers}, http.StatusNotFound},
		{"DELETE with another client's token", rawRequest{method: http.MethodDelete, token: tokenB, headers: headers}, http.StatusNotFound},
		{"POST with the owner's token", rawRequest{token: tokenA, body: listToolsBody(3), headers: headers}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp, body := ts.do(t, tt.req); resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tt.want, body)
			}
		})
	}
	if ts.sessions.live() != 1 {
		t.Fatal("another client's DELETE ended the session")
	}
}

func TestIdleSessionsExpire(t *testing.T) {
	ts := startServer(t, Config{SessionIdleTimeout: time.Second})
	id, status := ts.initialize(t, "")
	if status != http.StatusOK || id == "" {
		t.Fatalf("initialize: %d %q", status, id)
	}
	deadline := time.Now().Add(30 * time.Second)
	for ts.sessions.live() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the idle session was not expired within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, _ := ts.do(t, rawRequest{body: listToolsBody(2), headers: map[string]string{"Mcp-Session-Id": id, "Mcp-Protocol-Version": legacy}})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a request in an expired session: status %d, want 404", resp.StatusCode)
	}
	if strings.Contains(ts.logs.String(), id) {
		t.Errorf("the logs show a session id:\n%s", ts.logs.String())
	}
}

// A session's GET stream ends with the session.
func TestEndingASessionEndsItsStream(t *testing.T) {
	ts := startServer(t, Config{})
	id, _ := ts.initialize(t, "")
	req, _ := http.NewRequest(http.MethodGet, ts.url, nil)
	req.Header.Set("Mcp-Session-Id", id)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ended := make(chan struct{})
	go func() {
		_, _ = resp.Body.Read(make([]byte, 1024))
		close(ended)
	}()
	ts.sessions.remove(id)
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the GET stream outlived its session")
	}
}

func TestStateless(t *testing.T) {
	ts := startServer(t, Config{Stateless: true, Tokens: []string{tokenA}})
	id, status := ts.initialize(t, tokenA)
	if status != http.StatusOK || id != "" {
		t.Fatalf("initialize: status %d, session %q; want 200 and no session", status, id)
	}
	resp, _ := ts.do(t, rawRequest{method: http.MethodGet, token: tokenA})
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET stream in stateless mode: status %d, want 405", resp.StatusCode)
	}
	for _, version := range []string{modern, legacy} {
		session := connect(t, ts.url, tokenA, version)
		var out struct{ Count int }
		if err := call(context.Background(), session, "list_oauth_connections", map[string]any{}, &out); err != nil || out.Count == 0 {
			t.Fatalf("%s: list: %v, count %d", version, err, out.Count)
		}
	}
	if ts.sessions != nil {
		t.Fatal("a stateless server keeps a session table")
	}
}
