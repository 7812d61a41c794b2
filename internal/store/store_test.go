package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/store"
	"github.com/plannr-mcp/plannr-mcp/internal/store/storetest"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// opener opens spec for a test, closing each store when the test ends.
func opener(spec string) storetest.Opener {
	return func(t *testing.T, keys *store.Keyring) store.Store {
		t.Helper()
		s, _, err := store.Open(context.Background(), spec, keys)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestSQLiteContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		return opener(filepath.Join(t.TempDir(), store.DefaultFileName))
	})
}

func TestPostgresContract(t *testing.T) {
	pg := plannrtest.StartPostgres(t)
	storetest.Run(t, func(t *testing.T) storetest.Opener { return opener(pg.NewDatabase(t)) })
}

// TestSQLiteHoldsNoPlannrTokenInClear reads the database file, and its
// write-ahead log, as bytes.
func TestSQLiteHoldsNoPlannrTokenInClear(t *testing.T) {
	path := filepath.Join(t.TempDir(), store.DefaultFileName)
	s, _, err := store.Open(context.Background(), path, storetest.Keyring(t, storetest.KeyA))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "plannr-refresh-token-in-clear-9f8e7d"
	if err := s.SavePlannrTokens(context.Background(), "u1", []byte(`{"refresh_token":"`+secret+`"}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPending(context.Background(), "p", []byte(secret), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the token in clear", filepath.Base(f))
		}
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("database file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
}

// TestSQLiteMigratesOnceFromTwoOpeners opens one file from four openers at
// once, as processes starting together would: each migration runs once.
func TestSQLiteMigratesOnceFromTwoOpeners(t *testing.T) {
	path := filepath.Join(t.TempDir(), store.DefaultFileName)
	var wg sync.WaitGroup
	applied := make([]int, 4)
	for i := range applied {
		wg.Go(func() {
			s, n, err := store.Open(context.Background(), path, storetest.Keyring(t, storetest.KeyA))
			if err != nil {
				t.Error(err)
				return
			}
			applied[i] = n
			s.Close()
		})
	}
	wg.Wait()
	total := 0
	for _, n := range applied {
		total += n
	}
	if total != store.SchemaVersion() {
		t.Errorf("migrations applied %v times in all, want %d", applied, store.SchemaVersion())
	}
}

func TestKeyring(t *testing.T) {
	if _, err := store.NewKeyring("short"); err == nil {
		t.Error("a short key was accepted")
	}
	k := storetest.Keyring(t, storetest.KeyA)
	sealed := k.Seal([]byte("x"), []byte("row-1"))
	if _, err := k.Open(sealed, []byte("row-2")); err == nil {
		t.Error("a value moved to another row opened")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open(sealed, []byte("row-1")); err == nil {
		t.Error("an altered value opened")
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:s3cret@db:5432/mcp?sslmode=require", "postgres://app:xxxxx@db:5432/mcp?sslmode=require"},
		{"postgresql://db/mcp?password=s3cret&user=app", "postgresql://db/mcp?password=xxxxx&user=app"},
		{"sqlite:/var/lib/plannr-mcp/plannr-mcp.db", "/var/lib/plannr-mcp/plannr-mcp.db"},
	}
	for _, tt := range tests {
		if got := store.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if store.Password("postgres://app:s3cret@db/mcp") != "s3cret" {
		t.Error("Password did not find the password")
	}
}
