package plannr

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// refreshingSource starts with one token and answers Refresh with another.
type refreshingSource struct {
	mu         sync.Mutex
	current    string
	next       string
	refreshErr error
	rejected   []string
	ctxSeen    []context.Context
}

type ctxKey struct{}

func (s *refreshingSource) Token() (*oauth2.Token, error) {
	return s.TokenContext(context.Background())
}

func (s *refreshingSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ctxSeen = append(s.ctxSeen, ctx)
	return &oauth2.Token{AccessToken: s.current}, nil
}

func (s *refreshingSource) Refresh(ctx context.Context, rejected *oauth2.Token) (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected = append(s.rejected, rejected.AccessToken)
	if s.refreshErr != nil {
		return nil, s.refreshErr
	}
	s.current = s.next
	return &oauth2.Token{AccessToken: s.current}, nil
}

func newFakeClient(t *testing.T, ts oauth2.TokenSource, accepted ...string) (*Client, *sandbox.Server) {
	t.Helper()
	fake := sandbox.New(sandbox.WithTokens(accepted...), sandbox.WithRateLimit(0))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	c, err := NewClient(ts, WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return c, fake
}

func bearers(fake *sandbox.Server) []string {
	var out []string
	for _, r := range fake.Requests() {
		out = append(out, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}
	return out
}

func TestUnauthorizedForcesOneRefreshAndOneRetry(t *testing.T) {
	src := &refreshingSource{current: "revoked", next: "fresh"}
	c, fake := newFakeClient(t, src, "fresh")
	uuid := fake.Connections()[0].UUID

	conn, err := c.RenameOAuthConnection(context.WithValue(context.Background(), ctxKey{}, "call"), uuid, "Renamed after a 401")
	if err != nil {
		t.Fatalf("rename: %v", err)
	}
	if conn.Label != "Renamed after a 401" {
		t.Errorf("label = %q", conn.Label)
	}
	if got := bearers(fake); len(got) != 2 || got[0] != "revoked" || got[1] != "fresh" {
		t.Fatalf("bearer tokens sent = %v, want [revoked fresh]", got)
	}
	reqs := fake.Requests()
	if string(reqs[0].Body) != string(reqs[1].Body) || len(reqs[1].Body) == 0 {
		t.Errorf("the retry's body %q differs from the first %q", reqs[1].Body, reqs[0].Body)
	}
	if len(src.rejected) != 1 || src.rejected[0] != "revoked" {
		t.Errorf("Refresh saw %v, want one call with the rejected token", src.rejected)
	}
	if len(src.ctxSeen) != 1 || src.ctxSeen[0].Value(ctxKey{}) != "call" {
		t.Errorf("TokenContext did not get the call's context")
	}
}

func TestUnauthorizedRetriesAtMostOnce(t *testing.T) {
	src := &refreshingSource{current: "revoked", next: "also-rejected"}
	c, fake := newFakeClient(t, src, "something-else")
	_, err := c.ListOAuthConnections(context.Background())
	var apiErr *ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v, want a 401 ErrorResponse", err)
	}
	if n := len(fake.Requests()); n != 2 {
		t.Errorf("%d requests sent, want 2", n)
	}
	if len(src.rejected) != 1 {
		t.Errorf("Refresh called %d times, want 1", len(src.rejected))
	}
}

func TestUnauthorizedWithoutRefresher(t *testing.T) {
	c, fake := newFakeClient(t, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "wrong"}), "right")
	_, err := c.ListOAuthConnections(context.Background())
	var apiErr *ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v, want a 401 ErrorResponse", err)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d requests sent, want 1 (a static token cannot be refreshed)", n)
	}
}

func TestRefreshFailureIsACredentialError(t *testing.T) {
	loginRequired := errors.New("log in again")
	src := &refreshingSource{current: "revoked", refreshErr: loginRequired}
	c, fake := newFakeClient(t, src, "fresh")
	_, err := c.ListOAuthConnections(context.Background())
	var ce *CredentialError
	if !errors.As(err, &ce) || !errors.Is(err, loginRequired) {
		t.Fatalf("err = %v, want a CredentialError wrapping the refresh error", err)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d requests sent, want 1", n)
	}
}

func TestRefreshReturningTheSameTokenDoesNotRetry(t *testing.T) {
	src := &refreshingSource{current: "revoked", next: "revoked"}
	c, fake := newFakeClient(t, src, "fresh")
	_, err := c.ListOAuthConnections(context.Background())
	var apiErr *ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v, want a 401 ErrorResponse", err)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d requests sent, want 1", n)
	}
}

func TestUnreplayableBodyIsNotRetried(t *testing.T) {
	src := &refreshingSource{current: "revoked", next: "fresh"}
	c, fake := newFakeClient(t, src, "fresh")
	req, err := c.NewRequest(context.Background(), http.MethodPut, "/api/v1/oauth/connections/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(strings.NewReader(`{"label":"x"}`)) // a body Do cannot send twice
	_, err = c.Do(req, nil)
	var apiErr *ErrorResponse
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v, want the 401 passed through", err)
	}
	if len(src.rejected) != 0 || len(fake.Requests()) != 1 {
		t.Errorf("refreshes %d, requests %d: want the 401 passed through untouched", len(src.rejected), len(fake.Requests()))
	}
}

func TestTokenFailureIsACredentialError(t *testing.T) {
	c, fake := newFakeClient(t, oauth2.StaticTokenSource(&oauth2.Token{}), "x")
	_, err := c.ListOAuthConnections(context.Background())
	var ce *CredentialError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a CredentialError", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent without a token", n)
	}
}
