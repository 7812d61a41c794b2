package e2e

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

const (
	loginClientID = "plannr-mcp-e2e-client"
	loginSecret   = "e2e-client-secret-5a7e"
)

// loginWorld is a fake Plannr with an OAuth2 client, and the configuration
// of plannr-mcp processes that log in to it and share one login store.
type loginWorld struct {
	fake       *sandbox.Server
	url        string
	redirect   string
	configDir  string
	home       string
	secretFile string
}

func newLoginWorld(t *testing.T, opts ...sandbox.Option) *loginWorld {
	t.Helper()
	redirect := freeCallbackURL(t)
	opts = append([]sandbox.Option{
		sandbox.WithRateLimit(0),
		sandbox.WithOAuthClient(sandbox.OAuthClient{ID: loginClientID, Secret: loginSecret, RedirectURIs: []string{redirect}}),
	}, opts...)
	fake := sandbox.New(opts...)
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
		"PATH":                      os.Getenv("PATH"),
		"HOME":                      w.home,
		"XDG_CONFIG_HOME":           filepath.Join(w.home, ".config"),
		"PLANNR_BASE_URL":           w.url,
		"PLANNR_MCP_CONFIG_DIR":     w.configDir,
		"PLANNR_CLIENT_ID":          loginClientID,
		"PLANNR_CLIENT_SECRET_FILE": w.secretFile,
		"PLANNR_REDIRECT_URL":       w.redirect,
		"PLANNR_MCP_LOG_LEVEL":      "info",
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
		User:          &auth.User{Email: "adviser@harbourwealth.example", Accounts: []auth.Account{{UUID: sandbox.SampleAccounts()[0].UUID, Name: "Harbour Wealth", Type: "admin"}}},
	}
	store := w.store()
	if err := store.SaveLocked(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// freeCallbackURL returns a callback URL on a loopback port that was free a
// moment ago.
//
// The port is drawn below Linux's ephemeral range (32768 and up), where
// the kernel hands out no port to the other connections of a test run in
// the time between this check and the login listening on it.
func freeCallbackURL(t *testing.T) string {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		return "http://127.0.0.1:" + strconv.Itoa(port) + "/callback"
	}
	t.Fatal("found no free port for the login callback")
	return ""
}

// runCLI runs the binary once with this world's environment.
func (w *loginWorld) runCLI(t *testing.T, args []string, extra ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, w.environ(extra...), args...)
}

func assertNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%.12s...):\n%s", what, s, text)
		}
	}
}

