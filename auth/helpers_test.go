package auth

import (
	"context"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

const (
	testClientID = "plannr-mcp-test-client"
	testSecret   = "test-client-secret-8c1f"
)

// env is a fake Plannr with an OAuth client, its clock, and a store.
type env struct {
	fake  *sandbox.Server
	url   string
	clock *plannrtest.Clock
	store *Store
	logs  *plannrtest.SyncBuffer
}

func newEnv(t *testing.T, opts ...sandbox.Option) *env {
	t.Helper()
	return newEnvWithRedirect(t, "http://127.0.0.1:8765/callback", opts...)
}

func newEnvWithRedirect(t *testing.T, redirect string, opts ...sandbox.Option) *env {
	t.Helper()
	c := newClock()
	opts = append([]sandbox.Option{
		sandbox.WithClock(c.Now),
		sandbox.WithRateLimit(0),
		sandbox.WithOAuthClient(sandbox.OAuthClient{ID: testClientID, Secret: testSecret, RedirectURIs: []string{redirect}}),
	}, opts...)
	fake := sandbox.New(opts...)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	logs := &plannrtest.SyncBuffer{}
	return &env{fake: fake, url: srv.URL, clock: c, store: NewStore(t.TempDir(), logs.Logger()), logs: logs}
}

// login stores a login issued by the fake, as if the person had logged in now.
func (e *env) login(t *testing.T) *Record {
	t.Helper()
	return e.loginInto(t, e.store)
}

func (e *env) loginInto(t *testing.T, store *Store) *Record {
	t.Helper()
	access, refresh, expiresIn, err := e.fake.IssueOAuthTokens(testClientID)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	rec := &Record{
		Version:       recordVersion,
		BaseURL:       e.url,
		ClientID:      testClientID,
		ClientSecret:  testSecret,
		AccessToken:   access,
		TokenType:     "Bearer",
		RefreshToken:  refresh,
		Expiry:        now.Add(expiresIn),
		IssuedAt:      now,
		RefreshExpiry: now.Add(RefreshTokenLifetime),
		LoggedInAt:    now,
		User:          &User{Email: "adviser@harbourwealth.example"},
	}
	if err := store.SaveLocked(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func (e *env) source(store *Store) *Source {
	return NewSource(store, SourceOptions{BaseURL: e.url, Now: e.clock.Now, Logger: e.logs.Logger()})
}

func (e *env) client(t *testing.T, src *Source) *plannr.Client {
	t.Helper()
	c, err := plannr.NewClient(src, plannr.WithBaseURL(e.url))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stored returns the store's current login.
func (e *env) stored(t *testing.T) *Record {
	t.Helper()
	rec, err := e.store.Load()
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// freeLoopbackURL returns a callback URL on a loopback port that was free a
// moment ago.
func freeLoopbackURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return "http://127.0.0.1:" + strconv.Itoa(port) + "/callback"
}

// assertNoSecrets fails if text holds any of the secrets.
func assertNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%.12s...):\n%s", what, s, text)
		}
	}
}

// newClock is the clock of the auth tests, shared by their sources and the fake.
func newClock() *plannrtest.Clock {
	return plannrtest.NewClock(time.Date(2026, 6, 8, 12, 0, 0, 0, time.UTC))
}
