package sandbox_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

const (
	testClientID = "client-1"
	testSecret   = "secret-1"
	testRedirect = "http://127.0.0.1:8765/callback"
	testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

func startOAuthFake(t *testing.T, opts ...sandbox.Option) (*sandbox.Server, *httptest.Server, *plannrtest.Clock) {
	t.Helper()
	clock := plannrtest.NewClock(time.Date(2026, 6, 8, 12, 0, 0, 0, time.UTC))
	opts = append([]sandbox.Option{
		sandbox.WithClock(clock.Now),
		sandbox.WithRateLimit(0),
		sandbox.WithOAuthClient(sandbox.OAuthClient{ID: testClientID, Secret: testSecret, RedirectURIs: []string{testRedirect}}),
	}, opts...)
	fake := sandbox.New(opts...)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv, clock
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeQuery(overrides map[string]string) url.Values {
	q := url.Values{
		"client_id":             {testClientID},
		"redirect_uri":          {testRedirect},
		"response_type":         {"code"},
		"scope":                 {"*"},
		"state":                 {"state-123"},
		"code_challenge":        {challenge(testVerifier)},
		"code_challenge_method": {"S256"},
	}
	for k, v := range overrides {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return q
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize asks the fake for a code and returns the redirect's query.
func authorize(t *testing.T, srv *httptest.Server) url.Values {
	t.Helper()
	resp, err := noRedirects.Get(srv.URL + "/oauth/authorize?" + authorizeQuery(nil).Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirect {
		t.Fatalf("redirected to %s, want %s", got, testRedirect)
	}
	return loc.Query()
}

type tokenAnswer struct {
	status int
	body   map[string]any
}

func postToken(t *testing.T, srv *httptest.Server, form url.Values) tokenAnswer {
	t.Helper()
	resp, err := http.Post(srv.URL+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("token answer is not JSON: %s", data)
	}
	return tokenAnswer{resp.StatusCode, body}
}

func exchangeForm(code string, overrides map[string]string) url.Values {
	f := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {testClientID},
		"client_secret": {testSecret},
		"redirect_uri":  {testRedirect},
		"code":          {code},
		"code_verifier": {testVerifier},
	}
	for k, v := range overrides {
		f.Set(k, v)
	}
	return f
}

func refreshForm(refresh string) url.Values {
	return url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {testClientID},
		"client_secret": {testSecret},
		"refresh_token": {refresh},
	}
}

func apiStatus(t *testing.T, srv *httptest.Server, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/logins", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAuthorizeRedirectsBackWithCodeAndState(t *testing.T) {
	fake, srv, _ := startOAuthFake(t)
	q := authorize(t, srv)
	if q.Get("state") != "state-123" || q.Get("code") == "" {
		t.Fatalf("redirect query = %v, want the state back and a code", q)
	}
	if got := fake.OAuthStats().Authorizations; got != 1 {
		t.Errorf("Authorizations = %d, want 1", got)
	}
}

func TestAuthorizeRefusesBadRequests(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		status    int
		errCode   string
	}{
		{"unknown client", map[string]string{"client_id": "nobody"}, 401, "invalid_client"},
		{"unregistered redirect", map[string]string{"redirect_uri": "http://127.0.0.1:9999/callback"}, 401, "invalid_client"},
		{"implicit grant", map[string]string{"response_type": "token"}, 400, "unsupported_response_type"},
		{"no PKCE", map[string]string{"code_challenge": "", "code_challenge_method": ""}, 400, "invalid_request"},
		{"plain PKCE", map[string]string{"code_challenge_method": "plain"}, 400, "invalid_request"},
		{"method omitted", map[string]string{"code_challenge_method": ""}, 400, "invalid_request"},
		{"malformed challenge", map[string]string{"code_challenge": "short"}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv, _ := startOAuthFake(t)
			resp, err := noRedirects.Get(srv.URL + "/oauth/authorize?" + authorizeQuery(tt.overrides).Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.status || body["error"] != tt.errCode {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, body, tt.status, tt.errCode)
			}
		})
	}
}

func TestCodeExchangeChecks(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		status    int
		errCode   string
		hint      string
	}{
		{"valid", nil, 200, "", ""},
		{"wrong verifier", map[string]string{"code_verifier": strings.Repeat("x", 43)}, 400, "invalid_grant", "Failed to verify `code_verifier`."},
		{"missing verifier", map[string]string{"code_verifier": ""}, 400, "invalid_request", "Check the `code_verifier` parameter"},
		{"other redirect", map[string]string{"redirect_uri": "http://127.0.0.1:1/callback"}, 400, "invalid_request", "Invalid redirect URI"},
		{"wrong secret", map[string]string{"client_secret": "guess"}, 401, "invalid_client", ""},
		{"unknown code", map[string]string{"code": "made-up"}, 400, "invalid_request", "Cannot decrypt the authorization code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv, _ := startOAuthFake(t)
			code := authorize(t, srv).Get("code")
			got := postToken(t, srv, exchangeForm(code, tt.overrides))
			if got.status != tt.status {
				t.Fatalf("status %d (%v), want %d", got.status, got.body, tt.status)
			}
			if tt.status == 200 {
				if got.body["token_type"] != "Bearer" || got.body["access_token"] == nil || got.body["refresh_token"] == nil || got.body["expires_in"] == nil {
					t.Fatalf("token answer %v lacks a field", got.body)
				}
				if s := apiStatus(t, srv, got.body["access_token"].(string)); s != 200 {
					t.Errorf("API answered %d to the new access token", s)
				}
				if fake.OAuthStats().CodeExchanges != 1 {
					t.Errorf("CodeExchanges = %d", fake.OAuthStats().CodeExchanges)
				}
				return
			}
			if got.body["error"] != tt.errCode || (tt.hint != "" && got.body["hint"] != tt.hint) {
				t.Fatalf("answer %v, want error %s hint %q", got.body, tt.errCode, tt.hint)
			}
			if tt.errCode == "invalid_client" && got.body["error_description"] != "Client authentication failed" {
				t.Errorf("invalid_client body %v is not Passport's", got.body)
			}
		})
	}
}

