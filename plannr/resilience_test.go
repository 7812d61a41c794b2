package plannr_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

const (
	rsListPath = "/api/v1/oauth/connections"
	rsUUID     = "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c"
	rsConnPath = rsListPath + "/" + rsUUID
)

// newRSEnv is plannrtest.NewEnv starting now, to the second.
func newRSEnv(t *testing.T, opts ...plannr.Option) *plannrtest.Env {
	t.Helper()
	return plannrtest.NewEnv(t, time.Now().Truncate(time.Second), opts...)
}

func TestFaultsAreRetriedOrReported(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	list := func(ctx context.Context, c *plannr.Client) error {
		conns, err := c.ListOAuthConnections(ctx)
		if err == nil && len(conns) != 6 {
			return errors.New("list did not return the 6 sample connections")
		}
		return err
	}
	rename := func(label string) func(context.Context, *plannr.Client) error {
		return func(ctx context.Context, c *plannr.Client) error {
			conn, err := c.RenameOAuthConnection(ctx, rsUUID, label)
			if err == nil && conn.Label != label {
				return errors.New("rename answered with label " + conn.Label)
			}
			return err
		}
	}
	del := func(ctx context.Context, c *plannr.Client) error { return c.DeleteOAuthConnection(ctx, rsUUID) }

	isRetryError := func(attempts int) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			var re *plannr.RetryError
			if !errors.As(err, &re) || re.Attempts != attempts {
				t.Fatalf("error = %v, want a *RetryError after %d attempts", err, attempts)
			}
		}
	}
	apiError := func(status int, message string) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			var e *plannr.ErrorResponse
			if !errors.As(err, &e) || e.StatusCode != status || !strings.Contains(e.Message, message) {
				t.Fatalf("error = %v, want an ErrorResponse %d with message containing %q", err, status, message)
			}
		}
	}
	both := func(checks ...func(*testing.T, error)) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			for _, c := range checks {
				c(t, err)
			}
		}
	}
	retryAfter := func(s string) http.Header { return http.Header{"Retry-After": {s}} }
	html502 := "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"

	tests := []struct {
		name   string
		fault  sandbox.Fault
		policy func(*plannr.RetryPolicy)
		call   func(context.Context, *plannr.Client) error
		method string
		path   string
		// attempts is how many requests the fake must see.
		attempts int
		// waits checks each wait the client made, in order.
		waits []plannrtest.WaitCheck
		// check examines the error; nil means the call must succeed.
		check func(*testing.T, error)
		// abandoned is how many hung requests the fake must see the client give up on.
		abandoned int
	}{
		{
			name:  "429 with Retry-After in seconds",
			fault: sandbox.Fault{Status: 429, Body: `{"message":"Too Many Attempts."}`, Header: retryAfter("3")},
			call:  list, method: "GET", path: rsListPath, attempts: 2,
			waits: []plannrtest.WaitCheck{plannrtest.Exactly(3 * time.Second)},
		},
		{
			name:  "429 with Retry-After as an HTTP date",
			fault: sandbox.Fault{Status: 429, Body: `{"message":"Too Many Attempts."}`, Header: retryAfter(start.Add(4 * time.Second).UTC().Format(http.TimeFormat))},
			call:  list, method: "GET", path: rsListPath, attempts: 2,
			waits: []plannrtest.WaitCheck{plannrtest.Exactly(4 * time.Second)},
		},
		{
			name: "429 with only X-RateLimit-Reset",
			fault: sandbox.Fault{Status: 429, Body: `{"message":"Too Many Attempts."}`,
				Header: http.Header{"X-Ratelimit-Reset": {strconv.FormatInt(start.Add(7*time.Second).Unix(), 10)}}},
			call: list, method: "GET", path: rsListPath, attempts: 2,
			waits: []plannrtest.WaitCheck{plannrtest.Exactly(7 * time.Second)},
		},
		{
			name:  "429 that never lifts",
			fault: sandbox.Fault{Status: 429, Body: `{"message":"Too Many Attempts."}`, Header: retryAfter("5"), Times: 100},
			call:  list, method: "GET", path: rsListPath, attempts: 5,
			waits: []plannrtest.WaitCheck{plannrtest.Exactly(5 * time.Second), plannrtest.Exactly(5 * time.Second), plannrtest.Exactly(5 * time.Second), plannrtest.Exactly(5 * time.Second)},
			check: both(isRetryError(5), func(t *testing.T, err error) {
				var re *plannr.RetryError
				var rl *plannr.RateLimitError
				if errors.As(err, &re); re.Elapsed != 20*time.Second {
					t.Errorf("Elapsed = %s, want 20s", re.Elapsed)
				}
				if !errors.As(err, &rl) || rl.RetryAfter != 5*time.Second || rl.StatusCode != 429 {
					t.Errorf("error = %v, want a RateLimitError asking for 5s", err)
				}
			}),
		},
		{
			name:  "503 then success",
			fault: sandbox.Fault{Status: 503, Body: `{"message":"Service Unavailable"}`},
			call:  list, method: "GET", path: rsListPath, attempts: 2,
			waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
		},
		{
			name:  "503 with Retry-After",
			fault: sandbox.Fault{Status: 503, Body: `{"message":"Down for maintenance"}`, Header: retryAfter("2")},
			call:  list, method: "GET", path: rsListPath, attempts: 2,
			waits: []plannrtest.WaitCheck{plannrtest.Exactly(2 * time.Second)},
		},
		{
			name:  "504 then success",
			fault: sandbox.Fault{Status: 504, Body: ``, ContentType: "text/plain"},
			call:  list, method: "GET", path: rsListPath, attempts: 2,
			waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
		},
		{
			name:  "HTML 502 that persists",
			fault: sandbox.Fault{Status: 502, Body: html502, ContentType: "text/html", Times: 100},
			call:  list, method: "GET", path: rsListPath, attempts: 5,
			waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond), plannrtest.Between(time.Second), plannrtest.Between(2 * time.Second), plannrtest.Between(4 * time.Second)},
			check: both(isRetryError(5), apiError(502, "HTML page")),
		},
		{
			name:  "connection reset then success",
			fault: sandbox.Fault{Reset: true},
			call:  list, method: "GET", path: rsListPath, attempts: 2,
			waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
		},
		{
			name:   "connection reset that persists",
			fault:  sandbox.Fault{Reset: true, Times: 100},
			policy: func(p *plannr.RetryPolicy) { p.MaxRetries = 2 },
			call:   list, method: "GET", path: rsListPath, attempts: 3,
			waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond), plannrtest.Between(time.Second)},
			check: isRetryError(3),
		},
		{
			name:   "hang past the attempt timeout then success",
			fault:  sandbox.Fault{Hang: true},
			policy: func(p *plannr.RetryPolicy) { p.AttemptTimeout = plannrtest.HangTimeout },
			call:   list, method: "GET", path: rsListPath, attempts: 2, abandoned: 1,
			waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
		},
		{
			name:   "hang that persists",
			fault:  sandbox.Fault{Hang: true, Times: 100},
			policy: func(p *plannr.RetryPolicy) { p.MaxRetries, p.AttemptTimeout = 1, plannrtest.HangTimeout },
			call:   list, method: "GET", path: rsListPath, attempts: 2, abandoned: 2,
			waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
			check: both(isRetryError(2), func(t *testing.T, err error) {
				var te *plannr.AttemptTimeoutError
				if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &te) {
					t.Errorf("error = %v, want an AttemptTimeoutError matching context.DeadlineExceeded", err)
				}
			}),
		},
		{
			name:  "truncated JSON body then success",
			fault: sandbox.Fault{Truncate: true, Body: `{"data":[{"uuid":"8ef67ca5-483a`},
			call:  list, method: "GET", path: rsListPath, attempts: 2,
			waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
		},
		{
			name:  "empty 500 body is not retried",
			fault: sandbox.Fault{Status: 500, Body: ""},
			call:  list, method: "GET", path: rsListPath, attempts: 1,
			check: apiError(500, ""),
		},
		{
			name:  "cut JSON with a matching length is not retried",
			fault: sandbox.Fault{Status: 200, Body: `{"data":[{"uuid":"8ef6`},
			call:  list, method: "GET", path: rsListPath, attempts: 1,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, plannr.ErrMalformedResponse) {
					t.Fatalf("error = %v, want ErrMalformedResponse", err)
				}
			},
		},
		{
			name:  "oversized body is an error, not retried",
			fault: sandbox.Fault{Body: `{"data":[]}`, Size: plannr.DefaultMaxResponseBytes + 1},
			call:  list, method: "GET", path: rsListPath, attempts: 1,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, plannr.ErrResponseTooLarge) {
					t.Fatalf("error = %v, want ErrResponseTooLarge", err)
				}
			},
		},
		{
			name:  "404 is not retried",
			fault: sandbox.Fault{Status: 404, Body: `{"message":"Not Found"}`},
			call:  list, method: "GET", path: rsListPath, attempts: 1,
			check: apiError(404, "Not Found"),
		},
		{
			name: "422 on rename is not retried",
			fault: sandbox.Fault{Status: 422, Times: 100,
				Body: `{"message":"The label field is required.","errors":{"label":["The label field is required."]}}`},
			call: rename("New label"), method: "PUT", path: rsConnPath, attempts: 1,
			check: apiError(422, "label field is required"),
		},
		{
			name:  "rename 503 then success",
			fault: sandbox.Fault{Status: 503, Body: `{"message":"Service Unavailable"}`},
			call:  rename("Fundment (main)"), method: "PUT", path: rsConnPath, attempts: 2,
			waits: []plannrtest.WaitCheck{plannrtest.Between(500 * time.Millisecond)},
		},
		{
			name:  "delete 503 is not retried",
			fault: sandbox.Fault{Status: 503, Body: `{"message":"Service Unavailable"}`},
			call:  del, method: "DELETE", path: rsConnPath, attempts: 1,
			check: apiError(503, "Service Unavailable"),
		},
		{
			name:  "delete 429 is retried",
			fault: sandbox.Fault{Status: 429, Body: `{"message":"Too Many Attempts."}`, Header: retryAfter("1")},
			call:  del, method: "DELETE", path: rsConnPath, attempts: 2,
			waits: []plannrtest.WaitCheck{plannrtest.Exactly(time.Second)},
		},
		{
			name:   "retries off",
			fault:  sandbox.Fault{Status: 503, Body: `{"message":"Service Unavailable"}`},
			policy: func(p *plannr.RetryPolicy) { p.MaxRetries = 0 },
			call:   list, method: "GET", path: rsListPath, attempts: 1,
			check: func(t *testing.T, err error) {
				var re *plannr.RetryError
				if errors.As(err, &re) {
					t.Errorf("error = %v, want no RetryError when nothing was retried", err)
				}
				apiError(503, "Service Unavailable")(t, err)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			policy := plannrtest.RetryPolicy()
			if tt.policy != nil {
				tt.policy(&policy)
			}
			env := plannrtest.NewEnv(t, start, plannr.WithRetry(policy))
			fault := tt.fault
			fault.Method, fault.Path = tt.method, tt.path
			env.Fake.Inject(fault)

			err := tt.call(t.Context(), env.Client)

			if tt.check == nil && err != nil {
				t.Fatalf("call failed: %v", err)
			}
			if tt.check != nil {
				if err == nil {
					t.Fatal("call succeeded, want an error")
				}
				tt.check(t, err)
			}
			if got := env.Fake.Count(tt.method, tt.path); got != tt.attempts {
				t.Errorf("the fake saw %d attempts, want %d", got, tt.attempts)
			}
			plannrtest.CheckWaits(t, env.Clock.Sleeps(), tt.waits)
			if tt.abandoned > 0 {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				if err := env.Fake.Wait(ctx, func() bool { return len(env.Fake.Abandoned()) == tt.abandoned }); err != nil {
					t.Errorf("the fake saw %d hung requests abandoned, want %d", len(env.Fake.Abandoned()), tt.abandoned)
				}
			}
		})
	}
}

