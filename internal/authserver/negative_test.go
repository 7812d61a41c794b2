package authserver

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// grants counts the live token families of everyone.
func (e *env) grants() int {
	e.t.Helper()
	users, err := e.store.Users(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, u := range users {
		n += u.Grants
	}
	return n
}

// unchanged fails the test if the grants or what reached Plannr changed
// while f ran.
func (e *env) unchanged(f func()) {
	e.t.Helper()
	grants, upstream := e.grants(), e.upstream()
	f()
	if g := e.grants(); g != grants {
		e.t.Errorf("grants went from %d to %d", grants, g)
	}
	if u := e.upstream(); u != upstream {
		e.t.Errorf("%d requests reached Plannr", u-upstream)
	}
}

func TestTokenRequestsRefused(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	confidential, _ := e.register(false, clientRedirect)
	code, verifier := e.signIn(id, sandbox.OwnerEmail)
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {clientRedirect}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		error  string
	}{
		{"missing PKCE verifier", form("code_verifier", ""), 400, "invalid_request"},
		{"unregistered client", form("client_id", "pmcp_client_nobody"), 401, "invalid_client"},
		{"confidential client without its secret", form("client_id", confidential), 401, "invalid_client"},
		{"another audience", form("resource", "https://other.example/mcp"), 400, "invalid_target"},
		{"unknown grant type", form("grant_type", "password"), 400, "unsupported_grant_type"},
		{"unknown code", form("code", "pmcp_ac_nope"), 400, "invalid_grant"},
		// The code is spent from here on: a failed check spends it too.
		{"wrong PKCE verifier", form("code_verifier", strings.Repeat("a", 43)), 400, "invalid_grant"},
		{"the right verifier after a wrong one", form(), 400, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.unchanged(func() {
				status, out := e.post(TokenPath, tt.form)
				if status != tt.status || out["error"] != tt.error || out["access_token"] != nil {
					t.Errorf("= %d %v, want %d %s", status, out, tt.status, tt.error)
				}
			})
		})
	}
}

func TestRedirectURIMismatch(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	_, challenge := plannrtest.PKCE()
	e.unchanged(func() {
		page := plannrtest.NewBrowser(t).Get(e.authorizeURL(id, "http://127.0.0.1:9/elsewhere", challenge))
		if page.Status != 400 || page.Header.Get("Location") != "" || !strings.Contains(page.Body, "did not register") {
			t.Errorf("= %d, Location %q, want 400 and no redirect", page.Status, page.Header.Get("Location"))
		}
	})
	code, verifier := e.signIn(id, sandbox.OwnerEmail)
	e.unchanged(func() {
		status, out := e.post(TokenPath, url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {"http://127.0.0.1:9/elsewhere"}})
		if status != 400 || out["error"] != "invalid_grant" {
			t.Errorf("token with another redirect_uri = %d %v", status, out)
		}
	})
}

