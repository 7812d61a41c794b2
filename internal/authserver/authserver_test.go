package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

func TestMetadata(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{ResourceMetadataPath, ResourceMetadataPath + "/mcp"} {
		var prm map[string]any
		getJSON(t, e.url+path, &prm)
		if prm["resource"] != e.url+"/mcp" || prm["authorization_servers"].([]any)[0] != e.url {
			t.Errorf("%s = %v", path, prm)
		}
	}
	var as map[string]any
	getJSON(t, e.url+ServerMetadataPath, &as)
	for k, want := range map[string]any{
		"issuer": e.url, "token_endpoint": e.url + TokenPath, "registration_endpoint": e.url + RegisterPath,
		"revocation_endpoint": e.url + RevokePath, "client_id_metadata_document_supported": true,
	} {
		if as[k] != want {
			t.Errorf("%s = %v, want %v", k, as[k], want)
		}
	}
	if m := as["code_challenge_methods_supported"].([]any); len(m) != 1 || m[0] != "S256" {
		t.Errorf("code_challenge_methods_supported = %v, want only S256", m)
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestSignInAsEachPerson(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	for _, email := range []string{sandbox.OwnerEmail, sandbox.SecondUserEmail} {
		code, verifier := e.signIn(id, email)
		access, refresh := e.tokens(id, code, verifier)
		if status, who, _ := e.call(access); status != 200 || who != email {
			t.Errorf("%s: /mcp = %d %q", email, status, who)
		}
		// Refreshing rotates the pair; the new access token works.
		status, out := e.post(TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "refresh_token": {refresh}})
		if status != 200 || out["refresh_token"] == refresh {
			t.Fatalf("refresh: %d %v", status, out)
		}
		if status, who, _ := e.call(out["access_token"].(string)); status != 200 || who != email {
			t.Errorf("%s after refresh: /mcp = %d %q", email, status, who)
		}
	}
	users, err := e.store.Users(context.Background())
	if err != nil || len(users) != 2 || !users[0].HasPlannrTokens || !users[1].HasPlannrTokens {
		t.Fatalf("users = %+v, %v", users, err)
	}
}

func TestConsentIsRemembered(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	b := plannrtest.NewBrowser(t)
	_, challenge := plannrtest.PKCE()
	e.codeFrom(b.SignIn(e.authorizeURL(id, clientRedirect, challenge), sandbox.OwnerEmail, sandbox.DemoPassword))
	// The same browser, the same client: straight to Plannr.
	page := b.Get(e.authorizeURL(id, clientRedirect, challenge))
	if page.Status != http.StatusSeeOther || !strings.Contains(page.Location(t).Path, "/oauth/authorize") {
		t.Fatalf("second authorization = %d, want a redirect to Plannr without the consent page", page.Status)
	}
	// Another client: asked again.
	other, _ := e.register(true, clientRedirect)
	if page := b.Get(e.authorizeURL(other, clientRedirect, challenge)); page.Status != http.StatusOK || !strings.Contains(page.Body, `id="allow"`) {
		t.Fatalf("another client = %d, want the consent page", page.Status)
	}
}

func TestConsentPage(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	_, challenge := plannrtest.PKCE()
	page := plannrtest.NewBrowser(t).Get(e.authorizeURL(id, clientRedirect, challenge))
	for _, want := range []string{"Test client", "127.0.0.1:9", "list your OAuth connections", "Deny"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the consent page lacks %q", want)
		}
	}
	csp := page.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || page.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("the consent page can be framed: CSP %q, X-Frame-Options %q", csp, page.Header.Get("X-Frame-Options"))
	}
	var cookie string
	for _, c := range page.Header.Values("Set-Cookie") {
		cookie += c
	}
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") {
		t.Errorf("cookie = %q", cookie)
	}
}

// TestHostPrefixedCookies checks that an https public URL gets __Host-
// cookies, Secure, with Path=/ and no Domain.
func TestHostPrefixedCookies(t *testing.T) {
	s := &Server{secure: true}
	w := httptestRecorder()
	s.setCookie(w, "browser", "v", time.Minute)
	c := w.Header().Get("Set-Cookie")
	if !strings.HasPrefix(c, "__Host-plannr-mcp-browser=v") || !strings.Contains(c, "Secure") || !strings.Contains(c, "Path=/") || strings.Contains(c, "Domain") {
		t.Errorf("cookie = %q", c)
	}
}