func TestRetriedRenameChangesTheStoreOnce(t *testing.T) {
	env := newRSEnv(t)
	env.Fake.Inject(sandbox.Fault{Method: "PUT", Path: rsConnPath, Status: 503, Body: `{"message":"Service Unavailable"}`})

	conn, err := env.Client.RenameOAuthConnection(t.Context(), rsUUID, "Fundment (main)")
	if err != nil {
		t.Fatal(err)
	}
	if conn.Label != "Fundment (main)" {
		t.Errorf("answer's label = %q", conn.Label)
	}
	if n := env.Fake.Changes(rsUUID); n != 1 {
		t.Errorf("the fake's store changed %d times, want exactly 1", n)
	}
	if rec, _ := env.Fake.Connection(rsUUID); rec.Label != "Fundment (main)" {
		t.Errorf("stored label = %q", rec.Label)
	}
	reqs := env.Fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("the fake saw %d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		if string(r.Body) != `{"label":"Fundment (main)"}` {
			t.Errorf("attempt %d sent body %q; a retry must send the same body", i+1, r.Body)
		}
		if r.Header.Get("Authorization") != "Bearer "+sandbox.SandboxToken {
			t.Errorf("attempt %d sent no bearer token", i+1)
		}
	}
}

func TestRenameRejectedWith422IsSentOnce(t *testing.T) {
	env := newRSEnv(t)
	// The fake's own validation answers 422 for a blank label.
	_, err := env.Client.RenameOAuthConnection(t.Context(), rsUUID, "   ")
	var e *plannr.ErrorResponse
	if !errors.As(err, &e) || e.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("error = %v, want a 422", err)
	}
	if n := env.Fake.Count("PUT", rsConnPath); n != 1 {
		t.Errorf("the fake saw %d renames, want 1: a 422 is never retried", n)
	}
	if n := env.Fake.Changes(rsUUID); n != 0 {
		t.Errorf("the store changed %d times, want 0", n)
	}
	if len(env.Clock.Sleeps()) != 0 {
		t.Errorf("waits = %v, want none", env.Clock.Sleeps())
	}
}