func TestAuthorizationRequestsRefused(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	_, challenge := plannrtest.PKCE()
	tests := []struct {
		name  string
		url   string
		error string // returned to the client; empty: shown to the person, never redirected
	}{
		{"unregistered client", e.authorizeURL("pmcp_client_nobody", clientRedirect, challenge), ""},
		{"no redirect URI", e.authorizeURL(id, "", challenge), ""},
		{"no PKCE", e.authorizeURL(id, clientRedirect, "", "code_challenge", ""), "invalid_request"},
		{"plain PKCE", e.authorizeURL(id, clientRedirect, challenge, "code_challenge_method", "plain"), "invalid_request"},
		{"malformed challenge", e.authorizeURL(id, clientRedirect, "short"), "invalid_request"},
		{"token response type", e.authorizeURL(id, clientRedirect, challenge, "response_type", "token"), "unsupported_response_type"},
		{"another audience", e.authorizeURL(id, clientRedirect, challenge, "resource", "https://other.example/mcp"), "invalid_target"},
		{"metadata document on a private address", e.authorizeURL("https://10.0.0.8/client.json", clientRedirect, challenge), ""},
		{"metadata document on loopback", e.authorizeURL("https://127.0.0.1:8443/client.json", clientRedirect, challenge), ""},
		{"metadata document on IPv6 loopback", e.authorizeURL("https://[::1]/client.json", clientRedirect, challenge), ""},
		{"metadata document on localhost", e.authorizeURL("https://localhost/client.json", clientRedirect, challenge), ""},
		{"metadata document over http", e.authorizeURL("http://clients.example/client.json", clientRedirect, challenge), ""},
		{"metadata document without a path", e.authorizeURL("https://clients.example", clientRedirect, challenge), ""},
		{"metadata document with a fragment", e.authorizeURL("https://clients.example/c.json#x", clientRedirect, challenge), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.unchanged(func() {
				page := plannrtest.NewBrowser(t).Get(tt.url)
				if tt.error == "" {
					if page.Status != 400 || page.Header.Get("Location") != "" {
						t.Fatalf("= %d, Location %q; want 400 shown to the person", page.Status, page.Header.Get("Location"))
					}
					return
				}
				back := page.Location(t)
				if back.Host != "127.0.0.1:9" || back.Query().Get("error") != tt.error || back.Query().Get("state") != "client-state" {
					t.Fatalf("redirected to %s, want error=%s", back, tt.error)
				}
			})
		})
	}
}

// TestMetadataFetchRefusesPrivateAddresses dials a metadata URL whose host
// is loopback past the URL check, as a DNS name resolving there would.
func TestMetadataFetchRefusesPrivateAddresses(t *testing.T) {
	fetched := false
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { fetched = true }))
	t.Cleanup(srv.Close)
	_, err := newMetadataClient(false, nil).Get(srv.URL + "/client.json")
	if !errors.Is(err, errBlockedAddress) || fetched {
		t.Fatalf("fetching from loopback: %v (fetched %v), want errBlockedAddress", err, fetched)
	}
	for addr, public := range map[string]bool{"8.8.8.8": true, "2606:4700::1111": true, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "::ffff:127.0.0.1": false, "fc00::1": false, "fe80::1": false, "224.0.0.1": false} {
		if got := publicAddr(mustAddr(t, addr)); got != public {
			t.Errorf("publicAddr(%s) = %v, want %v", addr, got, public)
		}
	}
}

func TestMetadataDocumentsRefused(t *testing.T) {
	var docURL string
	var doc map[string]any
	docs := newDocServer(t, func() any { return doc })
	docURL = docs + "/client.json"
	e := newEnv(t, func(c *Config) { c.InsecureMetadataURLs = true })
	_, challenge := plannrtest.PKCE()
	tests := []struct {
		name string
		doc  map[string]any
	}{
		{"naming another client", map[string]any{"client_id": "https://evil.example/c.json", "redirect_uris": []string{clientRedirect}}},
		{"with a secret", map[string]any{"client_id": docURL, "redirect_uris": []string{clientRedirect}, "client_secret": "x"}},
		{"confidential", map[string]any{"client_id": docURL, "redirect_uris": []string{clientRedirect}, "token_endpoint_auth_method": "client_secret_basic"}},
		{"without redirect URIs", map[string]any{"client_id": docURL}},
		{"too large", map[string]any{"client_id": docURL, "redirect_uris": []string{clientRedirect}, "client_name": strings.Repeat("x", maxMetadataBytes)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc = tt.doc
			e.unchanged(func() {
				if page := plannrtest.NewBrowser(t).Get(e.authorizeURL(docURL, clientRedirect, challenge)); page.Status != 400 || page.Header.Get("Location") != "" {
					t.Errorf("= %d, want 400 shown to the person", page.Status)
				}
			})
		})
	}
}

