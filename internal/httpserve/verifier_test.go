package httpserve

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// fakeVerifier accepts "person-a-…" and "person-b-…" tokens as those
// people, refuses other tokens, and fails to check "unavailable".
type fakeVerifier struct{}

var errRefused = errors.New("refused")

func (fakeVerifier) Verify(ctx context.Context, token string) (context.Context, string, error) {
	switch {
	case strings.HasPrefix(token, "person-a-"):
		return ctx, "a", nil
	case strings.HasPrefix(token, "person-b-"):
		return ctx, "b", nil
	case token == "unavailable":
		return ctx, "", errors.New("the store is down")
	}
	return ctx, "", errRefused
}

func (fakeVerifier) Challenge(err error) string {
	if err != nil {
		return `Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp", error="invalid_token"`
	}
	return `Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp"`
}

func (fakeVerifier) Refused(err error) bool { return errors.Is(err, errRefused) }

func TestVerifier(t *testing.T) {
	ts := startServer(t, Config{Verifier: fakeVerifier{}, PublicHosts: []string{"mcp.example"},
		Handlers: map[string]http.Handler{"/.well-known/x": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("meta")) })}})
	tests := []struct {
		name, token, challenge string
		status                 int
	}{
		{"no token", "", `resource_metadata=`, 401},
		{"refused", "wrong", `error="invalid_token"`, 401},
		{"the check fails", "unavailable", "", 503},
		{"accepted", "person-a-1", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := ts.do(t, rawRequest{token: tt.token, body: initializeBody})
			if resp.StatusCode != tt.status || !strings.Contains(resp.Header.Get("WWW-Authenticate"), tt.challenge) {
				t.Errorf("= %d %q, want %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tt.status, tt.challenge)
			}
		})
	}
	// A session belongs to its person, whatever token of theirs is used.
	id, status := ts.initialize(t, "person-a-1")
	if status != 200 || id == "" {
		t.Fatalf("initialize = %d", status)
	}
	for token, want := range map[string]int{"person-a-2": 200, "person-b-1": 404} {
		resp, _ := ts.do(t, rawRequest{token: token, body: listToolsBody(2), headers: map[string]string{"Mcp-Session-Id": id, "Mcp-Protocol-Version": legacy}})
		if resp.StatusCode != want {
			t.Errorf("the session with %s = %d, want %d", token, resp.StatusCode, want)
		}
	}
	// The extra handlers are served behind the Host check, which accepts
	// the public host on a loopback listener.
	if resp, body := ts.do(t, rawRequest{method: http.MethodGet, path: "/.well-known/x", host: "mcp.example"}); resp.StatusCode != 200 || body != "meta" {
		t.Errorf("a handler under the public host = %d %q", resp.StatusCode, body)
	}
	if resp, _ := ts.do(t, rawRequest{method: http.MethodGet, path: "/.well-known/x", host: "rebound.example"}); resp.StatusCode != 403 {
		t.Errorf("a handler under another host = %d, want 403", resp.StatusCode)
	}
}
