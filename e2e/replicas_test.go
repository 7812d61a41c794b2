package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// kill ends the process with SIGKILL, as a crash or the OOM killer would.
func (p *httpProcess) kill(t testing.TB) {
	t.Helper()
	p.killed = true
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

// roundRobin is a load balancer in front of replicas: each request goes
// to the next one, and it counts what each served.
type roundRobin struct {
	backends []*url.URL
	next     atomic.Int64
	mu       sync.Mutex
	served   map[string]int // backend host -> MCP requests
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := rr.backends[int(rr.next.Add(1)-1)%len(rr.backends)]
	if r.URL.Path == "/mcp" {
		rr.mu.Lock()
		rr.served[target.Host]++
		rr.mu.Unlock()
	}
	(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}}).ServeHTTP(w, r)
}

// TestReplicasOnOnePostgres runs two replicas on one PostgreSQL behind a
// round-robin proxy. A person signs in through it (each step of the flow
// lands on the other replica), and the client's calls alternate. Plannr's
// access tokens last three seconds: when one expires, both replicas are
// called at the same moment and must refresh the person's Plannr login
// once between them, each refresh token used exactly once. Then a replica
// is killed with SIGKILL in the middle of a refresh, and the other one
// still refreshes the same person's login.
func TestReplicasOnOnePostgres(t *testing.T) {
	pg := plannrtest.StartPostgres(t)
	rr := &roundRobin{served: map[string]int{}}
	front := httptest.NewServer(rr)
	t.Cleanup(front.Close)
	const lifetime = 3 * time.Second
	fake := sandbox.New(append(sandbox.DemoOptions(front.URL+"/oauth/plannr/callback"), sandbox.WithTokenLifetimes(lifetime, 0))...)
	upstream := httptest.NewServer(fake)
	t.Cleanup(upstream.Close)
	env := append(baseEnv(t), "PLANNR_BASE_URL="+upstream.URL, "PLANNR_CLIENT_ID="+sandbox.DemoClientID, "PLANNR_CLIENT_SECRET="+sandbox.DemoClientSecret,
		"PLANNR_MCP_STORE="+pg.NewDatabase(t), "PLANNR_MCP_STORE_KEY="+storeKey, "PLANNR_MCP_PUBLIC_URL="+front.URL, "PLANNR_RATE_LIMIT=0")
	replicas := []*httpProcess{startHTTP(t, env, "--auth", "oauth", "--stateless"), startHTTP(t, env, "--auth", "oauth", "--stateless")}
	for _, r := range replicas {
		u, _ := url.Parse(strings.TrimSuffix(r.url, "/mcp"))
		rr.backends = append(rr.backends, u)
	}

	client := registerClient(t, front.URL)
	access, _ := client.signIn(sandbox.OwnerEmail)
	headers := map[string]string{"Authorization": "Bearer " + access, "Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "list_oauth_connections"}
	list := func(url string) error {
		resp, body, err := rawCall(url, rawList, headers)
		if err == nil && (resp.StatusCode != 200 || !strings.Contains(body, "Transact platform") || strings.Contains(body, `"isError":true`)) {
			err = &callError{status: resp.StatusCode, body: body}
		}
		return err
	}
	for range 6 {
		if err := list(front.URL + "/mcp"); err != nil {
			t.Fatalf("a call through the proxy: %v", err)
		}
	}
	for host, n := range rr.served {
		if n < 3 {
			t.Errorf("replica %s served %d of the calls, want them alternating", host, n)
		}
	}
	if len(rr.served) != 2 {
		t.Errorf("calls reached %d replicas, want 2", len(rr.served))
	}

	// Both replicas at once, on a freshly expired Plannr token, twice.
	for round := range 2 {
		before := fake.OAuthStats()
		time.Sleep(lifetime + 300*time.Millisecond)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			wg.Go(func() { errs <- list(replicas[i%2].url) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: a call during the refresh: %v", round, err)
			}
		}
		after := fake.OAuthStats()
		if got := after.Refreshes - before.Refreshes; got != 1 || after.RefreshRejected != 0 || after.RefreshReused != 0 {
			t.Fatalf("round %d: Plannr saw %d refreshes, %d refused, %d reused; want exactly 1 and none refused or reused", round, got, after.RefreshRejected, after.RefreshReused)
		}
	}

	// SIGKILL of a replica in the middle of a refresh: its request to
	// Plannr's token endpoint is held, the replica dies holding the
	// person's lock, and PostgreSQL releases the lock with its connection.
	time.Sleep(lifetime + 300*time.Millisecond)
	tokenRequests := fake.Count(http.MethodPost, "/oauth/token")
	fake.Inject(sandbox.Fault{Method: http.MethodPost, Path: "/oauth/token", Delay: 20 * time.Second})
	go func() { _, _, _ = rawCall(replicas[0].url, rawList, headers) }()
	deadline := time.Now().Add(10 * time.Second)
	for fake.Count(http.MethodPost, "/oauth/token") == tokenRequests {
		if time.Now().After(deadline) {
			t.Fatal("the first replica never asked Plannr for a refresh")
		}
		time.Sleep(10 * time.Millisecond)
	}
	replicas[0].kill(t)
	if err := list(replicas[1].url); err != nil {
		t.Fatalf("the surviving replica, after the other died mid-refresh: %v", err)
	}
	if s := fake.OAuthStats(); s.RefreshRejected != 0 || s.RefreshReused != 0 {
		t.Errorf("after the kill, Plannr refused %d refreshes (%d reused): the person was logged out", s.RefreshRejected, s.RefreshReused)
	}
	noSecretIn(t, "the replicas' stderr", replicas[0].stderr.String()+replicas[1].stderr.String(), append(client.issued, storeKey)...)
}

type callError struct {
	status int
	body   string
}

func (e *callError) Error() string { return http.StatusText(e.status) + ": " + e.body }
