package auth

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// browserVisit is what a simulated browser saw.
type browserVisit struct {
	status int
	page   string
	err    error
}

// browser plays the person's browser: it is given the authorization URL,
// may change it, and follows Plannr's redirect to the login's callback.
type browser struct {
	rewrite func(authURL string) string
	visits  chan browserVisit
	seen    chan string
}

func newBrowser(rewrite func(string) string) *browser {
	return &browser{rewrite: rewrite, visits: make(chan browserVisit, 1), seen: make(chan string, 1)}
}

func (b *browser) open(_ context.Context, authURL string) error {
	b.seen <- authURL
	target := authURL
	if b.rewrite != nil {
		target = b.rewrite(authURL)
	}
	go func() {
		resp, err := http.Get(target) // follows the redirect to the callback
		if err != nil {
			b.visits <- browserVisit{err: err}
			return
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		b.visits <- browserVisit{status: resp.StatusCode, page: string(page)}
	}()
	return nil
}

func (b *browser) visit(t *testing.T) browserVisit {
	t.Helper()
	select {
	case v := <-b.visits:
		if v.err != nil {
			t.Fatalf("browser: %v", v.err)
		}
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("the browser never got a page")
		return browserVisit{}
	}
}

func loginOptions(e *env, redirect string, b *browser, out io.Writer) LoginOptions {
	opts := LoginOptions{
		BaseURL:      e.url,
		ClientID:     testClientID,
		ClientSecret: testSecret,
		RedirectURL:  redirect,
		Timeout:      30 * time.Second,
		Out:          out,
		Now:          e.clock.Now,
		Logger:       e.logs.Logger(),
	}
	if b != nil {
		opts.OpenBrowser = b.open
	}
	return opts
}

func TestLoginEndToEnd(t *testing.T) {
	redirect := freeLoopbackURL(t)
	e := newEnvWithRedirect(t, redirect)
	out := &plannrtest.SyncBuffer{}
	b := newBrowser(nil)
	// A stray request to the callback server, such as a favicon, does
	// not end the login.
	go func() {
		u, _ := url.Parse(redirect)
		for range 50 {
			resp, err := http.Get("http://" + u.Host + "/favicon.ico")
			if err == nil {
				resp.Body.Close()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	rec, err := Login(context.Background(), e.store, loginOptions(e, redirect, b, out))
	if err != nil {
		t.Fatalf("Login: %v\noutput:\n%s", err, out)
	}
	visit := b.visit(t)
	if visit.status != http.StatusOK || !strings.Contains(visit.page, "You are logged in to Plannr as adviser@harbourwealth.example") {
		t.Errorf("browser page %d:\n%s", visit.status, visit.page)
	}

	authURL, err := url.Parse(<-b.seen)
	if err != nil {
		t.Fatal(err)
	}
	q := authURL.Query()
	if authURL.Path != "/oauth/authorize" || q.Get("code_challenge_method") != "S256" || q.Get("scope") != "*" ||
		q.Get("client_id") != testClientID || q.Get("redirect_uri") != redirect || q.Get("state") == "" || q.Get("response_type") != "code" {
		t.Errorf("authorization URL %s lacks a required parameter", authURL)
	}
	if q.Get("client_secret") != "" {
		t.Error("the authorization URL carries the client secret")
	}
	if !strings.Contains(out.String(), authURL.String()) {
		t.Errorf("the URL was not printed:\n%s", out)
	}

	stored := e.stored(t)
	if stored.AccessToken != rec.AccessToken || stored.RefreshToken == "" || stored.ClientSecret != testSecret || stored.BaseURL != e.url {
		t.Error("the stored login differs from the one returned")
	}
	if stored.Expiry.IsZero() || !stored.Expiry.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("stored expiry %v, want an hour from now", stored.Expiry)
	}
	if stored.User == nil || stored.User.Email != "adviser@harbourwealth.example" || len(stored.User.Accounts) != 2 || stored.User.PreferredAccountUUID == "" {
		t.Errorf("stored user %+v", stored.User)
	}
	if info, err := os.Stat(e.store.Path()); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("login file mode %v, %v; want 0600", info.Mode().Perm(), err)
	}
	if stats := e.fake.OAuthStats(); stats.Authorizations != 1 || stats.CodeExchanges != 1 {
		t.Errorf("stats %+v", stats)
	}
	assertNoSecrets(t, "the output", out.String()+e.logs.String(), testSecret, stored.AccessToken, stored.RefreshToken)
	assertNoSecrets(t, "the browser page", visit.page, testSecret, stored.AccessToken, stored.RefreshToken)

	// The stored login works.
	if _, err := e.client(t, e.source(e.store)).ListOAuthConnections(context.Background()); err != nil {
		t.Fatalf("a call with the new login: %v", err)
	}
}

func TestLoginFailures(t *testing.T) {
	tests := []struct {
		name     string
		rewrite  func(authURL string, redirect string) string
		secret   string
		is       error
		contains []string
		page     int
	}{
		{
			name: "wrong state",
			rewrite: func(authURL, _ string) string {
				u, _ := url.Parse(authURL)
				q := u.Query()
				q.Set("state", "forged-state")
				u.RawQuery = q.Encode()
				return u.String()
			},
			is:       ErrStateMismatch,
			contains: []string{"nothing was stored", "plannr-mcp login"},
			page:     http.StatusBadRequest,
		},
		{
			name: "callback without state",
			rewrite: func(_, redirect string) string {
				return redirect + "?code=stolen-code"
			},
			is:       ErrStateMismatch,
			contains: []string{"nothing was stored"},
			page:     http.StatusBadRequest,
		},
		{
			name: "person declined",
			rewrite: func(authURL, redirect string) string {
				u, _ := url.Parse(authURL)
				return redirect + "?" + url.Values{
					"error":             {"access_denied"},
					"error_description": {"The resource owner or authorization server denied the request."},
					"state":             {u.Query().Get("state")},
				}.Encode()
			},
			contains: []string{"did not authorize", "access_denied", "nothing was stored"},
			page:     http.StatusBadRequest,
		},
		{
			name:     "wrong client secret",
			secret:   "not-the-secret",
			contains: []string{"refused the client id or secret", "invalid_client", "PLANNR_CLIENT_SECRET"},
			page:     http.StatusBadGateway,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redirect := freeLoopbackURL(t)
			e := newEnvWithRedirect(t, redirect)
			var rewrite func(string) string
			if tt.rewrite != nil {
				rewrite = func(u string) string { return tt.rewrite(u, redirect) }
			}
			b := newBrowser(rewrite)
			opts := loginOptions(e, redirect, b, io.Discard)
			if tt.secret != "" {
				opts.ClientSecret = tt.secret
			}
			_, err := Login(context.Background(), e.store, opts)
			if err == nil {
				t.Fatal("Login succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			for _, c := range tt.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("err = %q, want it to mention %q", err, c)
				}
			}
			assertNoSecrets(t, "the error", err.Error(), testSecret, tt.secret)
			if v := b.visit(t); v.status != tt.page || !strings.Contains(v.page, "failed") {
				t.Errorf("browser page %d, want %d:\n%s", v.status, tt.page, v.page)
			}
			if e.store.Exists() {
				t.Error("a failed login stored something")
			}
			if tt.is == ErrStateMismatch && e.fake.OAuthStats().CodeExchanges != 0 {
				t.Error("a code was exchanged despite the state mismatch")
			}
		})
	}
}

func TestLoginTimesOut(t *testing.T) {
	redirect := freeLoopbackURL(t)
	e := newEnvWithRedirect(t, redirect)
	out := &plannrtest.SyncBuffer{}
	opts := loginOptions(e, redirect, nil, out) // --no-browser, and nobody opens the URL
	opts.Timeout = 200 * time.Millisecond
	_, err := Login(context.Background(), e.store, opts)
	if !errors.Is(err, ErrLoginTimedOut) || !strings.Contains(err.Error(), "plannr-mcp login again") || !strings.Contains(err.Error(), "nothing was stored") {
		t.Fatalf("err = %v, want a clear timeout", err)
	}
	if !strings.Contains(out.String(), "Open this URL in a browser") || !strings.Contains(out.String(), "/oauth/authorize?") {
		t.Errorf("the URL was not printed:\n%s", out)
	}
	if e.store.Exists() {
		t.Error("a timed-out login stored something")
	}
	// The callback listener is closed: the port can be used again.
	u, _ := url.Parse(redirect)
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		t.Fatalf("the callback port is still held: %v", err)
	}
	ln.Close()
}

