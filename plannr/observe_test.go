package plannr_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

func TestEndpoint(t *testing.T) {
	cases := []struct{ method, path, want string }{
		{"GET", "/api/v1/oauth/connections", "GET /api/v1/oauth/connections"},
		{"PUT", "/api/v1/oauth/connections/8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c", "PUT /api/v1/oauth/connections/{uuid}"},
		{"DELETE", "/api/v1/oauth/connections/anything", "DELETE /api/v1/oauth/connections/{uuid}"},
		{"GET", "/api/v1/logins", "GET /api/v1/logins"},
		{"GET", "/api/v1/oauth/connections/a/b", plannr.EndpointOther},
		{"GET", "/api/v1/secret-" + rsUUID, plannr.EndpointOther},
		{"BREW", "/api/v1/logins", plannr.EndpointOther},
		{"GET", "/", plannr.EndpointOther},
	}
	for _, tc := range cases {
		if got := plannr.Endpoint(tc.method, tc.path); got != tc.want {
			t.Errorf("Endpoint(%q, %q) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	started  []string
	ended    []plannr.RequestOutcome
	attempts []plannr.AttemptInfo
	waits    []bool // refused, per wait
}

func (r *recorder) StartRequest(ctx context.Context, endpoint string) (context.Context, func(plannr.RequestOutcome)) {
	r.mu.Lock()
	r.started = append(r.started, endpoint)
	r.mu.Unlock()
	return ctx, func(o plannr.RequestOutcome) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ended = append(r.ended, o)
	}
}

func (r *recorder) Attempted(_ context.Context, a plannr.AttemptInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, a)
}

func (r *recorder) RateLimited(_ context.Context, _ string, _ time.Duration, refused bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, refused)
}

// TestObserverSeesAttemptsAndRetries drives a 503, a 429 and a success
// through the client: the observer hears each attempt, with its status,
// cause of retry and X-RateLimit-Remaining, and the request's outcome, under
// a route that holds no uuid.
func TestObserverSeesAttemptsAndRetries(t *testing.T) {
	rec := &recorder{}
	env := newRSEnv(t, plannr.WithObserver(rec))
	env.Fake.Inject(sandbox.Fault{Method: http.MethodPut, Path: rsConnPath, Status: http.StatusServiceUnavailable})
	env.Fake.Inject(sandbox.Fault{Method: http.MethodPut, Path: rsConnPath, Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}})
	if _, err := env.Client.RenameOAuthConnection(context.Background(), rsUUID, "Renamed"); err != nil {
		t.Fatal(err)
	}
	// A 404 is not retried, and ends the request with its status.
	if err := env.Client.DeleteOAuthConnection(context.Background(), "00000000-0000-4000-8000-000000000000"); err == nil {
		t.Fatal("deleting an unknown connection succeeded")
	}
	const put, del = "PUT /api/v1/oauth/connections/{uuid}", "DELETE /api/v1/oauth/connections/{uuid}"
	if !slices.Equal(rec.started, []string{put, del}) {
		t.Errorf("requests started: %q", rec.started)
	}
	type seen struct {
		status int
		cause  string
	}
	var got []seen
	for _, a := range rec.attempts {
		got = append(got, seen{a.Status, a.RetryCause})
		if a.Status >= 200 && a.Status < 300 && a.Remaining < 0 {
			t.Errorf("attempt %+v: the fake sends X-RateLimit-Remaining, the observer did not get it", a)
		}
	}
	want := []seen{{503, "503"}, {429, "429"}, {200, ""}, {404, ""}}
	if !slices.Equal(got, want) {
		t.Errorf("attempts (status, retry cause) = %v, want %v", got, want)
	}
	if len(rec.ended) != 2 || rec.ended[0].Attempts != 3 || rec.ended[0].Err != nil || rec.ended[0].Status != 200 ||
		rec.ended[1].Status != 404 || rec.ended[1].Err == nil {
		t.Errorf("outcomes = %+v", rec.ended)
	}
}

// TestObserverSeesRateLimitWaits holds requests back with a tight
// client-side limit and a short deadline: one wait, then one refusal.
func TestObserverSeesRateLimitWaits(t *testing.T) {
	rec := &recorder{}
	env := newRSEnv(t, plannr.WithObserver(rec),
		plannr.WithRateLimit(plannr.RateLimit{Requests: 2, Per: time.Minute, Burst: 1}),
		plannr.WithTimeout(5*time.Second))
	for range 3 {
		_, _ = env.Client.ListLogins(context.Background())
	}
	// The first goes at once; the second waits about a minute on the
	// virtual clock, longer than the call's deadline: refused.
	if !slices.Contains(rec.waits, true) {
		t.Errorf("waits (refused?) = %v, want a refusal", rec.waits)
	}
}