func TestRevokeEndsTheGrant(t *testing.T) {
	e := newEnv(t)
	id, secret := e.register(false, clientRedirect)
	code, verifier := e.signIn(id, sandbox.OwnerEmail)
	status, out := e.post(TokenPath, url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "client_secret": {secret}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {clientRedirect}})
	if status != 200 {
		t.Fatalf("token: %d %v", status, out)
	}
	access, refresh := out["access_token"].(string), out["refresh_token"].(string)
	if status, _ := e.post(RevokePath, url.Values{"client_id": {id}, "client_secret": {"wrong"}, "token": {refresh}}); status != http.StatusUnauthorized {
		t.Errorf("revoke with a wrong secret = %d, want 401", status)
	}
	if status, _ := e.post(RevokePath, url.Values{"client_id": {id}, "client_secret": {secret}, "token": {refresh}}); status != 200 {
		t.Fatalf("revoke = %d", status)
	}
	if status, _, _ := e.call(access); status != http.StatusUnauthorized {
		t.Errorf("the access token of a revoked grant = %d, want 401", status)
	}
	if status, _ := e.post(RevokePath, url.Values{"client_id": {id}, "client_secret": {secret}, "token": {"pmcp_rt_unknown"}}); status != 200 {
		t.Errorf("revoking an unknown token = %d, want 200 (RFC 7009)", status)
	}
}

func TestForgottenPersonIsRefused(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	code, verifier := e.signIn(id, sandbox.OwnerEmail)
	access, refresh := e.tokens(id, code, verifier)
	u, _ := e.store.User(context.Background(), sandbox.OwnerEmail)
	if err := e.store.Forget(context.Background(), u.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if status, _, h := e.call(access); status != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("after revoke: %d %q", status, h.Get("WWW-Authenticate"))
	}
	if status, out := e.post(TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "refresh_token": {refresh}}); status != 400 || out["error"] != "invalid_grant" {
		t.Errorf("refresh after revoke: %d %v", status, out)
	}
}

func TestClientIDMetadataDocument(t *testing.T) {
	var docURL string
	doc := map[string]any{"client_name": "Metadata client", "redirect_uris": []string{clientRedirect}, "token_endpoint_auth_method": "none"}
	docs := newDocServer(t, func() any {
		d := map[string]any{"client_id": docURL}
		for k, v := range doc {
			d[k] = v
		}
		return d
	})
	docURL = docs + "/client.json"
	e := newEnv(t, func(c *Config) { c.InsecureMetadataURLs = true })
	code, verifier := e.signIn(docURL, sandbox.SecondUserEmail)
	access, _ := e.tokens(docURL, code, verifier)
	if status, who, _ := e.call(access); status != 200 || who != sandbox.SecondUserEmail {
		t.Errorf("/mcp = %d %q", status, who)
	}
}

func httptestRecorder() *recorder { return &recorder{h: http.Header{}} }

type recorder struct{ h http.Header }

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(int)             {}

func TestAccountChoice(t *testing.T) {
	e := newEnv(t)
	id, _ := e.register(true, clientRedirect)
	accounts := sandbox.SampleAccounts()
	verifier, challenge := plannrtest.PKCE()
	b := plannrtest.NewBrowser(t)
	back := b.SignIn(e.authorizeURL(id, clientRedirect, challenge), sandbox.OwnerEmail, sandbox.DemoPassword, accounts[1].UUID)
	access, _ := e.tokens(id, e.codeFrom(back), verifier)
	ctx, _, err := e.srv.Verify(context.Background(), access)
	if p, _ := PrincipalFrom(ctx); err != nil || p.AccountUUID != accounts[1].UUID {
		t.Fatalf("principal = %+v, %v; want the chosen account %s", p, err, accounts[1].UUID)
	}

	// An account the person cannot act for is refused, and so is an
	// answer without the page's CSRF token.
	other := plannrtest.NewBrowser(t)
	_, challenge = plannrtest.PKCE()
	page := other.Get(e.authorizeURL(id, clientRedirect, challenge))
	action, fields := page.Form(t)
	fields.Set("action", "allow")
	plannrPage := other.Get(other.Post(action.String(), fields).Location(t).String())
	action, fields = plannrPage.Form(t)
	fields.Set("email", sandbox.OwnerEmail)
	fields.Set("password", sandbox.DemoPassword)
	fields.Set("action", "approve")
	accountPage := other.Get(other.Post(action.String(), fields).Location(t).String())
	if accountPage.Status != 200 || !strings.Contains(accountPage.Body, accounts[0].Name) || !strings.Contains(accountPage.Body, "preferred") {
		t.Fatalf("account page = %d:\n%s", accountPage.Status, accountPage.Body)
	}
	action, fields = accountPage.Form(t)
	forged := url.Values{}
	for k, v := range fields {
		forged[k] = v
	}
	forged.Set("account", "4a3b2c1d-0e9f-4a8b-9c7d-6e5f4a3b2c1d") // the second user's
	if page := other.Post(action.String(), forged); page.Status != 400 {
		t.Errorf("another person's account = %d, want 400", page.Status)
	}
	forged.Set("account", accounts[0].UUID)
	forged.Del("csrf")
	if page := other.Post(action.String(), forged); page.Status != 403 {
		t.Errorf("without the CSRF token = %d, want 403", page.Status)
	}
	if page := other.Post(action.String(), fields); page.Status != http.StatusFound {
		t.Errorf("the genuine choice = %d", page.Status)
	}
}