func TestLoginCancelled(t *testing.T) {
	redirect := freeLoopbackURL(t)
	e := newEnvWithRedirect(t, redirect)
	ctx, cancel := context.WithCancel(context.Background())
	opts := loginOptions(e, redirect, nil, io.Discard)
	opts.OpenBrowser = func(context.Context, string) error { cancel(); return nil }
	_, err := Login(ctx, e.store, opts)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrLoginTimedOut) || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("err = %v, want a cancellation", err)
	}
}

func TestLoginReportsABusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	redirect := "http://" + ln.Addr().String() + "/callback"
	e := newEnvWithRedirect(t, redirect)
	_, err = Login(context.Background(), e.store, loginOptions(e, redirect, nil, io.Discard))
	if err == nil || !strings.Contains(err.Error(), "cannot listen on") || !strings.Contains(err.Error(), "PLANNR_REDIRECT_URL") {
		t.Fatalf("err = %v, want advice about the busy port", err)
	}
}

func TestLoginNeedsAClientID(t *testing.T) {
	e := newEnv(t)
	opts := loginOptions(e, freeLoopbackURL(t), nil, io.Discard)
	opts.ClientID = " "
	if _, err := Login(context.Background(), e.store, opts); err == nil || !strings.Contains(err.Error(), "PLANNR_CLIENT_ID") {
		t.Fatalf("err = %v, want advice to set PLANNR_CLIENT_ID", err)
	}
}

func TestParseRedirectURL(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"http://127.0.0.1:8765/callback", ""},
		{"http://localhost:8765/callback", ""},
		{"http://[::1]:8765/cb", ""},
		{"http://127.0.0.1:8765", ""},
		{"https://127.0.0.1:8765/callback", "must start with http://"},
		{"http://127.0.0.1/callback", "explicit port"},
		{"http://127.0.0.1:0/callback", "explicit port"},
		{"http://example.com:8765/callback", "must point at this machine"},
		{"http://192.168.1.10:8765/callback", "must point at this machine"},
		{"http://127.0.0.1:8765/callback#x", "fragment"},
		{"::not a url", "not a URL"},
	}
	for _, tt := range tests {
		u, err := ParseRedirectURL(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.in, err)
		case tt.wantErr == "" && u.String() != tt.in:
			t.Errorf("%s: parsed as %s; the URL must be kept exactly as registered", tt.in, u)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: err = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestLoginWithARedirectURLWithoutPath(t *testing.T) {
	redirect := strings.TrimSuffix(freeLoopbackURL(t), "/callback") // as registered: no path
	e := newEnvWithRedirect(t, redirect)
	b := newBrowser(nil)
	if _, err := Login(context.Background(), e.store, loginOptions(e, redirect, b, io.Discard)); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if v := b.visit(t); v.status != http.StatusOK {
		t.Errorf("browser page %d", v.status)
	}
}
