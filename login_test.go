package main

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

const (
	loginClientID = "plannr-mcp-e2e-client"
	loginSecret   = "e2e-client-secret-5a7e"
)

// loginWorld is a fake Plannr with an OAuth2 client, and the configuration
// of plannr-mcp processes that log in to it and share one login store.
type loginWorld struct {
	fake       *plannrtest.Server
	url        string
	redirect   string
	configDir  string
	home       string
	secretFile string
}

func newLoginWorld(t *testing.T, opts ...plannrtest.Option) *loginWorld {
	t.Helper()
	redirect := freeCallbackURL(t)
	opts = append([]plannrtest.Option{
		plannrtest.WithRateLimit(0),
		plannrtest.WithOAuthClient(plannrtest.OAuthClient{ID: loginClientID, Secret: loginSecret, RedirectURIs: []string{redirect}}),
	}, opts...)
	fake := plannrtest.New(opts...)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte(loginSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &loginWorld{
		fake:       fake,
		url:        srv.URL,
		redirect:   redirect,
		configDir:  filepath.Join(t.TempDir(), "plannr-mcp"),
		home:       t.TempDir(),
		secretFile: secretFile,
	}
}

// vars is the environment of a plannr-mcp process in this world: nothing
// from the developer's own configuration leaks in.
func (w *loginWorld) vars(extra ...string) map[string]string {
	m := map[string]string{
		"PATH":                 os.Getenv("PATH"),
		"HOME":                 w.home,
		"XDG_CONFIG_HOME":      filepath.Join(w.home, ".config"),
		envBaseURL:             w.url,
		envConfigDir:           w.configDir,
		envClientID:            loginClientID,
		envClientSecretFile:    w.secretFile,
		envRedirectURL:         w.redirect,
		"PLANNR_MCP_LOG_LEVEL": "info",
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func (w *loginWorld) environ(extra ...string) []string {
	var out []string
	for k, v := range w.vars(extra...) {
		out = append(out, k+"="+v)
	}
	return out
}

func (w *loginWorld) getenv(extra ...string) func(string) string {
	m := w.vars(extra...)
	return func(k string) string { return m[k] }
}

func (w *loginWorld) store() *auth.Store { return auth.NewStore(w.configDir, nil) }

// seed stores a login issued by the fake, as if the person had logged in
// just now.
func (w *loginWorld) seed(t *testing.T) *auth.Record {
	t.Helper()
	access, refresh, expiresIn, err := w.fake.IssueOAuthTokens(loginClientID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := &auth.Record{
		Version:       1,
		BaseURL:       w.url,
		ClientID:      loginClientID,
		ClientSecret:  loginSecret,
		AccessToken:   access,
		TokenType:     "Bearer",
		RefreshToken:  refresh,
		Expiry:        now.Add(expiresIn),
		IssuedAt:      now,
		RefreshExpiry: now.Add(auth.RefreshTokenLifetime),
		LoggedInAt:    now,
		User:          &auth.User{Email: "adviser@harbourwealth.example", Accounts: []auth.Account{{UUID: plannrtest.SampleAccounts()[0].UUID, Name: "Harbour Wealth", Type: "admin"}}},
	}
	store := w.store()
	unlock, err := store.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := store.Save(rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// freeCallbackURL returns a callback URL on a loopback port that was free a
// moment ago.
func freeCallbackURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return "http://127.0.0.1:" + strconv.Itoa(port) + "/callback"
}

// runInProcess runs plannr-mcp's run with this world's environment.
func (w *loginWorld) runInProcess(t *testing.T, args []string, extra ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, strings.NewReader(""), &stdout, &stderr, w.getenv(extra...))
	return code, stdout.String(), stderr.String()
}

func assertNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%.12s...):\n%s", what, s, text)
		}
	}
}

