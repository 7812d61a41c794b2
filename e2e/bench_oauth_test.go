//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"
)

// BenchmarkHTTPCallOAuth is BenchmarkHTTPCall with --auth oauth beside
// --auth tokens, at 1 and 64 sessions, each run a server process of its
// own against the same connections: in oauth mode every call's access
// token is checked in the SQLite store and the call acts with the
// person's own Plannr login. The oauth runs also report their calls/s as
// a percentage of the tokens run just before (pct-of-tokens).
func BenchmarkHTTPCallOAuth(b *testing.B) {
	up, url := startUpstream(b, benchConns)
	port := plannrtest.FreePort(b)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	fake := sandbox.New(sandbox.WithRateLimit(0), sandbox.WithConnections(up.records),
		sandbox.WithOAuthClient(sandbox.DemoClient(base+"/oauth/plannr/callback")), sandbox.WithLoginPage())
	oauthUp := httptest.NewServer(fake)
	b.Cleanup(oauthUp.Close)
	tokensEnv := append(benchEnv(b, url), "PLANNR_MCP_AUTH_TOKENS="+clientToken)
	oauthEnv := append(benchEnv(b, oauthUp.URL), "PLANNR_CLIENT_ID="+sandbox.DemoClientID, "PLANNR_CLIENT_SECRET="+sandbox.DemoClientSecret,
		"PLANNR_MCP_STORE="+filepath.Join(b.TempDir(), "store.db"), "PLANNR_MCP_STORE_KEY="+storeKey)
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	b.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}
	ctx := context.Background()
	msg := benchToolCalls(up.records[0])[0].message(2)

	for _, n := range []int{1, 64} {
		var tokensRate float64
		for _, mode := range []string{authTokens, authOAuth} {
			b.Run(fmt.Sprintf("auth=%s/sessions=%d", mode, n), func(b *testing.B) {
				var srv *httpProcess
				token := clientToken
				if mode == authTokens {
					srv = startHTTP(b, tokensEnv, serverFlags()[1:]...)
				} else {
					srv = startHTTP(b, oauthEnv, append(serverFlags()[1:], "--auth", "oauth", "--addr", fmt.Sprintf("127.0.0.1:%d", port))...)
					token, _ = registerClient(b, base).signIn(sandbox.OwnerEmail)
				}
				b.Cleanup(transport.CloseIdleConnections)
				pid := srv.cmd.Process.Pid
				idle, err := vmHWM(pid)
				if err != nil {
					b.Fatal(err)
				}
				sessions := openWarmSessions(b, ctx, client, srv.url, token, n, msg)
				rate, _ := measureHTTPCalls(b, pid, idle, sessions, msg)
				if mode == authTokens {
					tokensRate = rate
				} else if tokensRate > 0 {
					b.ReportMetric(100*rate/tokensRate, "pct-of-tokens")
				}
			})
		}
	}
}

// The modes BenchmarkHTTPCallOAuth compares.
const (
	authTokens = "tokens"
	authOAuth  = "oauth"
)
