package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

func sampleRecord(access, refresh string) *Record {
	now := time.Date(2026, 6, 8, 12, 0, 0, 0, time.UTC)
	return &Record{
		Version:       recordVersion,
		BaseURL:       "https://api.plannrcrm.com",
		ClientID:      "client",
		ClientSecret:  "client-secret-value",
		AccessToken:   access,
		TokenType:     "Bearer",
		RefreshToken:  refresh,
		Expiry:        now.Add(time.Hour),
		IssuedAt:      now,
		RefreshExpiry: now.Add(RefreshTokenLifetime),
		LoggedInAt:    now,
		User:          &User{Email: "adviser@harbourwealth.example", Accounts: []Account{{UUID: "a-1", Name: "Harbour Wealth", Type: "admin"}}},
	}
}

func saveLocked(t *testing.T, s *Store, rec *Record) {
	t.Helper()
	if err := s.SaveLocked(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func skipOnWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
}

func TestStoreSaveCreatesPrivateFiles(t *testing.T) {
	skipOnWindows(t)
	dir := filepath.Join(t.TempDir(), "config", "plannr-mcp")
	s := NewStore(dir, nil)
	want := sampleRecord("access-1", "refresh-1")
	saveLocked(t, s, want)

	if m := mode(t, dir); m != 0o700 {
		t.Errorf("directory mode %04o, want 0700", m)
	}
	if m := mode(t, s.Path()); m != 0o600 {
		t.Errorf("file mode %04o, want 0600", m)
	}
	if m := mode(t, filepath.Join(dir, lockFileName)); m&0o077 != 0 {
		t.Errorf("lock file mode %04o, want private", m)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != want.AccessToken || got.RefreshToken != want.RefreshToken || !got.Expiry.Equal(want.Expiry) ||
		got.ClientSecret != want.ClientSecret || got.User.Email != want.User.Email || got.User.Accounts[0] != want.User.Accounts[0] {
		t.Errorf("loaded %+v, want %+v", *got, *want)
	}
}

func TestStoreLoadWithoutLogin(t *testing.T) {
	s := NewStore(filepath.Join(t.TempDir(), "never-created"), nil)
	_, err := s.Load()
	if !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("err = %v, want ErrNotLoggedIn", err)
	}
	if _, statErr := os.Stat(s.Dir()); !errors.Is(statErr, fs.ErrNotExist) {
		t.Error("Load created the store directory; only a save should")
	}
	if s.Exists() {
		t.Error("Exists = true for an empty store")
	}
}

func TestStoreTightensLoosePermissions(t *testing.T) {
	skipOnWindows(t)
	tests := []struct {
		name     string
		fileMode fs.FileMode
		dirMode  fs.FileMode
		warning  string
	}{
		{"world-readable file", 0o644, 0o700, "the stored login was readable by other users"},
		{"group-readable file", 0o640, 0o700, "the stored login was readable by other users"},
		{"open directory", 0o600, 0o755, "the login store was open to other users"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &plannrtest.SyncBuffer{}
			s := NewStore(t.TempDir(), logs.Logger())
			saveLocked(t, s, sampleRecord("access-1", "refresh-1"))
			if err := os.Chmod(s.Path(), tt.fileMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(s.Dir(), tt.dirMode); err != nil {
				t.Fatal(err)
			}
			rec, err := s.Load()
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if rec.AccessToken != "access-1" {
				t.Errorf("loaded the wrong login")
			}
			if m := mode(t, s.Path()); m != 0o600 {
				t.Errorf("file mode after load %04o, want 0600", m)
			}
			if m := mode(t, s.Dir()); m != 0o700 {
				t.Errorf("directory mode after load %04o, want 0700", m)
			}
			out := logs.String()
			if !strings.Contains(out, tt.warning) || !strings.Contains(out, "plannr-mcp logout") {
				t.Errorf("no warning %q with advice in the log:\n%s", tt.warning, out)
			}
			assertNoSecrets(t, "the warning", out, "access-1", "refresh-1", "client-secret-value")

			logs2 := &plannrtest.SyncBuffer{}
			if _, err := NewStore(s.Dir(), logs2.Logger()).Load(); err != nil {
				t.Fatal(err)
			}
			if logs2.String() != "" {
				t.Errorf("a second load warned again:\n%s", logs2.String())
			}
		})
	}
}

func TestStoreRefusesUnsafeFiles(t *testing.T) {
	skipOnWindows(t)
	t.Run("symlink", func(t *testing.T) {
		s := NewStore(t.TempDir(), nil)
		target := filepath.Join(t.TempDir(), "elsewhere.json")
		other := NewStore(filepath.Dir(target), nil)
		saveLocked(t, other, sampleRecord("a", "r"))
		if err := os.Symlink(other.Path(), s.Path()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("err = %v, want a refusal to follow the link", err)
		}
	})
	t.Run("another user's file", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("changing a file's owner needs root")
		}
		s := NewStore(t.TempDir(), nil)
		saveLocked(t, s, sampleRecord("a", "r"))
		if err := os.Chown(s.Path(), 4242, 4242); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "belongs to another user") {
			t.Fatalf("err = %v, want a refusal", err)
		}
	})
}

