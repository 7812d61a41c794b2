// Package plannrtest holds test helpers shared by the packages' tests:
// clocks, a synchronised buffer, an HTTP transport that presents a bearer
// token, and checks of a client's waits. It is never linked into the
// binary; the fake Plannr itself is package sandbox.
package plannrtest

import (
	"bytes"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer safe for a process's stderr, a logger and a
// test to share.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Logger returns a text logger at debug level that writes to s.
func (s *SyncBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Bearer is an HTTP transport that sends Token as a bearer token with
// every request, as an MCP client configured with a client token does.
type Bearer struct {
	Token string
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip sends a copy of r with the Authorization header set.
func (b Bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	base := b.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if b.Token == "" {
		return base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.Token)
	return base.RoundTrip(r)
}

// WaitCheck judges one wait a client made.
type WaitCheck func(time.Duration) bool

// Between accepts a jittered wait: half to all of ceiling.
func Between(ceiling time.Duration) WaitCheck {
	return func(d time.Duration) bool { return d >= ceiling/2 && d <= ceiling }
}

// Exactly accepts a wait of want, such as one Plannr asked for.
func Exactly(want time.Duration) WaitCheck {
	return func(d time.Duration) bool { return d == want }
}

// CheckWaits fails t unless got has one wait for each check, each passing it.
func CheckWaits(t testing.TB, got []time.Duration, checks []WaitCheck) {
	t.Helper()
	if len(got) != len(checks) {
		t.Fatalf("waits = %v, want %d of them", got, len(checks))
	}
	for i, ok := range checks {
		if !ok(got[i]) {
			t.Errorf("wait %d = %s, out of range (all: %v)", i+1, got[i], got)
		}
	}
}
