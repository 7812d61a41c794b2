package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// TestLaravelAnswers checks the fake answers each documented case with
// Plannr's status and body.
func TestLaravelAnswers(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 30, 0, time.UTC)
	fake := sandbox.New(sandbox.WithClock(func() time.Time { return now }), sandbox.WithRateLimit(3))
	srv := httptest.NewServer(fake)
	defer srv.Close()
	const uuid = "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c"
	tests := []struct {
		name, method, path, token, account, body string
		wantStatus                               int
		wantMessage                              string
	}{
		{"unknown route", "GET", "/api/v1/nope", sandbox.SandboxToken, "", "", 404, "The route api/v1/nope could not be found."},
		{"wrong method", "POST", "/api/v1/oauth/connections", sandbox.SandboxToken, "", "", 405, "The POST method is not supported for route api/v1/oauth/connections. Supported methods: GET, HEAD."},
		{"no token", "GET", "/api/v1/oauth/connections", "", "", "", 401, "Unauthenticated."},
		{"foreign account", "GET", "/api/v1/oauth/connections", sandbox.SandboxToken, "11111111-1111-4111-8111-111111111111", "", 403, "This action is unauthorized."},
		{"label missing", "PUT", "/api/v1/oauth/connections/" + uuid, sandbox.SandboxToken, "", `{}`, 422, "The label field is required."},
		{"label too long", "PUT", "/api/v1/oauth/connections/" + uuid, sandbox.SandboxToken, "", `{"label":"` + strings.Repeat("a", 256) + `"}`, 422, "The label field must not be greater than 255 characters."},
		{"rate limited", "GET", "/api/v1/oauth/connections", sandbox.SandboxToken, "", "", 429, "Too Many Attempts."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.account != "" {
				req.Header.Set("X-PLANNR-ACCOUNT-UUID", tt.account)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var got struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(body, &got)
			if resp.StatusCode != tt.wantStatus || got.Message != tt.wantMessage {
				t.Errorf("got %d %s, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantMessage)
			}
			if tt.wantStatus == 429 {
				if resp.Header.Get("Retry-After") != "30" || resp.Header.Get("X-RateLimit-Remaining") != "0" {
					t.Errorf("429 headers: %v", resp.Header)
				}
			}
		})
	}
}