func TestCodeIsSingleUseAndExpires(t *testing.T) {
	_, srv, clock := startOAuthFake(t)
	code := authorize(t, srv).Get("code")
	if got := postToken(t, srv, exchangeForm(code, nil)); got.status != 200 {
		t.Fatalf("first exchange: %d %v", got.status, got.body)
	}
	if got := postToken(t, srv, exchangeForm(code, nil)); got.status != 400 || got.body["hint"] != "Authorization code has been revoked" {
		t.Fatalf("second exchange: %d %v", got.status, got.body)
	}
	code = authorize(t, srv).Get("code")
	clock.Advance(10 * time.Minute) // an authorization code's lifetime
	if got := postToken(t, srv, exchangeForm(code, nil)); got.status != 400 || got.body["hint"] != "Authorization code has expired" {
		t.Fatalf("late exchange: %d %v", got.status, got.body)
	}
}

func TestRefreshRotatesAndRevokesTheOldPair(t *testing.T) {
	tests := []struct {
		name    string
		style   sandbox.RefreshErrorStyle
		status  int
		errCode string
		message bool
	}{
		{"newer Passport", sandbox.RefreshInvalidRequest, 401, "invalid_request", true},
		{"older Passport", sandbox.RefreshInvalidGrant, 400, "invalid_grant", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv, clock := startOAuthFake(t, sandbox.WithRefreshErrorStyle(tt.style), sandbox.WithTokenLifetimes(time.Minute, time.Hour))
			first := postToken(t, srv, exchangeForm(authorize(t, srv).Get("code"), nil))
			access1, refresh1 := first.body["access_token"].(string), first.body["refresh_token"].(string)
			if first.body["expires_in"] != float64(60) {
				t.Errorf("expires_in = %v, want 60", first.body["expires_in"])
			}

			clock.Advance(50 * time.Second)
			second := postToken(t, srv, refreshForm(refresh1))
			if second.status != 200 {
				t.Fatalf("refresh: %d %v", second.status, second.body)
			}
			access2, refresh2 := second.body["access_token"].(string), second.body["refresh_token"].(string)
			if access2 == access1 || refresh2 == refresh1 {
				t.Fatal("refresh did not rotate both tokens")
			}
			if s := apiStatus(t, srv, access1); s != 401 {
				t.Errorf("old access token: API answered %d, want 401", s)
			}
			if s := apiStatus(t, srv, access2); s != 200 {
				t.Errorf("new access token: API answered %d, want 200", s)
			}
			if got := fake.ActiveRefreshTokens(); len(got) != 1 || got[0] != refresh2 {
				t.Errorf("active refresh tokens = %v, want only the new one", got)
			}

			reused := postToken(t, srv, refreshForm(refresh1))
			if reused.status != tt.status || reused.body["error"] != tt.errCode ||
				reused.body["error_description"] != "The refresh token is invalid." || reused.body["hint"] != "Token has been revoked" {
				t.Fatalf("reused refresh token: %d %v", reused.status, reused.body)
			}
			if _, has := reused.body["message"]; has != tt.message {
				t.Errorf("message present = %v, want %v", has, tt.message)
			}
			stats := fake.OAuthStats()
			if stats.Refreshes != 1 || stats.RefreshRejected != 1 || stats.RefreshReused != 1 {
				t.Errorf("stats = %+v", stats)
			}
			events := fake.RefreshEvents()
			if len(events) != 1 || !events[0].OldAccessExpiry.Equal(events[0].At.Add(10*time.Second)) {
				t.Errorf("refresh events = %+v", events)
			}

			clock.Advance(time.Minute)
			if s := apiStatus(t, srv, access2); s != 401 {
				t.Errorf("expired access token: API answered %d, want 401", s)
			}
			clock.Advance(time.Hour)
			if expired := postToken(t, srv, refreshForm(refresh2)); expired.status != tt.status || expired.body["hint"] != "Token has expired" {
				t.Errorf("expired refresh token: %d %v", expired.status, expired.body)
			}
		})
	}
}

