package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

func TestSourceUsesAFreshTokenWithoutRefreshing(t *testing.T) {
	e := newEnv(t)
	rec := e.login(t)
	tok, err := e.source(e.store).Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != rec.AccessToken || !tok.Expiry.Equal(rec.Expiry) {
		t.Errorf("Token returned another token than the stored one")
	}
	if n := e.fake.OAuthStats().Refreshes; n != 0 {
		t.Errorf("%d refreshes, want 0", n)
	}
}

func TestSourceRefreshesShortlyBeforeExpiry(t *testing.T) {
	e := newEnv(t) // access tokens last an hour: refreshed in their last minute
	first := e.login(t)
	src := e.source(e.store)

	e.clock.Advance(time.Hour - time.Minute - time.Second)
	if tok, err := src.Token(); err != nil || tok.AccessToken != first.AccessToken {
		t.Fatalf("61s before expiry: %v; want the stored token", err)
	}
	e.clock.Advance(2 * time.Second)
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == first.AccessToken {
		t.Fatal("59s before expiry the token was not refreshed")
	}
	stored := e.stored(t)
	if stored.AccessToken != tok.AccessToken || stored.RefreshToken == first.RefreshToken {
		t.Error("the refreshed token was not saved before it was returned")
	}
	if want := e.clock.Now().Add(sandbox.DefaultAccessTokenLifetime); !stored.Expiry.Equal(want) {
		t.Errorf("stored expiry %v, want %v (from expires_in and the clock)", stored.Expiry, want)
	}
	if !stored.RefreshExpiry.Equal(e.clock.Now().Add(RefreshTokenLifetime)) {
		t.Errorf("stored refresh expiry %v was not renewed", stored.RefreshExpiry)
	}
	if stored.User == nil || stored.User.Email != first.User.Email || stored.ClientSecret != testSecret {
		t.Error("the refresh lost the login's other fields")
	}
	if n := e.fake.OAuthStats().Refreshes; n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	assertNoSecrets(t, "the log", e.logs.String(), first.AccessToken, first.RefreshToken, stored.AccessToken, stored.RefreshToken, testSecret)
}