func TestRetryAfterPastTheDeadlineIsNotWaited(t *testing.T) {
	env := newRSEnv(t, plannr.WithTimeout(30*time.Second))
	env.Fake.Inject(sandbox.Fault{Method: "GET", Path: rsListPath, Status: 429,
		Body: `{"message":"Too Many Attempts."}`, Header: http.Header{"Retry-After": {"120"}}})

	_, err := env.Client.ListOAuthConnections(t.Context())
	var rl *plannr.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Minute {
		t.Fatalf("error = %v, want a RateLimitError asking for 2m", err)
	}
	var re *plannr.RetryError
	if errors.As(err, &re) {
		t.Errorf("error = %v: nothing was retried, so it must not be a RetryError", err)
	}
	if n := env.Fake.Count("GET", rsListPath); n != 1 {
		t.Errorf("the fake saw %d attempts, want 1", n)
	}
	if s := env.Clock.Sleeps(); len(s) != 0 {
		t.Errorf("waits = %v, want none", s)
	}
}

func TestCancelStopsTheUpstreamRequest(t *testing.T) {
	env := newRSEnv(t, plannr.WithRetry(plannr.DefaultRetryPolicy()))
	env.Fake.Inject(sandbox.Fault{Method: "GET", Path: rsListPath, Hang: true})
	guard, stop := context.WithTimeout(t.Context(), 5*time.Second)
	defer stop()

	ctx, cancel := context.WithCancel(guard)
	done := make(chan error, 1)
	go func() {
		_, err := env.Client.ListOAuthConnections(ctx)
		done <- err
	}()
	if err := env.Fake.Wait(guard, func() bool { return env.Fake.Count("GET", rsListPath) == 1 }); err != nil {
		t.Fatal("the request never reached the fake")
	}
	cancel()
	awaitCancelled(t, done, guard)
	if err := env.Fake.Wait(guard, func() bool { return len(env.Fake.Abandoned()) == 1 }); err != nil {
		t.Fatal("the fake never saw the client go away")
	}
	if n := env.Fake.Count("GET", rsListPath); n != 1 {
		t.Errorf("the fake saw %d attempts, want 1: a cancelled call is not retried", n)
	}
}

