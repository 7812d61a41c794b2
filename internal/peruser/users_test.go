package peruser

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

type who struct{}

func as(id Identity) context.Context { return context.WithValue(context.Background(), who{}, id) }

// setup signs the sandbox's owner in (as the authorization server's
// callback would have) and returns the per-person API and the person.
func setup(t *testing.T, expired bool) (*Users, *sandbox.Server, store.Store, Identity) {
	t.Helper()
	fake := sandbox.New(sandbox.WithRateLimit(0), sandbox.WithOAuthClient(sandbox.DemoClient()))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	keys, _ := store.NewKeyring("peruser-test-key-0123456789abcdefghijkl")
	st, _, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u, err := st.SaveUser(context.Background(), store.User{Email: sandbox.OwnerEmail, Profile: []byte(`{}`), AccountUUID: sandbox.SampleAccounts()[1].UUID, SignedInAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	access, refresh, life, err := fake.IssueOAuthTokens(sandbox.DemoClientID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := &auth.Record{Version: 1, BaseURL: srv.URL, ClientID: sandbox.DemoClientID, ClientSecret: sandbox.DemoClientSecret,
		AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", IssuedAt: now, Expiry: now.Add(life)}
	if expired {
		rec.IssuedAt, rec.Expiry = now.Add(-2*time.Hour), now.Add(-time.Hour)
	}
	if err := SaveLogin(context.Background(), st, u.ID, rec); err != nil {
		t.Fatal(err)
	}
	if data, _ := st.PlannrTokens(context.Background(), u.ID); len(data) == 0 || bytes.Contains(data, []byte(sandbox.DemoClientSecret)) {
		t.Fatal("the stored login holds the client secret")
	}
	users := New(Options{
		Store: st, BaseURL: srv.URL, ClientSecret: sandbox.DemoClientSecret, Secrets: untrusted.NewSecrets(),
		Identify:      func(ctx context.Context) (Identity, bool) { id, ok := ctx.Value(who{}).(Identity); return id, ok },
		ClientOptions: []plannr.Option{plannr.WithRetry(plannr.RetryPolicy{})},
	})
	return users, fake, st, Identity{UserID: u.ID, AccountUUID: u.AccountUUID}
}

func TestCallsActAsThePerson(t *testing.T) {
	users, fake, _, id := setup(t, false)
	conns, err := users.ListOAuthConnections(as(id))
	if err != nil || len(conns) == 0 {
		t.Fatalf("list = %d, %v", len(conns), err)
	}
	reqs := fake.Requests()
	last := reqs[len(reqs)-1]
	if last.Header.Get(plannr.AccountHeader) != id.AccountUUID || last.Header.Get("Authorization") == "Bearer "+sandbox.SandboxToken {
		t.Errorf("the request went with account %q and %q", last.Header.Get(plannr.AccountHeader), last.Header.Get("Authorization"))
	}
	var ce *plannr.CredentialError
	if _, err := users.ListOAuthConnections(context.Background()); !errors.As(err, &ce) {
		t.Errorf("a call without a person: %v, want a credential error", err)
	}
}

func TestExpiredLoginIsRefreshedOnce(t *testing.T) {
	users, fake, st, id := setup(t, true)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := users.ListOAuthConnections(as(id)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if s := fake.OAuthStats(); s.Refreshes != 1 || s.RefreshRejected != 0 {
		t.Fatalf("Plannr saw %d refreshes and %d refused, want 1 and 0", s.Refreshes, s.RefreshRejected)
	}
	rec, err := records{st: st, userID: id.UserID}.Load(context.Background())
	if err != nil || !rec.Expiry.After(time.Now()) || len(fake.ActiveRefreshTokens()) != 1 || fake.ActiveRefreshTokens()[0] != rec.RefreshToken {
		t.Errorf("the rotated login was not saved: %v", err)
	}
}

func TestEndedLoginSignsThePersonOut(t *testing.T) {
	users, fake, st, id := setup(t, true)
	fake.RevokeOAuthTokens()
	_, err := users.ListOAuthConnections(as(id))
	if !errors.Is(err, ErrSignInRequired) {
		t.Fatalf("err = %v, want ErrSignInRequired", err)
	}
	if _, err := st.PlannrTokens(context.Background(), id.UserID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the dead login is still stored: %v", err)
	}
	if n := fake.Count(http.MethodGet, "/api/v1/oauth/connections"); n != 0 {
		t.Errorf("%d lists reached Plannr without a usable token", n)
	}
}