// With access tokens that last one second, calls keep succeeding across many
// expiries and the store always holds the newest refresh token.
func TestSourceKeepsWorkingAcrossManyExpiries(t *testing.T) {
	e := newEnv(t, sandbox.WithTokenLifetimes(time.Second, time.Hour))
	e.login(t)
	client := e.client(t, e.source(e.store))
	const expiries = 25
	for i := range expiries {
		e.clock.Advance(time.Second)
		if _, err := client.ListOAuthConnections(context.Background()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		active := e.fake.ActiveRefreshTokens()
		if len(active) != 1 || e.stored(t).RefreshToken != active[0] {
			t.Fatalf("after expiry %d the store does not hold the one live refresh token", i)
		}
	}
	stats := e.fake.OAuthStats()
	if stats.Refreshes != expiries || stats.RefreshRejected != 0 {
		t.Errorf("stats %+v, want %d refreshes and none rejected", stats, expiries)
	}
	if n := e.fake.Count(http.MethodGet, "/api/v1/oauth/connections"); n != expiries {
		t.Errorf("%d API requests, want %d (no request was sent with an expired token)", n, expiries)
	}
}

func TestConcurrentCallsInOneProcessRefreshOnce(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	src := e.source(e.store)
	e.clock.Advance(time.Hour)

	const callers = 32
	tokens := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-start
			tok, err := src.Token()
			errs[i] = err
			if err == nil {
				tokens[i] = tok.AccessToken
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if tokens[i] != tokens[0] {
			t.Fatalf("callers got different tokens")
		}
	}
	if stats := e.fake.OAuthStats(); stats.Refreshes != 1 || stats.RefreshRejected != 0 {
		t.Errorf("stats %+v, want exactly one refresh", stats)
	}
}

// Sources with their own Store on one directory stand for processes: each
// has its own lock descriptor and its own in-process guard, so only the file
// lock and the re-read under it keep them from refreshing twice.
func TestSourcesSharingADirectoryRefreshOnce(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	const processes = 8
	sources := make([]*Source, processes)
	for i := range sources {
		sources[i] = e.source(NewStore(e.store.Dir(), nil))
	}
	for round := range 3 {
		e.clock.Advance(time.Hour)
		var wg sync.WaitGroup
		errs := make([]error, processes)
		for i, src := range sources {
			wg.Go(func() {
				client := e.client(t, src)
				_, errs[i] = client.ListOAuthConnections(context.Background())
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, process %d: %v", round, i, err)
			}
		}
		if stats := e.fake.OAuthStats(); stats.Refreshes != round+1 || stats.RefreshRejected != 0 {
			t.Fatalf("after round %d: stats %+v, want %d refreshes and none rejected", round, stats, round+1)
		}
	}
}

func TestUnauthorizedForcesOneRefreshAndRetry(t *testing.T) {
	e := newEnv(t)
	first := e.login(t)
	client := e.client(t, e.source(e.store))
	// Plannr revokes the access token long before its expiry.
	if n := e.fake.RevokeOAuthAccessTokens(); n != 1 {
		t.Fatalf("revoked %d tokens", n)
	}
	conns, err := client.ListOAuthConnections(context.Background())
	if err != nil {
		t.Fatalf("call after revocation: %v", err)
	}
	if len(conns) == 0 {
		t.Error("no connections")
	}
	if n := e.fake.OAuthStats().Refreshes; n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	var sent []string
	for _, r := range e.fake.Requests() {
		if r.Path == "/api/v1/oauth/connections" {
			sent = append(sent, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		}
	}
	if len(sent) != 2 || sent[0] != first.AccessToken || sent[1] != e.stored(t).AccessToken {
		t.Errorf("API saw %d requests, want the revoked token then the refreshed one", len(sent))
	}
}

func TestUnauthorizedUsesAnotherProcesssRefreshInsteadOfRefreshing(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	mine := e.source(e.store)
	stale, err := mine.Token()
	if err != nil {
		t.Fatal(err)
	}
	// Another process refreshes (the fake revokes the old pair).
	e.clock.Advance(time.Hour)
	if _, err := e.source(NewStore(e.store.Dir(), nil)).Token(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(-time.Hour + time.Second)
	// This process's request with the old token got a 401.
	tok, err := mine.Refresh(context.Background(), stale)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != e.stored(t).AccessToken {
		t.Error("Refresh did not return the token the other process saved")
	}
	if stats := e.fake.OAuthStats(); stats.Refreshes != 1 || stats.RefreshRejected != 0 {
		t.Errorf("stats %+v, want only the other process's refresh", stats)
	}
}

func TestExpiredRefreshTokenAsksForANewLogin(t *testing.T) {
	tests := []struct {
		name  string
		style sandbox.RefreshErrorStyle
		hint  string
	}{
		{"401 invalid_request", sandbox.RefreshInvalidRequest, "invalid_request"},
		{"400 invalid_grant", sandbox.RefreshInvalidGrant, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sandbox.WithRefreshErrorStyle(tt.style))
			old := e.login(t)
			src := e.source(e.store)
			client := e.client(t, src)
			e.fake.RevokeOAuthTokens()
			e.clock.Advance(time.Hour)

			for range 2 {
				_, err := client.ListOAuthConnections(context.Background())
				var ce *plannr.CredentialError
				if !errors.As(err, &ce) || !errors.Is(err, ErrLoginRequired) {
					t.Fatalf("err = %v, want a CredentialError wrapping ErrLoginRequired", err)
				}
				msg := err.Error()
				if !strings.Contains(msg, "run `plannr-mcp login`") || !strings.Contains(msg, tt.hint) || !strings.Contains(msg, "Token has been revoked") {
					t.Errorf("message %q does not explain and advise", msg)
				}
				assertNoSecrets(t, "the error", msg, old.AccessToken, old.RefreshToken, testSecret)
			}
			if n := e.fake.OAuthStats().RefreshRejected; n != 1 {
				t.Errorf("the dead refresh token was sent %d times, want once", n)
			}

			// The person logs in again in another process; this source
			// picks the new login up without being recreated.
			e.loginInto(t, NewStore(e.store.Dir(), nil))
			if _, err := client.ListOAuthConnections(context.Background()); err != nil {
				t.Fatalf("after a new login: %v", err)
			}
		})
	}
}

func TestSourceErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, e *env) *Source
		is      []error
		contain string
	}{
		{
			name:    "not logged in",
			setup:   func(t *testing.T, e *env) *Source { return e.source(e.store) },
			is:      []error{ErrNoCredential, ErrNotLoggedIn},
			contain: "plannr-mcp login",
		},
		{
			name: "login for another Plannr",
			setup: func(t *testing.T, e *env) *Source {
				e.login(t)
				return NewSource(e.store, SourceOptions{BaseURL: "https://api.plannrcrm.com", Now: e.clock.Now})
			},
			is:      []error{ErrLoginRequired},
			contain: "this server talks to https://api.plannrcrm.com",
		},
		{
			name: "client secret changed",
			setup: func(t *testing.T, e *env) *Source {
				rec := e.login(t)
				rec.ClientSecret = "revoked-secret"
				saveLocked(t, e.store, rec)
				e.clock.Advance(time.Hour)
				return e.source(e.store)
			},
			is:      []error{ErrLoginRequired},
			contain: "invalid_client",
		},
		{
			name: "no refresh token",
			setup: func(t *testing.T, e *env) *Source {
				rec := e.login(t)
				rec.RefreshToken = ""
				saveLocked(t, e.store, rec)
				e.clock.Advance(time.Hour)
				return e.source(e.store)
			},
			is:      []error{ErrLoginRequired},
			contain: "no refresh token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := tt.setup(t, e).Token()
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("err = %v, want it to wrap %v", err, target)
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.contain) {
				t.Errorf("err = %v, want it to mention %q", err, tt.contain)
			}
		})
	}
}

