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

const expiredUUID = "7d6c5b4a-3e2f-4a1b-8c9d-0e1f2a3b4c5d" // "Nucleus (old login)" in the sample data

// refreshURLs lists the connections' re-authorization URLs through the API.
func refreshURLs(t *testing.T, base string) map[string]string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/oauth/connections", nil)
	req.Header.Set("Authorization", "Bearer "+sandbox.SandboxToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			UUID string `json:"uuid"`
			URL  string `json:"refresh_authorization_url"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	urls := map[string]string{}
	for _, c := range list.Data {
		urls[c.UUID] = c.URL
	}
	return urls
}

func TestReauthorizePageRenewsTheConnection(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	fake := sandbox.New(sandbox.WithClock(func() time.Time { return now }), sandbox.WithReauthorizePage())
	srv := httptest.NewServer(fake)
	defer srv.Close()

	link := refreshURLs(t, srv.URL)[expiredUUID]
	if link != srv.URL+"/reauthorize/"+expiredUUID {
		t.Fatalf("refresh_authorization_url = %q, want the fake's own page", link)
	}
	tests := []struct {
		name, method, path string
		status             int
		page               string
		changes            int
	}{
		{"posting is refused", http.MethodPost, "/reauthorize/" + expiredUUID, http.StatusMethodNotAllowed, "browser", 0},
		{"an unknown connection", http.MethodGet, "/reauthorize/00000000-0000-4000-8000-000000000000", http.StatusNotFound, "No connection has this re-authorization link.", 0},
		{"opening the page renews", http.MethodGet, "/reauthorize/" + expiredUUID, http.StatusOK, "is re-authorized", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.page) {
				t.Errorf("%s %s = %d %s", tt.method, tt.path, resp.StatusCode, body)
			}
			if got := fake.Changes(expiredUUID); got != tt.changes {
				t.Errorf("changes = %d, want %d", got, tt.changes)
			}
		})
	}
	rec, _ := fake.Connection(expiredUUID)
	if rec.RefreshTokenExpiresAt == nil || !strings.HasPrefix(*rec.RefreshTokenExpiresAt, now.Add(sandbox.ReauthorizedLifetime).Format(time.DateOnly)) {
		t.Errorf("refresh token expires at %v after re-authorizing, want %s", rec.RefreshTokenExpiresAt, now.Add(sandbox.ReauthorizedLifetime).Format(time.DateOnly))
	}
}

func TestWithoutTheReauthorizePageTheURLsArePlannrs(t *testing.T) {
	srv := httptest.NewServer(sandbox.New())
	defer srv.Close()
	if link := refreshURLs(t, srv.URL)[expiredUUID]; !strings.HasPrefix(link, "https://api.plannrcrm.com/oauth/") {
		t.Errorf("refresh_authorization_url = %q, want the sample's Plannr URL", link)
	}
	resp, err := http.Get(srv.URL + "/reauthorize/" + expiredUUID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /reauthorize/… = %d, want 404 without the option", resp.StatusCode)
	}
}
