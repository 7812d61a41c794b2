package plannr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

func TestRateLimiterHoldsConcurrentCallsToTheLimit(t *testing.T) {
	for _, perSecond := range []int{1, 5, 20} {
		t.Run(fmt.Sprintf("%d per second", perSecond), func(t *testing.T) {
			const calls = 50
			// guard bounds the test in real time; the calls' own deadline
			// must lie past the virtual minute the slowest case needs.
			guard, stop := context.WithTimeout(t.Context(), 30*time.Second)
			defer stop()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
			defer cancel()
			clock := plannrtest.NewStepClock(time.Now())
			fake := sandbox.New(sandbox.WithClock(clock.Now), sandbox.WithRateLimit(0))
			var mu sync.Mutex
			var stamps []time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				stamps = append(stamps, clock.Now())
				mu.Unlock()
				fake.ServeHTTP(w, r)
			}))
			defer srv.Close()
			client, err := plannr.NewClient(auth.PersonalAccessToken(sandbox.SandboxToken),
				plannr.WithBaseURL(srv.URL),
				plannr.WithClock(clock),
				plannr.WithRateLimit(plannr.RateLimit{Requests: perSecond, Per: time.Second}),
				plannr.WithTimeout(0))
			if err != nil {
				t.Fatal(err)
			}

			var done atomic.Int32
			errs := make(chan error, calls)
			for range calls {
				go func() {
					_, err := client.ListOAuthConnections(ctx)
					errs <- err
					done.Add(1)
					clock.Note()
				}()
			}
			// Move time on only when every call is either waiting for the
			// limiter or finished, so that nothing is in flight and each
			// request reaches the fake at the time the limiter let it go.
			for int(done.Load()) < calls {
				if err := clock.WaitFor(guard, func() bool { return clock.Sleeping()+int(done.Load()) == calls }); err != nil {
					t.Fatalf("calls stuck: %d done, %d waiting", done.Load(), clock.Sleeping())
				}
				clock.Step()
			}
			for range calls {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}

			mu.Lock()
			defer mu.Unlock()
			if len(stamps) != calls {
				t.Fatalf("the fake saw %d requests, want %d", len(stamps), calls)
			}
			slices.SortFunc(stamps, func(a, b time.Time) int { return a.Compare(b) })
			busiest := 0
			for i, from := range stamps {
				n := 0
				for _, at := range stamps[i:] {
					if at.Sub(from) < time.Second {
						n++
					}
				}
				busiest = max(busiest, n)
			}
			if busiest > perSecond {
				t.Errorf("the fake saw %d requests within one second, over the limit of %d", busiest, perSecond)
			}
			// The limiter must have paced the calls, not just let them through.
			if span := stamps[len(stamps)-1].Sub(stamps[0]); span < time.Duration(calls/perSecond-1)*time.Second {
				t.Errorf("50 calls took %s of virtual time; the limiter did not pace them", span)
			}
		})
	}
}