func TestRefreshFailureThatIsNotALogout(t *testing.T) {
	e := newEnv(t)
	rec := e.login(t)
	src := e.source(e.store)
	e.clock.Advance(time.Hour)
	e.fake.Inject(sandbox.Fault{Path: "/oauth/token", Status: http.StatusServiceUnavailable, Body: "<html>down</html>", ContentType: "text/html"})
	_, err := src.Token()
	if err == nil || errors.Is(err, ErrLoginRequired) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want a temporary failure", err)
	}
	if strings.Contains(err.Error(), "<html>") {
		t.Errorf("the error quotes the response body: %v", err)
	}
	// The refresh token was not spent: the next call refreshes.
	if _, err := src.Token(); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if e.stored(t).RefreshToken == rec.RefreshToken {
		t.Error("the retry did not refresh")
	}
}

func TestTokenEndpointRedirectIsNotFollowed(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	elsewhere := 0
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere++ }))
	defer other.Close()
	e.fake.Inject(sandbox.Fault{Path: "/oauth/token", Status: http.StatusTemporaryRedirect,
		Header: http.Header{"Location": {other.URL + "/steal"}}})
	e.clock.Advance(time.Hour)
	if _, err := e.source(e.store).Token(); err == nil {
		t.Fatal("a redirected refresh succeeded")
	}
	if elsewhere != 0 {
		t.Error("the refresh request, with the client secret and refresh token, was sent to another address")
	}
}

func TestUnsavableRefreshIsKeptInMemory(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	src := e.source(e.store)
	e.clock.Advance(time.Hour)
	e.store.write = func(*os.File, []byte) error { return errors.New("disk full") }
	tok, err := src.Token()
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if !strings.Contains(e.logs.String(), "could not save") {
		t.Errorf("no error was logged:\n%s", e.logs.String())
	}
	again, err := src.Token()
	if err != nil || again.AccessToken != tok.AccessToken {
		t.Fatalf("second Token = %v; want the refreshed token from memory", err)
	}
	e.clock.Advance(time.Hour)
	e.store.write = func(f *os.File, b []byte) error { _, err := f.Write(b); return err }
	if _, err := src.Token(); err != nil {
		t.Fatalf("refresh from the in-memory login: %v", err)
	}
	if stats := e.fake.OAuthStats(); stats.Refreshes != 2 || stats.RefreshRejected != 0 {
		t.Errorf("stats %+v, want two refreshes and no spent refresh token reused", stats)
	}
}

func TestTokenContextEndsWhileWaitingForARefresh(t *testing.T) {
	e := newEnv(t)
	e.login(t)
	src := e.source(e.store)
	e.clock.Advance(time.Hour)
	src.sem <- struct{}{} // a refresh is in progress in this process
	defer func() { <-src.sem }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.TokenContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRefreshMargin(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		life, want time.Duration
	}{
		{time.Hour, time.Minute},
		{10 * time.Minute, time.Minute},
		{5 * time.Minute, 30 * time.Second},
		{time.Second, 100 * time.Millisecond},
		{0, time.Minute},
	}
	for _, tt := range tests {
		rec := &Record{IssuedAt: at, Expiry: at.Add(tt.life)}
		if got := refreshMargin(rec); got != tt.want {
			t.Errorf("lifetime %v: margin %v, want %v", tt.life, got, tt.want)
		}
	}
}

// sequence is a token source that returns its tokens in turn.
type sequence struct{ tokens []*oauth2.Token }

func (q *sequence) Token() (*oauth2.Token, error) {
	tok := q.tokens[0]
	if len(q.tokens) > 1 {
		q.tokens = q.tokens[1:]
	}
	return tok, nil
}

func TestNotifyingSource(t *testing.T) {
	a := &oauth2.Token{AccessToken: "a", RefreshToken: "ra"}
	b := &oauth2.Token{AccessToken: "b", RefreshToken: "rb"}
	tests := []struct {
		name      string
		tokens    []*oauth2.Token
		saveErr   error
		wantSaved []string
		wantErr   bool
	}{
		{"unchanged token is not saved", []*oauth2.Token{a, a}, nil, nil, false},
		{"changed token is saved once", []*oauth2.Token{b, b}, nil, []string{"b"}, false},
		{"failed save withholds the token", []*oauth2.Token{b}, errors.New("disk full"), []string{"b"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var saved []string
			n := &notifyingSource{
				base: &sequence{tokens: tt.tokens},
				last: a,
				onChange: func(tok *oauth2.Token) error {
					saved = append(saved, tok.AccessToken)
					return tt.saveErr
				},
			}
			for range 2 {
				tok, err := n.Token()
				if (err != nil) != tt.wantErr || (err == nil && tok == nil) {
					t.Fatalf("Token = %v, %v", tok, err)
				}
			}
			if tt.wantErr {
				saved = saved[:1] // each failed call tries again
			}
			if !slices.Equal(saved, tt.wantSaved) {
				t.Errorf("saved %v, want %v", saved, tt.wantSaved)
			}
		})
	}
}
