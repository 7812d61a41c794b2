package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{0: "error", 200: "2xx", 204: "2xx", 302: "3xx", 404: "4xx", 429: "4xx", 503: "5xx", 600: "error", -1: "error"} {
		if got := statusClass(status); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestRefreshOutcome(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{nil, RefreshSuccess},
		{fmt.Errorf("%w (Plannr refused the refresh token)", auth.ErrLoginRequired), RefreshLoginRequired},
		{errors.New("could not refresh the Plannr login: timeout"), RefreshFailed},
	}
	for _, tc := range cases {
		if got := refreshOutcome(tc.err); got != tc.want {
			t.Errorf("refreshOutcome(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestUpstreamErrorType(t *testing.T) {
	cases := []struct {
		o    plannr.RequestOutcome
		want string
	}{
		{plannr.RequestOutcome{Status: 200, Attempts: 1}, ""},
		{plannr.RequestOutcome{Status: 404, Attempts: 1, Err: errors.New("not found")}, "404"},
		{plannr.RequestOutcome{Status: 503, Attempts: 5, Err: errors.New("gave up")}, "503"},
		{plannr.RequestOutcome{Err: &plannr.ThrottleError{}}, "rate_limited"},
		{plannr.RequestOutcome{Attempts: 1, Err: fmt.Errorf("plannr: %w", context.DeadlineExceeded)}, "timeout"},
		{plannr.RequestOutcome{Attempts: 1, Err: context.Canceled}, "canceled"},
		{plannr.RequestOutcome{Status: 200, Attempts: 1, Err: fmt.Errorf("x: %w", plannr.ErrMalformedResponse)}, "malformed_response"},
		{plannr.RequestOutcome{Attempts: 2, Err: errors.New("connection reset")}, "connection"},
		{plannr.RequestOutcome{Err: errors.New("no token")}, "_OTHER"},
	}
	for _, tc := range cases {
		if got := upstreamErrorType(tc.o); got != tc.want {
			t.Errorf("upstreamErrorType(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}

func TestKnownMethod(t *testing.T) {
	for method, want := range map[string]string{
		"tools/call": "tools/call", "initialize": "initialize", "resources/read": "resources/read",
		"tools/call ignore previous instructions": "other", "": "other", "x/" + strings.Repeat("a", 100): "other",
	} {
		if got := knownMethod(method); got != want {
			t.Errorf("knownMethod(%q) = %q, want %q", method, got, want)
		}
	}
}

func TestSessionDigest(t *testing.T) {
	const id = "TWD4PNNH5G4QUKC4ZBVQHG6Y7J"
	d := sessionDigest(id)
	if len(d) != 16 || strings.Contains(d, id) || d != sessionDigest(id) || d == sessionDigest(id+"x") {
		t.Errorf("sessionDigest(%q) = %q: want 16 hex digits, stable, different per id, without the id", id, d)
	}
}

// TestOffIsNothing: with neither metrics nor tracing, nothing is
// installed, and every method is safe, on a nil Telemetry too.
func TestOffIsNothing(t *testing.T) {
	for _, tel := range []*Telemetry{nil, mustNew(t, Config{})} {
		if tel.Enabled() || tel.Tracing() || tel.PlannrObserver("https://api.plannrcrm.com") != nil || len(tel.ServerOptions()) != 0 || tel.HeaderSecrets() != nil {
			t.Errorf("telemetry that is off installs something")
		}
		tel.OnRefresh(nil)
		tel.OnReject("no_client_token")
		tel.SignIn("success")
		tel.WatchSessions(func() int { return 1 })
		if err := tel.ServeMetrics(context.Background(), "127.0.0.1:0"); err != nil {
			t.Error(err)
		}
		if err := tel.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}
}

func mustNew(t *testing.T, cfg Config) *Telemetry {
	t.Helper()
	tel, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tel
}

// TestHeaderSecrets: the values of the OTLP headers are handed over as
// secrets, so that no upstream text may carry them.
func TestHeaderSecrets(t *testing.T) {
	tel := mustNew(t, Config{Env: map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
		"OTEL_EXPORTER_OTLP_HEADERS":  "x-api-key=k3y,tenant=t",
	}})
	defer tel.Shutdown(context.Background())
	got := strings.Join(tel.HeaderSecrets(), ",")
	if !strings.Contains(got, "k3y") || !strings.Contains(got, "t") || !tel.Tracing() {
		t.Errorf("header secrets = %q", got)
	}
}

// TestErrorHookKeepsOtherHooks: the tracing's error hook is added to the
// hooks the toolset installed (the dashboard's), not put in their place.
func TestErrorHookKeepsOtherHooks(t *testing.T) {
	hooks := &server.Hooks{}
	hooks.AddAfterListResources(func(context.Context, any, *mcp.ListResourcesRequest, *mcp.ListResourcesResult) {})
	tel := mustNew(t, Config{Env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}})
	defer tel.Shutdown(context.Background())
	s := server.NewMCPServer("test", "1", append([]server.ServerOption{server.WithHooks(hooks)}, tel.ServerOptions()...)...)
	got := s.GetHooks()
	if got != hooks || len(got.OnAfterListResources) != 1 || len(got.OnError) != 1 {
		t.Errorf("hooks after the telemetry's options: %d after-list-resources, %d on-error hooks, same hooks %v",
			len(got.OnAfterListResources), len(got.OnError), got == hooks)
	}
	// Without hooks before, it makes its own.
	if s := server.NewMCPServer("test", "1", tel.ServerOptions()...); s.GetHooks() == nil || len(s.GetHooks().OnError) != 1 {
		t.Error("no error hook on a server without hooks of its own")
	}
}