func TestRateLimiterSlowsDownWhenPlannrRunsLow(t *testing.T) {
	// The fake allows 20 requests per whole minute; the client's own
	// limiter allows 500, so only the fake's X-RateLimit-Remaining can keep
	// it from running into a 429.
	clock := plannrtest.NewClock(time.Now().Truncate(time.Minute))
	fake := sandbox.New(sandbox.WithClock(clock.Now), sandbox.WithRateLimit(20))
	srv := httptest.NewServer(fake)
	defer srv.Close()
	client, err := plannr.NewClient(auth.PersonalAccessToken(sandbox.SandboxToken),
		plannr.WithBaseURL(srv.URL),
		plannr.WithClock(clock),
		plannr.WithRetry(plannr.RetryPolicy{}), // a 429 would fail the call
		plannr.WithRateLimit(plannr.DefaultRateLimit()),
		plannr.WithTimeout(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	const calls = 25
	for i := range calls {
		if _, err := client.ListOAuthConnections(t.Context()); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if n := fake.Count("GET", rsListPath); n != calls {
		t.Errorf("the fake saw %d requests, want %d", n, calls)
	}
	if elapsed := clock.Now().Sub(start); elapsed < time.Minute {
		t.Errorf("25 calls took %s; to avoid a 429 they had to spill into the next minute", elapsed)
	}
	longest := slices.Max(clock.Sleeps())
	if longest < 20*time.Second {
		t.Errorf("longest wait = %s; the limiter did not slow down as the budget ran out (waits %v)", longest, clock.Sleeps())
	}
	// Once the new minute shows room again, the configured pace returns:
	// the last calls wait no longer than the default pace (about 122 ms).
	sleeps := clock.Sleeps()
	if last := sleeps[len(sleeps)-1]; last > time.Second {
		t.Errorf("last wait = %s; the limiter did not return to its normal pace", last)
	}
}

func TestClientsWithOneCredentialShareALimiter(t *testing.T) {
	env := newRSEnv(t)
	shared := plannr.NewRateLimiter(plannr.RateLimit{Requests: 4, Per: time.Minute, Burst: 1})
	newClient := func() *plannr.Client {
		c, err := plannr.NewClient(auth.PersonalAccessToken(sandbox.SandboxToken),
			plannr.WithBaseURL(env.URL), plannr.WithClock(env.Clock), plannr.WithRateLimiter(shared))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := newClient(), newClient()
	if _, err := a.ListOAuthConnections(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ListOAuthConnections(t.Context()); err != nil {
		t.Fatal(err)
	}
	sleeps := env.Clock.Sleeps()
	if len(sleeps) != 1 || sleeps[0] < 10*time.Second {
		t.Errorf("waits = %v, want one of over 10s: the second client takes its slot from the same budget", sleeps)
	}
}

func TestA429HoldsBackEveryClientSharingTheLimiter(t *testing.T) {
	env := newRSEnv(t)
	shared := plannr.NewRateLimiter(plannr.DefaultRateLimit())
	newClient := func(opts ...plannr.Option) *plannr.Client {
		c, err := plannr.NewClient(auth.PersonalAccessToken(sandbox.SandboxToken),
			append([]plannr.Option{plannr.WithBaseURL(env.URL), plannr.WithClock(env.Clock), plannr.WithRateLimiter(shared)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := newClient(plannr.WithRetry(plannr.RetryPolicy{})), newClient()
	env.Fake.Inject(sandbox.Fault{Method: "GET", Path: rsListPath, Status: 429,
		Body: `{"message":"Too Many Attempts."}`, Header: http.Header{"Retry-After": {"10"}}})

	_, err := a.ListOAuthConnections(t.Context())
	var rl *plannr.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("error = %v, want a RateLimitError", err)
	}
	if _, err := b.ListOAuthConnections(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sleeps := env.Clock.Sleeps(); !slices.Equal(sleeps, []time.Duration{10 * time.Second}) {
		t.Errorf("waits = %v, want [10s]: the other client waits out the 429 too", sleeps)
	}
	if n := env.Fake.Count("GET", rsListPath); n != 2 {
		t.Errorf("the fake saw %d requests, want 2", n)
	}
}

func TestLimiterWaitPastTheDeadlineIsRefused(t *testing.T) {
	env := newRSEnv(t, plannr.WithRateLimit(plannr.RateLimit{Requests: 1, Per: time.Minute}), plannr.WithTimeout(30*time.Second))
	if _, err := env.Client.ListOAuthConnections(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, err := env.Client.ListOAuthConnections(t.Context())
	var te *plannr.ThrottleError
	if !errors.As(err, &te) || te.Wait < 30*time.Second {
		t.Fatalf("error = %v, want a ThrottleError with a wait past the 30s deadline", err)
	}
	if n := env.Fake.Count("GET", rsListPath); n != 1 {
		t.Errorf("the fake saw %d requests, want 1: a throttled request is never sent", n)
	}
	if s := env.Clock.Sleeps(); len(s) != 0 {
		t.Errorf("waits = %v, want none", s)
	}
}

func TestNewRateLimiterOff(t *testing.T) {
	if l := plannr.NewRateLimiter(plannr.RateLimit{}); l != nil {
		t.Errorf("NewRateLimiter(RateLimit{}) = %v, want nil (off)", l)
	}
	env := newRSEnv(t, plannr.WithRateLimit(plannr.RateLimit{}))
	for range 30 {
		if _, err := env.Client.ListOAuthConnections(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if s := env.Clock.Sleeps(); len(s) != 0 {
		t.Errorf("waits = %v, want none with the limiter off", s)
	}
}

func TestA429WithRetryAfterOutranksARemainingOfZero(t *testing.T) {
	// Plannr's 429 carries X-RateLimit-Remaining: 0, which alone would make
	// the limiter spread nothing over a whole minute; its Retry-After says
	// the limit lifts sooner, and that is what the client must wait for.
	env := newRSEnv(t, plannr.WithRateLimit(plannr.RateLimit{Requests: 500, Per: time.Minute, Burst: 1}))
	env.Fake.Inject(sandbox.Fault{Method: "GET", Path: rsListPath, Status: 429, Body: `{"message":"Too Many Attempts."}`,
		Header: http.Header{"Retry-After": {"10"}, "X-Ratelimit-Limit": {"500"}, "X-Ratelimit-Remaining": {"0"}}})

	if _, err := env.Client.ListOAuthConnections(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sleeps := env.Clock.Sleeps(); !slices.Equal(sleeps, []time.Duration{10 * time.Second}) {
		t.Errorf("waits = %v, want [10s]", sleeps)
	}
	if n := env.Fake.Count("GET", rsListPath); n != 2 {
		t.Errorf("the fake saw %d requests, want 2", n)
	}
}