func TestRevocationHelpers(t *testing.T) {
	fake, srv, _ := startOAuthFake(t)
	access, refresh, expiresIn, err := fake.IssueOAuthTokens(testClientID)
	if err != nil || expiresIn != sandbox.DefaultAccessTokenLifetime {
		t.Fatalf("IssueOAuthTokens: %v, %v", expiresIn, err)
	}
	if _, _, _, err := fake.IssueOAuthTokens("nobody"); err == nil {
		t.Error("IssueOAuthTokens accepted an unknown client")
	}
	if n := fake.RevokeOAuthAccessTokens(); n != 1 {
		t.Errorf("revoked %d access tokens, want 1", n)
	}
	if s := apiStatus(t, srv, access); s != 401 {
		t.Errorf("revoked access token: API answered %d", s)
	}
	got := postToken(t, srv, refreshForm(refresh))
	if got.status != 200 {
		t.Fatalf("refresh after access revocation: %d %v", got.status, got.body)
	}
	fake.RevokeOAuthTokens()
	if again := postToken(t, srv, refreshForm(got.body["refresh_token"].(string))); again.status != 401 || again.body["error"] != "invalid_request" {
		t.Errorf("refresh after full revocation: %d %v", again.status, again.body)
	}
}

func TestOAuthRoutes(t *testing.T) {
	_, srv, _ := startOAuthFake(t)
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodPost, "/oauth/authorize", 405},
		{http.MethodGet, "/oauth/token", 405},
		{http.MethodGet, "/oauth/nothing", 404},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.status)
		}
	}
	resp, err := http.Post(srv.URL+"/oauth/token", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("JSON token request = %d, want 400", resp.StatusCode)
	}
}
