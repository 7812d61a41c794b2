// Package storetest is the contract every store.Store implementation
// passes: run Run against each one. It is for tests only.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/store"
)

// Opener opens the implementation under test on one database, the same
// database at every call within a test, with the keyring given.
type Opener func(t *testing.T, keys *store.Keyring) store.Store

// Keys are the two keys the suite uses, each long enough.
const (
	KeyA = "storetest-key-a-0123456789abcdefghijklmnop"
	KeyB = "storetest-key-b-0123456789abcdefghijklmnop"
)

// Keyring returns a keyring of secret and old, failing t on an error.
func Keyring(t *testing.T, secret string, old ...string) *store.Keyring {
	t.Helper()
	k, err := store.NewKeyring(secret, old...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Run runs the contract. newDB gives each subtest a database of its own
// and the Opener for it.
func Run(t *testing.T, newDB func(t *testing.T) Opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"clients", testClients},
		{"users", testUsers},
		{"plannr tokens and keys", testPlannrTokens},
		{"pending requests are taken once", testPending},
		{"codes are used once", testCodes},
		{"refresh tokens are used once", testRefresh},
		{"revoking a family", testRevoke},
		{"forgetting a person", testForget},
		{"a person's lock excludes", testLock},
		{"pruning", testPrune},
		{"migrating twice", testMigrateTwice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newDB(t)) })
	}
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testClients(t *testing.T, open Opener) {
	s := open(t, Keyring(t, KeyA))
	now := time.Now().Truncate(time.Second)
	must(t, s.PutClient(ctx, store.Client{ID: "c1", Kind: store.ClientDynamic, Metadata: []byte(`{"client_name":"A"}`), SecretHash: "h", CreatedAt: now}))
	c, err := s.Client(ctx, "c1")
	must(t, err)
	if c.Kind != store.ClientDynamic || string(c.Metadata) != `{"client_name":"A"}` || c.SecretHash != "h" || !c.CreatedAt.Equal(now) {
		t.Errorf("client = %+v", c)
	}
	if _, err := s.Client(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown client: %v, want ErrNotFound", err)
	}
	must(t, s.PutClient(ctx, store.Client{ID: "https://x.example/c", Kind: store.ClientMetadataDocument, Metadata: []byte(`{}`), CreatedAt: now, ExpiresAt: now.Add(-time.Second)}))
	if _, err := s.Client(ctx, "https://x.example/c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired metadata: %v, want ErrNotFound", err)
	}
	must(t, s.PutClient(ctx, store.Client{ID: "https://x.example/c", Kind: store.ClientMetadataDocument, Metadata: []byte(`{"a":1}`), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	if c, err := s.Client(ctx, "https://x.example/c"); err != nil || string(c.Metadata) != `{"a":1}` {
		t.Errorf("refreshed metadata: %+v, %v", c, err)
	}
}

func testUsers(t *testing.T, open Opener) {
	s := open(t, Keyring(t, KeyA))
	now := time.Now().Truncate(time.Second)
	u, err := s.SaveUser(ctx, store.User{Email: " Adviser@Example.COM ", Profile: []byte(`{"v":1}`), AccountUUID: "acct-1", SignedInAt: now})
	must(t, err)
	if u.ID == "" || u.Email != "adviser@example.com" || u.AccountUUID != "acct-1" {
		t.Fatalf("saved user = %+v", u)
	}
	again, err := s.SaveUser(ctx, store.User{Email: "adviser@example.com", Profile: []byte(`{"v":2}`), AccountUUID: "acct-2", SignedInAt: now.Add(time.Minute)})
	must(t, err)
	if again.ID != u.ID || string(again.Profile) != `{"v":2}` || again.AccountUUID != "acct-1" || !again.SignedInAt.Equal(now.Add(time.Minute)) || !again.CreatedAt.Equal(now) {
		t.Errorf("signing in again = %+v; want the same id, the new profile, the account kept", again)
	}
	for _, key := range []string{u.ID, "ADVISER@example.com"} {
		if got, err := s.User(ctx, key); err != nil || got.ID != u.ID {
			t.Errorf("User(%q) = %+v, %v", key, got, err)
		}
	}
	if _, err := s.User(ctx, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	must(t, s.SetAccount(ctx, u.ID, "acct-3"))
	if got, _ := s.User(ctx, u.ID); got.AccountUUID != "acct-3" {
		t.Errorf("after SetAccount, account = %q", got.AccountUUID)
	}
	if err := s.SetAccount(ctx, "u_nobody", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetAccount of nobody: %v", err)
	}
	must(t, s.SetAccount(ctx, u.ID, "acct-1"))
	other, err := s.SaveUser(ctx, store.User{Email: "other@example.com", Profile: []byte(`{}`), SignedInAt: now})
	must(t, err)
	if other.ID == u.ID {
		t.Fatal("two people got one id")
	}
	must(t, s.PutFamily(ctx, store.Family{ID: "f1", UserID: u.ID, ClientID: "c1", Resource: "r", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, s.SavePlannrTokens(ctx, u.ID, []byte("x"), now))
	must(t, s.TouchFamily(ctx, "f1", u.ID, now.Add(2*time.Minute)))
	list, err := s.Users(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Email != "adviser@example.com" || list[0].Grants != 1 || fmt.Sprint(list[0].Clients) != "[c1]" || !list[0].HasPlannrTokens || !list[0].LastUsedAt.Equal(now.Add(2*time.Minute)) {
		t.Errorf("Users = %+v", list)
	}
	if list[1].Grants != 0 || list[1].HasPlannrTokens {
		t.Errorf("the other person = %+v", list[1])
	}
}

func testPlannrTokens(t *testing.T, open Opener) {
	s := open(t, Keyring(t, KeyA))
	now := time.Now()
	if _, err := s.PlannrTokens(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("none stored: %v", err)
	}
	secret := []byte(`{"access_token":"plannr-access-secret-1"}`)
	must(t, s.SavePlannrTokens(ctx, "u1", secret, now))
	must(t, s.SavePlannrTokens(ctx, "u2", []byte("other"), now))
	got, err := s.PlannrTokens(ctx, "u1")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("round trip = %q, %v", got, err)
	}
	// Another key opens nothing; the old key beside a new one opens it,
	// and after a rekey the new key alone does.
	if _, err := open(t, Keyring(t, KeyB)).PlannrTokens(ctx, "u1"); !errors.Is(err, store.ErrNoKey) {
		t.Errorf("with another key: %v, want ErrNoKey", err)
	}
	rotated := open(t, Keyring(t, KeyB, KeyA))
	if got, err := rotated.PlannrTokens(ctx, "u1"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("with the old key configured = %q, %v", got, err)
	}
	must(t, rotated.PutPending(ctx, "p1", []byte("pending"), now.Add(time.Hour)))
	n, err := rotated.Rekey(ctx)
	must(t, err)
	if n != 2 {
		t.Errorf("rekey rewrote %d rows, want the 2 sealed under the old key", n)
	}
	if n, _ := rotated.Rekey(ctx); n != 0 {
		t.Errorf("a second rekey rewrote %d rows, want 0", n)
	}
	fresh := open(t, Keyring(t, KeyB))
	for _, id := range []string{"u1", "u2"} {
		if _, err := fresh.PlannrTokens(ctx, id); err != nil {
			t.Errorf("after rekey, the new key alone: %v", err)
		}
	}
	if got, err := fresh.Pending(ctx, "p1", now); err != nil || string(got) != "pending" {
		t.Errorf("pending after rekey = %q, %v", got, err)
	}
}

func testPending(t *testing.T, open Opener) {
	s := open(t, Keyring(t, KeyA))
	now := time.Now()
	must(t, s.PutPending(ctx, "p1", []byte("one"), now.Add(time.Minute)))
	must(t, s.PutPending(ctx, "p2", []byte("two"), now.Add(-time.Second)))
	if got, err := s.Pending(ctx, "p1", now); err != nil || string(got) != "one" {
		t.Fatalf("Pending = %q, %v", got, err)
	}
	if _, err := s.Pending(ctx, "p2", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired: %v", err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got, err := s.TakePending(ctx, "p1", now); err == nil && string(got) == "one" {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d takes of one pending request succeeded, want 1", wins.Load())
	}
}

func testCodes(t *testing.T, open Opener) {
	s := open(t, Keyring(t, KeyA))
	now := time.Now()
	code := store.Code{Hash: "h1", ClientID: "c", UserID: "u", RedirectURI: "https://c/cb", Challenge: "ch", Resource: "r", Scope: "s", FamilyID: "f", ExpiresAt: now.Add(time.Minute)}
	must(t, s.PutCode(ctx, code))
	must(t, s.PutCode(ctx, store.Code{Hash: "h2", FamilyID: "f2", ExpiresAt: now.Add(-time.Second)}))
	var wins atomic.Int32
	var used atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c, err := s.UseCode(ctx, "h1", now)
			switch {
			case err == nil && c.RedirectURI == code.RedirectURI && c.Challenge == "ch" && c.FamilyID == "f":
				wins.Add(1)
			case errors.Is(err, store.ErrUsed) && c.FamilyID == "f":
				used.Add(1)
			default:
				t.Errorf("UseCode = %+v, %v", c, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || used.Load() != 7 {
		t.Errorf("%d uses succeeded and %d were told the code was used; want 1 and 7", wins.Load(), used.Load())
	}
	if _, err := s.UseCode(ctx, "h2", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired code: %v", err)
	}
	if _, err := s.UseCode(ctx, "nope", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown code: %v", err)
	}
}

func family(t *testing.T, s store.Store, id string, now time.Time) {
	t.Helper()
	must(t, s.PutFamily(ctx, store.Family{ID: id, UserID: "u-" + id, ClientID: "c", Resource: "https://mcp.example/mcp", Scope: "plannr", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, s.PutToken(ctx, store.Token{Hash: "at-" + id, FamilyID: id, Kind: store.AccessToken, ExpiresAt: now.Add(time.Minute)}))
	must(t, s.PutToken(ctx, store.Token{Hash: "rt-" + id, FamilyID: id, Kind: store.RefreshToken, ExpiresAt: now.Add(time.Hour)}))
}

func testRefresh(t *testing.T, open Opener) {
	s := open(t, Keyring(t, KeyA))
	now := time.Now()
	family(t, s, "f1", now)
	tok, fam, err := s.Token(ctx, "at-f1")
	if err != nil || tok.Kind != store.AccessToken || fam.Resource != "https://mcp.example/mcp" || fam.UserID != "u-f1" || !fam.RevokedAt.IsZero() {
		t.Fatalf("Token = %+v %+v %v", tok, fam, err)
	}
	if _, _, err := s.UseRefresh(ctx, "at-f1", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an access token used as a refresh token: %v", err)
	}
	var wins, reused atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, f, err := s.UseRefresh(ctx, "rt-f1", now)
			switch {
			case err == nil && f.ID == "f1":
				wins.Add(1)
			case errors.Is(err, store.ErrUsed) && f.ID == "f1":
				reused.Add(1)
			default:
				t.Errorf("UseRefresh = %+v, %v", f, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || reused.Load() != 7 {
		t.Errorf("%d refreshes succeeded, %d saw reuse; want 1 and 7", wins.Load(), reused.Load())
	}
}

func testRevoke(t *testing.T, open Opener) {
	s := open(t, Keyring(t, KeyA))
	now := time.Now()
	family(t, s, "f1", now)
	family(t, s, "f2", now)
	must(t, s.RevokeFamily(ctx, "f1", now))
	if _, _, err := s.Token(ctx, "at-f1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked family's access token: %v", err)
	}
	if _, f, err := s.Token(ctx, "rt-f1"); err != nil || f.RevokedAt.IsZero() {
		t.Errorf("a revoked family's refresh token must still be known, as revoked: %+v %v", f, err)
	}
	if _, f, err := s.Token(ctx, "at-f2"); err != nil || !f.RevokedAt.IsZero() {
		t.Errorf("another family was touched: %+v %v", f, err)
	}
}

func testForget(t *testing.T, open Opener) {
	s := open(t, Keyring(t, KeyA))
	now := time.Now()
	u, err := s.SaveUser(ctx, store.User{Email: "a@example.com", Profile: []byte(`{}`), SignedInAt: now})
	must(t, err)
	must(t, s.PutFamily(ctx, store.Family{ID: "f", UserID: u.ID, ClientID: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	must(t, s.PutToken(ctx, store.Token{Hash: "at", FamilyID: "f", Kind: store.AccessToken, ExpiresAt: now.Add(time.Hour)}))
	must(t, s.PutToken(ctx, store.Token{Hash: "rt", FamilyID: "f", Kind: store.RefreshToken, ExpiresAt: now.Add(time.Hour)}))
	must(t, s.SavePlannrTokens(ctx, u.ID, []byte("t"), now))
	must(t, s.PutConsent(ctx, u.ID, "c", now))
	if ok, err := s.Consented(ctx, u.ID, "c"); err != nil || !ok {
		t.Fatalf("consent not recorded: %v", err)
	}
	if ok, _ := s.Consented(ctx, u.ID, "other"); ok {
		t.Fatal("consent to one client counts for another")
	}
	must(t, s.Forget(ctx, u.ID, now))
	if _, err := s.PlannrTokens(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Plannr tokens survive: %v", err)
	}
	if ok, _ := s.Consented(ctx, u.ID, "c"); ok {
		t.Error("the consent survives")
	}
	for _, h := range []string{"at", "rt"} {
		if _, _, err := s.Token(ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("token %s survives: %v", h, err)
		}
	}
	if _, err := s.User(ctx, u.ID); err != nil {
		t.Errorf("the person's record should stay: %v", err)
	}
}

func testLock(t *testing.T, open Opener) {
	a := open(t, Keyring(t, KeyA))
	b := open(t, Keyring(t, KeyA)) // as another process would
	unlock, err := a.LockUser(ctx, "u1")
	must(t, err)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := b.LockUser(short, "u1"); err == nil {
		t.Fatal("a second holder took a held lock")
	}
	cancel()
	other, err := b.LockUser(ctx, "u2")
	must(t, err)
	other()
	got := make(chan error, 1)
	go func() {
		wait, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		u, err := b.LockUser(wait, "u1")
		if err == nil {
			u()
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("waiting for a released lock: %v", err)
	}
}

func testPrune(t *testing.T, open Opener) {
	s := open(t, Keyring(t, KeyA))
	now := time.Now()
	family(t, s, "live", now)
	must(t, s.PutFamily(ctx, store.Family{ID: "old", UserID: "u", ClientID: "c", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}))
	must(t, s.PutToken(ctx, store.Token{Hash: "rt-old", FamilyID: "old", Kind: store.RefreshToken, ExpiresAt: now.Add(-time.Hour)}))
	must(t, s.PutCode(ctx, store.Code{Hash: "c-old", FamilyID: "x", ExpiresAt: now.Add(-time.Second)}))
	must(t, s.PutPending(ctx, "p-old", []byte("x"), now.Add(-time.Second)))
	old := now.Add(-31 * 24 * time.Hour)
	must(t, s.PutClient(ctx, store.Client{ID: "unused", Kind: store.ClientDynamic, Metadata: []byte(`{}`), CreatedAt: old}))
	must(t, s.PutClient(ctx, store.Client{ID: "c", Kind: store.ClientDynamic, Metadata: []byte(`{}`), CreatedAt: old}))
	must(t, s.PutClient(ctx, store.Client{ID: "recent", Kind: store.ClientDynamic, Metadata: []byte(`{}`), CreatedAt: now}))
	n, err := s.Prune(ctx, now)
	must(t, err)
	if n != 5 {
		t.Errorf("pruned %d rows, want 5", n)
	}
	if _, _, err := s.Token(ctx, "at-live"); err != nil {
		t.Errorf("a live token was pruned: %v", err)
	}
	if _, err := s.Client(ctx, "unused"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an old client without a grant was kept: %v", err)
	}
	for _, id := range []string{"c", "recent"} {
		if _, err := s.Client(ctx, id); err != nil {
			t.Errorf("client %s, with a grant or recent, was pruned: %v", id, err)
		}
	}
}

func testMigrateTwice(t *testing.T, open Opener) {
	s := open(t, Keyring(t, KeyA))
	must(t, s.SavePlannrTokens(ctx, "u", []byte("kept"), time.Now()))
	again := open(t, Keyring(t, KeyA))
	if got, err := again.PlannrTokens(ctx, "u"); err != nil || string(got) != "kept" {
		t.Errorf("reopening lost data: %q, %v", got, err)
	}
}