func TestCancelDuringABackoffWait(t *testing.T) {
	clock := plannrtest.NewStepClock(time.Now())
	env := newRSEnv(t, plannr.WithClock(clock))
	env.Fake.Inject(sandbox.Fault{Method: "GET", Path: rsListPath, Status: 503, Body: `{"message":"Service Unavailable"}`, Times: 100})
	guard, stop := context.WithTimeout(t.Context(), 5*time.Second)
	defer stop()

	ctx, cancel := context.WithCancel(guard)
	done := make(chan error, 1)
	go func() {
		_, err := env.Client.ListOAuthConnections(ctx)
		done <- err
	}()
	if err := clock.WaitFor(guard, func() bool { return clock.Sleeping() == 1 }); err != nil {
		t.Fatal("the client never started waiting to retry")
	}
	cancel()
	awaitCancelled(t, done, guard)
	if n := env.Fake.Count("GET", rsListPath); n != 1 {
		t.Errorf("the fake saw %d attempts, want 1", n)
	}
}

func TestLogsRecordAttemptsButNoSecrets(t *testing.T) {
	env := newRSEnv(t)
	env.Fake.Inject(sandbox.Fault{Method: "PUT", Path: rsConnPath, Status: 503, Body: `{"message":"Service Unavailable"}`})
	const label = "Secret-ish label 12345"
	if _, err := env.Client.RenameOAuthConnection(t.Context(), rsUUID, label); err != nil {
		t.Fatal(err)
	}
	logs := env.Logs.String()
	wait := env.Clock.Sleeps()[0]
	for _, want := range []string{
		"method=PUT", "path=" + rsConnPath, "attempt=1", "status=503", "wait=" + wait.String(), "attempt=2", "status=200",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	for _, secret := range []string{sandbox.SandboxToken, label, "Bearer"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

func TestWithRetryRejectsNegativeValues(t *testing.T) {
	_, err := plannr.NewClient(auth.PersonalAccessToken("x"), plannr.WithRetry(plannr.RetryPolicy{MaxRetries: -1}))
	if err == nil {
		t.Fatal("NewClient accepted a negative MaxRetries")
	}
}

func TestAHangPastTheCallTimeoutWithoutRetries(t *testing.T) {
	env := newRSEnv(t, plannr.WithRetry(plannr.RetryPolicy{MaxRetries: 3}), plannr.WithTimeout(300*time.Millisecond))
	env.Fake.Inject(sandbox.Fault{Method: "GET", Path: rsListPath, Hang: true})

	_, err := env.Client.ListOAuthConnections(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want context.DeadlineExceeded", err)
	}
	var re *plannr.RetryError
	if errors.As(err, &re) {
		t.Errorf("error = %v: the only attempt ran out the call's time, so nothing was retried", err)
	}
	if n := env.Fake.Count("GET", rsListPath); n != 1 {
		t.Errorf("the fake saw %d attempts, want 1", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := env.Fake.Wait(ctx, func() bool { return len(env.Fake.Abandoned()) == 1 }); err != nil {
		t.Error("the fake never saw the client give up on the hung request")
	}
}

// awaitCancelled fails t unless the call reporting on done ends with
// context.Canceled before guard ends.
func awaitCancelled(t *testing.T, done <-chan error, guard context.Context) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	case <-guard.Done():
		t.Fatal("the call did not return after its context was cancelled")
	}
}