// A Personal Access Token wins over the stored login, PLANNR_TOKEN over
// the token file; with neither and no login, none is in use.
func TestCredentialPrecedence(t *testing.T) {
	w := newLoginWorld(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("pat-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		seed  bool
		extra []string
		want  []string
	}{
		{"nothing configured", false, nil, []string{"Credential in use: none", "plannr-mcp login"}},
		{"stored login", true, nil, []string{"Credential in use: OAuth2 login stored in"}},
		{"token file beats the login", true, []string{"PLANNR_TOKEN_FILE=" + tokenFile},
			[]string{"Credential in use: Personal Access Token from " + tokenFile, "is not used while a Personal Access Token is set"}},
		{"PLANNR_TOKEN beats the login and the file", true, []string{"PLANNR_TOKEN_FILE=" + tokenFile, "PLANNR_TOKEN=pat-from-env"},
			[]string{"Credential in use: Personal Access Token from PLANNR_TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := w.store().Remove(); err != nil {
				t.Fatal(err)
			}
			if tt.seed {
				w.seed(t)
			}
			_, stdout, _ := w.runCLI(t, []string{"auth", "status", "--offline"}, tt.extra...)
			for _, want := range tt.want {
				if !strings.Contains(stdout, want) {
					t.Errorf("auth status lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
}

func TestAuthStatus(t *testing.T) {
	w := newLoginWorld(t)
	t.Run("nothing configured", func(t *testing.T) {
		code, stdout, _ := w.runCLI(t, []string{"auth", "status"})
		if code != 1 || !strings.Contains(stdout, "Credential in use: none") || !strings.Contains(stdout, "plannr-mcp login") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
	})
	rec := w.seed(t)
	t.Run("stored login", func(t *testing.T) {
		code, stdout, stderr := w.runCLI(t, []string{"auth", "status"})
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
		code, stdout, _ := w.runCLI(t, []string{"auth", "status", "--offline"})
		if code != 0 || !strings.Contains(stdout, "Not checked with Plannr") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
		if n := len(w.fake.Requests()) - before; n != 0 {
			t.Errorf("--offline sent %d requests", n)
		}
	})
	t.Run("Personal Access Token wins", func(t *testing.T) {
		code, stdout, _ := w.runCLI(t, []string{"auth", "status"}, "PLANNR_TOKEN="+sandbox.SandboxToken)
		if code != 0 || !strings.Contains(stdout, "Personal Access Token from PLANNR_TOKEN") ||
			!strings.Contains(stdout, "is not used while a Personal Access Token is set") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
		assertNoSecret(t, "auth status", stdout, sandbox.SandboxToken)
	})
	t.Run("rejected token", func(t *testing.T) {
		code, stdout, _ := w.runCLI(t, []string{"auth", "status"}, "PLANNR_TOKEN=wrong-token-value")
		if code != 1 || !strings.Contains(stdout, "Plannr accepts the credential: no") || !strings.Contains(stdout, "401") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
		assertNoSecret(t, "auth status", stdout, "wrong-token-value")
	})
	t.Run("revoked login", func(t *testing.T) {
		w.fake.RevokeOAuthTokens()
		code, stdout, _ := w.runCLI(t, []string{"auth", "status"})
		if code != 1 || !strings.Contains(stdout, "run `plannr-mcp login`") {
			t.Fatalf("exit %d, stdout:\n%s", code, stdout)
		}
	})
	t.Run("usage", func(t *testing.T) {
		if code, _, stderr := w.runCLI(t, []string{"auth"}); code != 2 || !strings.Contains(stderr, "plannr-mcp auth status") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

func TestLogout(t *testing.T) {
	w := newLoginWorld(t)
	w.seed(t)
	code, stdout, _ := w.runCLI(t, []string{"logout"})
	if code != 0 || !strings.Contains(stdout, "Logged out") {
		t.Fatalf("exit %d, stdout:\n%s", code, stdout)
	}
	if w.store().Exists() {
		t.Fatal("the login file is still there")
	}
	code, stdout, _ = w.runCLI(t, []string{"logout"})
	if code != 0 || !strings.Contains(stdout, "Not logged in") {
		t.Fatalf("second logout: exit %d, stdout:\n%s", code, stdout)
	}
	// A tool call now explains how to log in.
	code, stdout, _ = w.runCLI(t, []string{"call", "list_oauth_connections"})
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
		{"no client id", []string{"login"}, []string{"PLANNR_CLIENT_ID="}, 1, "set PLANNR_CLIENT_ID"},
		{"no secret", []string{"login"}, []string{"PLANNR_CLIENT_SECRET_FILE="}, 1, "no OAuth2 client secret"},
		{"empty secret file", []string{"login", "--client-secret-file", os.DevNull}, nil, 1, "client secret file"},
		{"remote redirect", []string{"login", "--redirect-url", "https://example.com/cb"}, nil, 1, "must start with http://"},
		{"sandbox", []string{"login"}, []string{"PLANNR_MCP_SANDBOX=true"}, 2, "the built-in sandbox needs no login"},
		{"a flag of another command", []string{"login", "--rate-limit", "5"}, nil, 2, "flag provided but not defined: -rate-limit"},
		{"bad timeout", []string{"login", "--login-timeout", "0s"}, nil, 2, "--login-timeout"},
		{"stray argument", []string{"login", "now"}, nil, 2, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := w.runCLI(t, tt.args, tt.extra...)
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
	code, stdout, stderr := w.runCLI(t, []string{"login", "--no-browser", "--login-timeout", "300ms"},
		"PLANNR_CLIENT_SECRET_FILE=", "PLANNR_CLIENT_SECRET="+loginSecret)
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
