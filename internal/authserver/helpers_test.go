package authserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// env is the authorization server on real HTTP in front of the sandbox's
// Plannr (with its sign-in page and two demo users), on a SQLite store,
// with a virtual clock; /mcp answers who a valid token acts for.
type env struct {
	t      testing.TB
	srv    *Server
	url    string
	fake   *sandbox.Server
	store  store.Store
	clock  *plannrtest.Clock
	logs   *plannrtest.SyncBuffer
	issued []string // every token, code and secret seen, for the log check
}

const clientRedirect = "http://127.0.0.1:9/callback"

func newEnv(t testing.TB, edit ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, clock: plannrtest.NewClock(time.Now()), logs: &plannrtest.SyncBuffer{}}
	var handler http.Handler = http.NotFoundHandler()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(front.Close)
	e.url = front.URL
	e.fake = sandbox.New(append(sandbox.DemoOptions(e.url+CallbackPath), sandbox.WithClock(e.clock.Now))...)
	plannrSrv := httptest.NewServer(e.fake)
	t.Cleanup(plannrSrv.Close)
	keys, err := store.NewKeyring("authserver-test-store-key-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	secrets := untrusted.NewSecrets()
	cfg := Config{
		PublicURL: e.url, Store: st, Keys: keys,
		Plannr:       &auth.Client{BaseURL: plannrSrv.URL, ID: sandbox.DemoClientID, Secret: sandbox.DemoClientSecret, RedirectURL: e.url + CallbackPath, Now: e.clock.Now, Secrets: secrets},
		Capabilities: []string{"list your OAuth connections"},
		Secrets:      secrets, Logger: e.logs.Logger(), Now: e.clock.Now,
	}
	for _, f := range edit {
		f(&cfg)
	}
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for p, h := range e.srv.Handlers() {
		mux.Handle(p, h)
	}
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ctx, _, err := e.srv.Verify(r.Context(), tok)
		if err != nil {
			w.Header().Set("WWW-Authenticate", e.srv.Challenge(err))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		p, _ := PrincipalFrom(ctx)
		_, _ = io.WriteString(w, p.Email)
	})
	handler = mux
	t.Cleanup(func() {
		logs := e.logs.String()
		for _, s := range e.issued {
			if s != "" && strings.Contains(logs, s) {
				t.Errorf("a log line holds a token, code or secret:\n%s", logs)
			}
		}
	})
	return e
}

// note records values that must never be logged.
func (e *env) note(values ...string) { e.issued = append(e.issued, values...) }

// register registers a client by DCR; public ones get no secret.
func (e *env) register(public bool, redirects ...string) (id, secret string) {
	e.t.Helper()
	method := "client_secret_post"
	if public {
		method = "none"
	}
	body, _ := json.Marshal(map[string]any{"client_name": "Test client", "redirect_uris": redirects, "token_endpoint_auth_method": method})
	resp, err := http.Post(e.url+RegisterPath, "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("register: %d %v", resp.StatusCode, out)
	}
	id, _ = out["client_id"].(string)
	secret, _ = out["client_secret"].(string)
	e.note(secret)
	return id, secret
}

// authorizeURL is an authorization request of a client.
func (e *env) authorizeURL(clientID, redirect, challenge string, extra ...string) string {
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"client-state"}, "resource": {e.url + "/mcp"}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return e.url + AuthorizePath + "?" + q.Encode()
}

// codeFrom reads the code of the final redirect, checking state and iss.
func (e *env) codeFrom(back *url.URL) string {
	e.t.Helper()
	q := back.Query()
	if q.Get("error") != "" || q.Get("code") == "" || q.Get("state") != "client-state" || q.Get("iss") != e.url {
		e.t.Fatalf("the authorization ended with %s", back.Redacted())
	}
	e.note(q.Get("code"))
	return q.Get("code")
}

// signIn runs a whole authorization for a new browser and returns the code.
func (e *env) signIn(clientID, email string) (code, verifier string) {
	e.t.Helper()
	verifier, challenge := plannrtest.PKCE()
	e.note(verifier)
	back := plannrtest.NewBrowser(e.t).SignIn(e.authorizeURL(clientID, clientRedirect, challenge), email, sandbox.DemoPassword)
	return e.codeFrom(back), verifier
}

// post sends a form to an endpoint and returns the status and JSON answer.
func (e *env) post(path string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	resp, err := http.PostForm(e.url+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	for _, k := range []string{"access_token", "refresh_token"} {
		if v, ok := out[k].(string); ok {
			e.note(v)
		}
	}
	return resp.StatusCode, out
}

// tokens exchanges a code and fails the test unless it works.
func (e *env) tokens(clientID, code, verifier string) (access, refresh string) {
	e.t.Helper()
	status, out := e.post(TokenPath, url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {clientRedirect}, "resource": {e.url + "/mcp"}})
	if status != http.StatusOK {
		e.t.Fatalf("token: %d %v", status, out)
	}
	return out["access_token"].(string), out["refresh_token"].(string)
}

// call calls /mcp with a token and returns the status and the body.
func (e *env) call(token string) (int, string, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// upstream counts the requests Plannr has received.
func (e *env) upstream() int { return len(e.fake.Requests()) }
