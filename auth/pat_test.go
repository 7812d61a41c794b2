package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr string
	}{
		{"token with newline", write("ok", "abc.def-123\n"), "abc.def-123", ""},
		{"empty file", write("empty", "  \n"), "", "is empty"},
		{"two lines", write("two", "a\nb\n"), "", "only the token"},
		{"missing file", filepath.Join(dir, "nope"), "", "reading token file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadTokenFile(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestPersonalAccessToken(t *testing.T) {
	tok, err := PersonalAccessToken("pat-1").Token()
	if err != nil || tok.AccessToken != "pat-1" || tok.Type() != "Bearer" || !tok.Valid() {
		t.Fatalf("token %+v, %v", tok, err)
	}
}

func TestUnconfigured(t *testing.T) {
	_, err := Unconfigured("set PLANNR_TOKEN").Token()
	if !errors.Is(err, ErrNoCredential) || !strings.Contains(err.Error(), "set PLANNR_TOKEN") {
		t.Fatalf("err = %v", err)
	}
}