func TestRegistrationsRefused(t *testing.T) {
	e := newEnv(t)
	for name, body := range map[string]string{
		"no redirect URIs":       `{"client_name":"x"}`,
		"javascript redirect":    `{"redirect_uris":["javascript:alert(1)"]}`,
		"http off loopback":      `{"redirect_uris":["http://evil.example/cb"]}`,
		"redirect with fragment": `{"redirect_uris":["https://app.example/cb#x"]}`,
		"implicit grant":         `{"redirect_uris":["https://app.example/cb"],"grant_types":["implicit"]}`,
		"not JSON":               `redirect_uris=x`,
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := http.Post(e.url+RegisterPath, "application/json", bytes.NewReader([]byte(body)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("= %d, want 400", resp.StatusCode)
			}
		})
	}
}

func TestReplayedCodeRevokesItsTokens(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	code, verifier := e.signIn(id, sandbox.OwnerEmail)
	access, _ := e.tokens(id, code, verifier)
	status, out := e.post(TokenPath, url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {clientRedirect}})
	if status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("replayed code = %d %v", status, out)
	}
	if status, _, _ := e.call(access); status != 401 {
		t.Errorf("the first exchange's access token after the replay = %d, want 401", status)
	}
}

func TestRefreshTokenReuseRevokesTheFamily(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	code, verifier := e.signIn(id, sandbox.OwnerEmail)
	_, first := e.tokens(id, code, verifier)
	refresh := func(rt string) (int, map[string]any) {
		return e.post(TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "refresh_token": {rt}})
	}
	status, out := refresh(first)
	if status != 200 {
		t.Fatalf("refresh = %d %v", status, out)
	}
	access, second := out["access_token"].(string), out["refresh_token"].(string)
	if status, out := refresh(first); status != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("reused refresh token = %d %v", status, out)
	}
	if status, out := refresh(second); status != 400 || out["error"] != "invalid_grant" {
		t.Errorf("the family's newest refresh token after reuse = %d %v, want invalid_grant", status, out)
	}
	if status, _, _ := e.call(access); status != 401 {
		t.Errorf("the family's newest access token after reuse = %d, want 401", status)
	}
}