func TestStoreFailedWriteKeepsThePreviousLogin(t *testing.T) {
	s := NewStore(t.TempDir(), nil)
	saveLocked(t, s, sampleRecord("access-old", "refresh-old"))
	before, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}

	// The disk fills up halfway through the new file.
	s.write = func(f *os.File, data []byte) error {
		if _, err := f.Write(data[:len(data)/2]); err != nil {
			return err
		}
		return errors.New("no space left on device")
	}
	unlock, err := s.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Save(sampleRecord("access-new", "refresh-new"))
	unlock()
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("Save = %v, want the write error", err)
	}

	after, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Fatal("the login file changed although the write failed")
	}
	rec, err := NewStore(s.Dir(), nil).Load()
	if err != nil || rec.RefreshToken != "refresh-old" {
		t.Fatalf("after a failed write Load = %v, %v; want the previous login", rec, err)
	}
	if temps, _ := filepath.Glob(filepath.Join(s.Dir(), tempPattern)); len(temps) != 0 {
		t.Errorf("temporary files left behind: %v", temps)
	}
}

func TestStoreIgnoresAndCleansACrashedWritersTempFile(t *testing.T) {
	s := NewStore(t.TempDir(), nil)
	saveLocked(t, s, sampleRecord("access-old", "refresh-old"))
	// A writer died after writing half of its temporary file.
	torn := filepath.Join(s.Dir(), ".login-crashed.tmp")
	if err := os.WriteFile(torn, []byte(`{"version":1,"access_token":"acc`), 0o600); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Load()
	if err != nil || rec.AccessToken != "access-old" {
		t.Fatalf("Load = %v, %v; want the intact login", rec, err)
	}
	saveLocked(t, s, sampleRecord("access-new", "refresh-new"))
	if _, err := os.Stat(torn); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the crashed writer's temporary file was not cleaned up")
	}
	if rec, err := s.Load(); err != nil || rec.AccessToken != "access-new" {
		t.Fatalf("Load = %v, %v; want the new login", rec, err)
	}
}

func TestStoreRejectsDamagedFiles(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"empty", "", "damaged"},
		{"torn", `{"version":1,"access_token":"secret-access-token-value","refresh_tok`, "damaged"},
		{"not JSON", "secret-access-token-value", "damaged"},
		{"wrong type", `{"version":"one"}`, "damaged"},
		{"no token", `{"version":1,"base_url":"https://api.plannrcrm.com"}`, "holds no token"},
		{"newer format", `{"version":99,"access_token":"x"}`, "newer plannr-mcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore(t.TempDir(), nil)
			if err := os.WriteFile(s.Path(), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "plannr-mcp login") && tt.want != "newer plannr-mcp" {
				t.Fatalf("err = %v, want %q and advice", err, tt.want)
			}
			assertNoSecrets(t, "the error", err.Error(), "secret-access-token-value")
		})
	}
}

func TestStoreRemove(t *testing.T) {
	s := NewStore(t.TempDir(), nil)
	if removed, err := s.Remove(); removed || err != nil {
		t.Fatalf("Remove on an empty store = %v, %v", removed, err)
	}
	saveLocked(t, s, sampleRecord("a", "r"))
	if removed, err := s.Remove(); !removed || err != nil {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	if _, err := s.Load(); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("Load after Remove = %v", err)
	}
}

func TestStoreLockExcludesOtherHolders(t *testing.T) {
	dir := t.TempDir()
	// Two stores on one directory stand for two processes: each has its
	// own lock file descriptor, and flock locks exclude each other across
	// descriptors as they do across processes.
	a, b := NewStore(dir, nil), NewStore(dir, nil)
	unlockA, err := a.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while the first is held = %v, want a deadline error", err)
	}
	unlockA()
	unlockB, err := b.Lock(context.Background())
	if err != nil {
		t.Fatalf("Lock after the first was released: %v", err)
	}
	unlockB()
}

func TestRecordNeverPrintsSecrets(t *testing.T) {
	rec := sampleRecord("access-token-value", "refresh-token-value")
	for _, format := range []string{"%v", "%+v", "%s", "%#v"} {
		out := fmt.Sprintf(format, rec)
		assertNoSecrets(t, format, out, "access-token-value", "refresh-token-value", "client-secret-value")
	}
	logs := &plannrtest.SyncBuffer{}
	logs.Logger().Info("x", "login", rec)
	assertNoSecrets(t, "the log", logs.String(), "access-token-value", "refresh-token-value", "client-secret-value")
	if !strings.Contains(logs.String(), "adviser@harbourwealth.example") {
		t.Errorf("the log does not say whose login it is: %s", logs.String())
	}
}
