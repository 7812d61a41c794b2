package plannrtest

import (
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr"
)

// Env is a fake Plannr on real HTTP and a Plannr client pointed at it,
// sharing one virtual clock: the fake client of the tests of retries, rate
// limits and what the tools make of failures.
type Env struct {
	URL    string
	Fake   *sandbox.Server
	Clock  *Clock
	Client *plannr.Client
	// Logs holds the client's log, at debug level.
	Logs *SyncBuffer
}

// RetryPolicy is the retry policy of an Env: the defaults, with an attempt
// timeout long enough that no attempt times out by accident on a loaded
// machine. Tests of hangs shorten it to HangTimeout.
func RetryPolicy() plannr.RetryPolicy {
	p := plannr.DefaultRetryPolicy()
	p.AttemptTimeout = time.Minute
	return p
}

// HangTimeout is the real attempt timeout for tests of hangs: short, so
// they stay quick, but far longer than a local request that does answer.
const HangTimeout = time.Second

// NewEnv starts a fake with the sample data and a client acting with the
// sandbox token, with RetryPolicy, no client-side rate limit and a virtual
// clock starting at start; opts come last and win.
func NewEnv(t testing.TB, start time.Time, opts ...plannr.Option) *Env {
	t.Helper()
	clock := NewClock(start)
	fake := sandbox.New(sandbox.WithClock(clock.Now), sandbox.WithRateLimit(0))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	logs := &SyncBuffer{}
	client, err := plannr.NewClient(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: sandbox.SandboxToken}), append([]plannr.Option{
		plannr.WithBaseURL(srv.URL),
		plannr.WithClock(clock),
		plannr.WithRetry(RetryPolicy()),
		plannr.WithRateLimit(plannr.RateLimit{}),
		plannr.WithLogger(logs.Logger()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{URL: srv.URL, Fake: fake, Clock: clock, Client: client, Logs: logs}
}