func TestAccessTokensRefused(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AccessTTL = time.Minute })
	id, _ := e.register(true, clientRedirect)
	code, verifier := e.signIn(id, sandbox.OwnerEmail)
	access, refresh := e.tokens(id, code, verifier)
	// A token this server issued, for another resource: its family names
	// another audience (as a store shared with another deployment would).
	now := e.clock.Now()
	if err := e.store.PutFamily(context.Background(), store.Family{ID: "pmcp_fam_other", UserID: "u", ClientID: id, Resource: "https://other.example/mcp", Scope: Scope, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	other := newValue(prefixAccess)
	if err := e.store.PutToken(context.Background(), store.Token{Hash: hash(other), FamilyID: "pmcp_fam_other", Kind: store.AccessToken, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token, why string
		before           func()
	}{
		{"no token", "", "", nil},
		{"not ours", "some-other-token-1234567890", "not an access token of this server", nil},
		{"unknown", newValue(prefixAccess), "unknown", nil},
		{"a refresh token", refresh, "not an access token", nil},
		{"another audience", other, "issued for another resource", nil},
		{"expired", access, "expired", func() { e.clock.Advance(time.Minute + time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			status, _, h := e.call(tt.token)
			challenge := h.Get("WWW-Authenticate")
			if status != 401 || !strings.Contains(challenge, `resource_metadata="`+e.url+ResourceMetadataPath+`/mcp"`) {
				t.Fatalf("= %d %q", status, challenge)
			}
			if tt.token != "" && (!strings.Contains(challenge, `error="invalid_token"`) || !strings.Contains(challenge, tt.why)) {
				t.Errorf("challenge %q, want invalid_token and %q", challenge, tt.why)
			}
		})
	}
}

func TestConsentFormRefused(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	_, challenge := plannrtest.PKCE()
	b := plannrtest.NewBrowser(t)
	page := b.Get(e.authorizeURL(id, clientRedirect, challenge))
	action, fields := page.Form(t)
	tests := []struct {
		name    string
		browser *plannrtest.Browser
		edit    func(url.Values)
	}{
		{"without the CSRF token", b, func(v url.Values) { v.Del("csrf") }},
		{"with another CSRF token", b, func(v url.Values) { v.Set("csrf", "forged") }},
		{"from another browser", plannrtest.NewBrowser(t), func(url.Values) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := url.Values{}
			for k, v := range fields {
				f[k] = v
			}
			f.Set("action", "allow")
			tt.edit(f)
			e.unchanged(func() {
				if page := tt.browser.Post(action.String(), f); page.Status != 403 || page.Header.Get("Location") != "" {
					t.Errorf("= %d, Location %q; want 403 and no redirect", page.Status, page.Header.Get("Location"))
				}
			})
		})
	}
	// The genuine answer still works afterwards.
	fields.Set("action", "allow")
	if page := b.Post(action.String(), fields); page.Status != http.StatusSeeOther {
		t.Errorf("the genuine consent = %d", page.Status)
	}
}

func TestFramedConsentPageRefused(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	_, challenge := plannrtest.PKCE()
	b := plannrtest.NewBrowser(t)
	b.Header.Set("Sec-Fetch-Dest", "iframe")
	e.unchanged(func() {
		page := b.Get(e.authorizeURL(id, clientRedirect, challenge))
		if page.Status != 403 || strings.Contains(page.Body, "<form") || !strings.Contains(page.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("framed = %d, want 403 with frame-ancestors 'none' and no form", page.Status)
		}
	})
}

func TestDeniedConsent(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	_, challenge := plannrtest.PKCE()
	b := plannrtest.NewBrowser(t)
	action, fields := b.Get(e.authorizeURL(id, clientRedirect, challenge)).Form(t)
	fields.Set("action", "deny")
	e.unchanged(func() {
		back := b.Post(action.String(), fields).Location(t)
		if back.Query().Get("error") != "access_denied" || back.Query().Get("state") != "client-state" {
			t.Errorf("denied = %s", back)
		}
	})
}

// TestCallbackFromAnotherBrowser: a person is tricked into completing, in
// their own browser, a sign-in someone else started (login CSRF).
func TestCallbackFromAnotherBrowser(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	_, challenge := plannrtest.PKCE()
	attacker := plannrtest.NewBrowser(t)
	action, fields := attacker.Get(e.authorizeURL(id, clientRedirect, challenge)).Form(t)
	fields.Set("action", "allow")
	toPlannr := attacker.Post(action.String(), fields).Location(t)
	victim := plannrtest.NewBrowser(t)
	plannrAction, plannrFields := victim.Get(toPlannr.String()).Form(t)
	plannrFields.Set("email", sandbox.SecondUserEmail)
	plannrFields.Set("password", sandbox.DemoPassword)
	plannrFields.Set("action", "approve")
	callback := victim.Post(plannrAction.String(), plannrFields).Location(t)
	exchanges := e.fake.Count(http.MethodPost, "/oauth/token")
	if page := victim.Get(callback.String()); page.Status != 403 || page.Header.Get("Location") != "" {
		t.Fatalf("callback in another browser = %d", page.Status)
	}
	if n := e.fake.Count(http.MethodPost, "/oauth/token"); n != exchanges {
		t.Errorf("the code was exchanged at Plannr %d times", n-exchanges)
	}
	if users, _ := e.store.Users(context.Background()); len(users) != 0 {
		t.Errorf("someone was stored: %+v", users)
	}
	if page := victim.Get(e.url + CallbackPath + "?state=pmcp_req_unknown&code=x"); page.Status != 400 {
		t.Errorf("callback with an unknown state = %d", page.Status)
	}
}
