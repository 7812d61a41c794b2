//go:build linux

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// BenchmarkHTTPToolCalls measures tool calls over HTTP on loopback: the
// built binary, in its default stateful mode, serving the Go SDK client at
// 1, 8 and 64 concurrent sessions against the fake Plannr. Calls alternate
// between list_oauth_connections and rename_oauth_connection. Besides
// ns/op it reports calls/s, the p50 and p99 latency of one call, and the
// server process's peak resident memory (Linux only).
//
//	go test -run '^$' -bench HTTPToolCalls -benchtime 2000x -count 5 . | tee new.txt
//	benchstat old.txt new.txt
func BenchmarkHTTPToolCalls(b *testing.B) {
	if testing.Short() {
		b.Skip("builds the binary; skipped with -short")
	}
	bin, err := builtBinary()
	if err != nil {
		b.Fatalf("building plannr-mcp: %v", err)
	}
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		for _, sessions := range []int{1, 8, 64} {
			// One server for every round the benchmark runs at this size,
			// stopped when the whole benchmark ends.
			var bench *httpBench
			b.Cleanup(func() {
				if bench != nil {
					bench.close()
				}
			})
			b.Run(fmt.Sprintf("proto=%s/sessions=%d", version, sessions), func(b *testing.B) {
				if bench == nil {
					bench = startHTTPBench(b, bin, version, sessions)
				}
				bench.run(b)
			})
		}
	}
}

type httpBench struct {
	cmd       *exec.Cmd
	upstream  *httptest.Server
	transport *http.Transport
	sessions  []*sdk.ClientSession
	calls     atomic.Int64 // numbers the calls, for unique labels
}

func startHTTPBench(b *testing.B, bin, version string, sessions int) *httpBench {
	fake := sandbox.New(sandbox.WithTokens(testToken), sandbox.WithRateLimit(0))
	hb := &httpBench{upstream: httptest.NewServer(fake)}
	// The default log level: one line a call, as in production.
	hb.cmd = exec.Command(bin, "serve", "--transport", "http", "--addr", "127.0.0.1:0")
	hb.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + b.TempDir(),
		"PLANNR_BASE_URL=" + hb.upstream.URL,
		"PLANNR_TOKEN=" + testToken,
		"PLANNR_MCP_AUTH_TOKENS=" + clientToken,
		"PLANNR_RATE_LIMIT=0", // measure the server, not the client-side limit
	}
	stderr, err := hb.cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := hb.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		// Find the URL, then keep draining stderr so the server never
		// blocks on it.
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingURL.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-found:
	case <-time.After(30 * time.Second):
		hb.close()
		b.Fatal("the server did not log its URL within 30s")
	}

	hb.transport = &http.Transport{MaxIdleConnsPerHost: 4 * sessions, MaxIdleConns: 4 * sessions}
	for range sessions {
		session, err := tryConnectHTTP(url, plannrtest.Bearer{Token: clientToken, Base: hb.transport}, version, nil)
		if err != nil {
			hb.close()
			b.Fatalf("connecting: %v", err)
		}
		hb.sessions = append(hb.sessions, session)
	}
	return hb
}

func (hb *httpBench) close() {
	for _, s := range hb.sessions {
		_ = s.Close()
	}
	if hb.transport != nil {
		hb.transport.CloseIdleConnections()
	}
	_ = hb.cmd.Process.Signal(syscall.SIGTERM)
	_ = hb.cmd.Wait()
	hb.upstream.Close()
}

// call makes the next call of the alternating mix.
func (hb *httpBench) call(ctx context.Context, session *sdk.ClientSession) error {
	n := hb.calls.Add(1)
	params := &sdk.CallToolParams{Name: "list_oauth_connections", Arguments: map[string]any{}}
	if n%2 == 0 {
		params = &sdk.CallToolParams{Name: "rename_oauth_connection", Arguments: map[string]any{
			"uuid": "8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c", "label": "bench " + strconv.FormatInt(n, 10)}}
	}
	res, err := session.CallTool(ctx, params)
	if err != nil {
		return err
	}
	if res.IsError {
		return fmt.Errorf("%s answered with a tool error: %s", params.Name, resultText(res))
	}
	return nil
}

func (hb *httpBench) run(b *testing.B) {
	ctx := context.Background()
	var next atomic.Int64
	timed := make([]latencies, len(hb.sessions))
	errs := make(chan error, len(hb.sessions))
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i, session := range hb.sessions {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := hb.call(ctx, session); err != nil {
					errs <- err
					return
				}
				timed[i] = append(timed[i], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}

	all := slices.Concat(timed...)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(millis(all.percentile(50)), "p50-ms")
	b.ReportMetric(millis(all.percentile(99)), "p99-ms")
	if peak, err := vmHWM(hb.cmd.Process.Pid); err == nil {
		b.ReportMetric(mebibytes(peak), "peak-RSS-MiB")
	}
}