func TestCredentialPrecedence(t *testing.T) {
	w := newLoginWorld(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("pat-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		seed      bool
		extra     []string
		tokenFile string
		kind      string
		help      string
	}{
		{"nothing configured", false, nil, "", credNone, credentialHelp},
		{"stored login", true, nil, "", credLogin, loginHelp},
		{"token file beats the login", true, nil, tokenFile, credPAT, patHelp},
		{"PLANNR_TOKEN beats the login and the file", true, []string{envToken + "=pat-from-env"}, tokenFile, credPAT, patHelp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := w.store().Remove(); err != nil {
				t.Fatal(err)
			}
			if tt.seed {
				w.seed(t)
			}
			cfg := &config{baseURL: w.url, configDir: w.configDir, tokenFile: tt.tokenFile, timeout: time.Second}
			var logs syncBuffer
			cred, err := selectCredential(cfg, w.getenv(tt.extra...), slog.New(slog.NewTextHandler(&logs, nil)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if cred.kind != tt.kind || cred.help != tt.help {
				t.Errorf("kind %q help %.30q..., want %q", cred.kind, cred.help, tt.kind)
			}
			tok, err := cred.source.Token()
			switch tt.kind {
			case credPAT:
				want := "pat-from-file"
				if len(tt.extra) > 0 {
					want = "pat-from-env"
				}
				if err != nil || tok.AccessToken != want {
					t.Errorf("token %v, %v; want %s", tok, err, want)
				}
				if !strings.Contains(logs.String(), "Personal Access Token takes precedence") {
					t.Errorf("no note that the stored login is not used:\n%s", logs.String())
				}
			case credLogin:
				if err != nil || !strings.HasPrefix(tok.AccessToken, "fake-access-") {
					t.Errorf("token %v, %v; want the stored login's", tok, err)
				}
			case credNone:
				if err == nil || !strings.Contains(err.Error(), "plannr-mcp login") {
					t.Errorf("err = %v, want advice to log in", err)
				}
				if !strings.Contains(logs.String(), "no Plannr credential configured") {
					t.Errorf("no warning:\n%s", logs.String())
				}
			}
		})
	}
}

func TestAuthStatus(t *testing.T) {
	w := newLoginWorld(t)
	t.Run("nothing configured", func(t *testing.T) {
		code, stdout, _ := w.runInProcess(t, []string{"auth", "status"})
		if code != 1 || !strings.Contains(stdout, "Credential in use: none") || !strings.Contains(stdout, "plannr-mcp login") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
	})
	rec := w.seed(t)
	t.Run("stored login", func(t *testing.T) {
		code, stdout, stderr := w.runInProcess(t, []string{"auth", "status"})
		if code != 0 {
			t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		for _, want := range []string{"Credential in use: OAuth2 login stored in " + w.configDir, "adviser@harbourwealth.example",
			"Harbour Wealth (admin)", "Access token: expires", "Refresh token: expires about", "Plannr accepts the credential: yes"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
		assertNoSecret(t, "auth status", stdout+stderr, rec.AccessToken, rec.RefreshToken, loginSecret)
	})
	t.Run("offline", func(t *testing.T) {
		before := len(w.fake.Requests())
		code, stdout, _ := w.runInProcess(t, []string{"auth", "status", "--offline"})
		if code != 0 || !strings.Contains(stdout, "Not checked with Plannr") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
		if n := len(w.fake.Requests()) - before; n != 0 {
			t.Errorf("--offline sent %d requests", n)
		}
	})
	t.Run("Personal Access Token wins", func(t *testing.T) {
		code, stdout, _ := w.runInProcess(t, []string{"auth", "status"}, envToken+"="+plannrtest.SandboxToken)
		if code != 0 || !strings.Contains(stdout, "Personal Access Token from PLANNR_TOKEN") ||
			!strings.Contains(stdout, "is not used while a Personal Access Token is set") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
		assertNoSecret(t, "auth status", stdout, plannrtest.SandboxToken)
	})
	t.Run("rejected token", func(t *testing.T) {
		code, stdout, _ := w.runInProcess(t, []string{"auth", "status"}, envToken+"=wrong-token-value")
		if code != 1 || !strings.Contains(stdout, "Plannr accepts the credential: no") || !strings.Contains(stdout, "401") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
		assertNoSecret(t, "auth status", stdout, "wrong-token-value")
	})
	t.Run("revoked login", func(t *testing.T) {
		w.fake.RevokeOAuthTokens()
		code, stdout, _ := w.runInProcess(t, []string{"auth", "status"})
		if code != 1 || !strings.Contains(stdout, "run `plannr-mcp login`") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
	})
	t.Run("usage", func(t *testing.T) {
		if code, _, stderr := w.runInProcess(t, []string{"auth"}); code != 2 || !strings.Contains(stderr, "plannr-mcp auth status") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

func TestLogout(t *testing.T) {
	w := newLoginWorld(t)
	w.seed(t)
	code, stdout, _ := w.runInProcess(t, []string{"logout"})
	if code != 0 || !strings.Contains(stdout, "Logged out") {
		t.Fatalf("exit %d, stdout:\n%s", code, stdout)
	}
	if w.store().Exists() {
		t.Fatal("the login file is still there")
	}
	code, stdout, _ = w.runInProcess(t, []string{"logout"})
	if code != 0 || !strings.Contains(stdout, "Not logged in") {
		t.Fatalf("second logout: exit %d, stdout:\n%s", code, stdout)
	}
	// A tool call now explains how to log in.
	code, stdout, _ = w.runInProcess(t, []string{"call", "list_oauth_connections"})
	if code != 1 || !strings.Contains(stdout, "plannr-mcp login") {
		t.Fatalf("call after logout: exit %d, stdout:\n%s", code, stdout)
	}
}

func TestLoginCommandInputErrors(t *testing.T) {
	w := newLoginWorld(t)
	tests := []struct {
		name  string
		args  []string
		extra []string
		code  int
		want  string
	}{
		{"secret as a flag", []string{"login", "--client-secret=abc"}, nil, 2, "--client-secret is not accepted"},
		{"secret as a flag, spaced", []string{"login", "-client-secret", "abc"}, nil, 2, "--client-secret is not accepted"},
		{"no client id", []string{"login"}, []string{envClientID + "="}, 1, "set PLANNR_CLIENT_ID"},
		{"no secret", []string{"login"}, []string{envClientSecretFile + "="}, 1, "no OAuth2 client secret"},
		{"empty secret file", []string{"login", "--client-secret-file", os.DevNull}, nil, 1, "client secret file"},
		{"remote redirect", []string{"login", "--redirect-url", "https://example.com/cb"}, nil, 1, "must start with http://"},
		{"sandbox", []string{"login", "--sandbox"}, nil, 2, "the built-in sandbox needs no login"},
		{"bad timeout", []string{"login", "--login-timeout", "0s"}, nil, 2, "--login-timeout"},
		{"stray argument", []string{"login", "now"}, nil, 2, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := w.runInProcess(t, tt.args, tt.extra...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.want)
			}
			assertNoSecret(t, "output", stdout+stderr, loginSecret, "abc")
			if w.store().Exists() {
				t.Error("a failed login stored something")
			}
		})
	}
}

func TestLoginCommandSecretFromEnvironment(t *testing.T) {
	w := newLoginWorld(t)
	// With no file, PLANNR_CLIENT_SECRET is used; the login then times out
	// because nobody opens the URL.
	code, stdout, stderr := w.runInProcess(t, []string{"login", "--no-browser", "--login-timeout", "300ms"},
		envClientSecretFile+"=", envClientSecret+"="+loginSecret)
	if code != 1 || !strings.Contains(stderr, "timed out") || !strings.Contains(stderr, "plannr-mcp login again") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "Open this URL in a browser") || !strings.Contains(stdout, w.url+"/oauth/authorize?") {
		t.Errorf("the URL was not printed:\n%s", stdout)
	}
	assertNoSecret(t, "output", stdout+stderr, loginSecret)
	if w.store().Exists() {
		t.Error("a timed-out login stored something")
	}
}
