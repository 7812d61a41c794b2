//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plannr-mcp/plannr-mcp/auth"
	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
	"github.com/plannr-mcp/plannr-mcp/internal/untrusted"
	"github.com/plannr-mcp/plannr-mcp/plannr"
	"github.com/plannr-mcp/plannr-mcp/tools"
)

// The benchmark suite. Every benchmark here runs its own fixed number of
// spawns or calls, so run it with -benchtime 1x; each line it prints is one
// row of the README's table, in units benchstat understands:
//
//	go test -run '^$' -bench 'ColdStart|StdioCall|HTTPCall|RateLimiter|ListSize|InProcessCall|ResultEncoding' -benchtime 1x . ./plannr
//
// Everything runs on loopback against the fake Plannr, served by this
// process.

const (
	coldStarts  = 30   // spawns for the cold-start figures
	stdioCalls  = 2000 // timed sequential calls per tool over stdio
	stdioWarmup = 100  // untimed calls first: connections, caches
	benchConns  = 10   // connections the fake serves for per-call figures
	idleRuns    = 7    // handshake-only runs for the idle CPU baseline
)

// serverFlags are the server's flags in every benchmark. The client-side
// rate limiter protects Plannr, not the benchmark: at its default of 500
// requests a minute it would time the limiter's waits, so it is off here
// (BenchmarkRateLimiter measures it on), as is the list cache, which would
// answer lists without asking the fake.
func serverFlags() []string {
	return []string{"serve", "--rate-limit", "0", "--list-cache-ttl", "0", "--enable-delete"}
}

// benchUpstream serves the fake Plannr and can swap in a fresh one, so that
// delete can be timed again and again on the same connections.
type benchUpstream struct {
	records []sandbox.Record
	current atomic.Pointer[sandbox.Server]
}

func (u *benchUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.current.Load().ServeHTTP(w, r)
}

// reset replaces the fake with one holding the original connections.
func (u *benchUpstream) reset() {
	u.current.Store(sandbox.New(
		sandbox.WithTokens(testToken),
		sandbox.WithRateLimit(0), // the fake's own 429s are not under test
		sandbox.WithConnections(u.records),
	))
}

func (u *benchUpstream) fake() *sandbox.Server { return u.current.Load() }

// startUpstream serves a fake Plannr with n connections on loopback.
func startUpstream(b *testing.B, n int) (*benchUpstream, string) {
	b.Helper()
	u := &benchUpstream{records: benchRecords(n, time.Now())}
	u.reset()
	srv := httptest.NewServer(u)
	b.Cleanup(srv.Close)
	return u, srv.URL
}

// benchEnv is the server's environment: a token and the fake's URL, nothing
// from the developer's own configuration. PLANNR_BENCH_SERVER_ENV adds
// settings, space-separated, to measure what they cost, such as
// "PLANNR_MCP_METRICS_ADDR=127.0.0.1:0" or an OTEL_EXPORTER_OTLP_ENDPOINT.
func benchEnv(b *testing.B, url string) []string {
	return append([]string{
		"PATH=/usr/bin:/bin",
		"HOME=" + b.TempDir(),
		"XDG_CONFIG_HOME=" + b.TempDir(),
		"PLANNR_BASE_URL=" + url,
		"PLANNR_TOKEN=" + testToken,
	}, strings.Fields(os.Getenv("PLANNR_BENCH_SERVER_ENV"))...)
}

// BenchmarkColdStart spawns the built binary as an MCP client does and times
// the spawn to the initialize response, and to the first tools/list
// response. It also reports the CPU time of a start, the peak resident
// memory of the idle server, and the spawn of plannr-mcp version to its
// exit, which is the part of a start that no wiring of ours is in.
func BenchmarkColdStart(b *testing.B) {
	bin := binary(b)
	up, url := startUpstream(b, benchConns)
	env := benchEnv(b, url)
	b.Logf("every server in this suite runs with: %s (the client-side rate limiter and the list cache protect Plannr, not the benchmark, so they are off)", strings.Join(serverFlags(), " "))
	var toInit, toList latencies
	var peak int64
	var cpu time.Duration
	for range b.N {
		for range coldStarts {
			start := time.Now()
			p, err := startInitialized(bin, env, serverFlags()...)
			if err != nil {
				b.Fatal(err)
			}
			toInit = append(toInit, time.Since(start))
			if err := p.listTools(); err != nil {
				p.kill()
				b.Fatal(err)
			}
			toList = append(toList, time.Since(start))
			rss, err := p.peakRSS()
			if err != nil {
				p.kill()
				b.Fatal(err)
			}
			peak = max(peak, rss)
			used, err := p.stop()
			if err != nil {
				b.Fatal(err)
			}
			cpu += used
		}
	}
	if n := len(up.fake().Requests()); n != 0 {
		b.Fatalf("starting the server sent %d requests to Plannr; want none", n)
	}
	// The same binary printing its version and exiting: the start of the
	// process and its packages' initialization alone, before any wiring.
	var version latencies
	for range coldStarts {
		cmd := exec.Command(bin, "version")
		cmd.Env = env
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		version = append(version, time.Since(start))
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(millis(version.percentile(50)), "ms/version-p50")
	b.ReportMetric(millis(toInit.percentile(50)), "ms/init-p50")
	b.ReportMetric(millis(toInit.percentile(90)), "ms/init-p90")
	b.ReportMetric(millis(toList.percentile(50)), "ms/list-p50")
	b.ReportMetric(millis(toList.percentile(90)), "ms/list-p90")
	b.ReportMetric(millis(cpu)/float64(len(toInit)), "ms-cpu/start")
	b.ReportMetric(mebibytes(peak), "MiB-peak-idle")
}

// toolCall is one tool of the per-call benchmark: its tools/call message,
// and the upstream requests the tool makes, to be made directly.
type toolCall struct {
	name     string
	message  func(id int) []byte
	upstream func(ctx context.Context, url string, i int) []*http.Request
	// resets is true when each call changes the fake for good (delete), so
	// that it is reset after each call.
	resets bool
}

// benchToolCalls are the tools the per-call benchmark times, each called as
// a model does by default. rename alternates between two labels so that
// every call changes something; delete confirms with the label, as a
// client that cannot elicit does.
func benchToolCalls(conn sandbox.Record) []toolCall {
	label := func(i int) string { return fmt.Sprintf("Bench label %d", i%2) }
	get := func(ctx context.Context, url string) *http.Request {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		return req
	}
	call := func(id int, tool, args string) []byte {
		return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`+"\n", id, tool, args)
	}
	return []toolCall{
		{
			name:    "list_oauth_connections",
			message: func(id int) []byte { return call(id, "list_oauth_connections", `{}`) },
			upstream: func(ctx context.Context, url string, _ int) []*http.Request {
				return []*http.Request{get(ctx, url+"/api/v1/oauth/connections")}
			},
		},
		{
			name: "rename_oauth_connection",
			message: func(id int) []byte {
				return call(id, "rename_oauth_connection", fmt.Sprintf(`{"uuid":%q,"label":%q}`, conn.UUID, label(id)))
			},
			upstream: func(ctx context.Context, url string, i int) []*http.Request {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url+"/api/v1/oauth/connections/"+conn.UUID,
					strings.NewReader(fmt.Sprintf(`{"label":%q}`, label(i))))
				return []*http.Request{req}
			},
		},
		{
			name:    "list_plannr_accounts",
			message: func(id int) []byte { return call(id, "list_plannr_accounts", `{}`) },
			upstream: func(ctx context.Context, url string, _ int) []*http.Request {
				return []*http.Request{get(ctx, url+"/api/v1/logins")}
			},
		},
		{
			name: "delete_oauth_connection",
			message: func(id int) []byte {
				return call(id, "delete_oauth_connection", fmt.Sprintf(`{"uuid":%q,"confirm_label":%q}`, conn.UUID, conn.Label))
			},
			upstream: func(ctx context.Context, url string, _ int) []*http.Request {
				del, _ := http.NewRequestWithContext(ctx, http.MethodDelete, url+"/api/v1/oauth/connections/"+conn.UUID, nil)
				return []*http.Request{get(ctx, url+"/api/v1/oauth/connections"), del}
			},
			resets: true,
		},
	}
}

// directCall makes a tool's upstream requests with net/http, on the same
// keep-alive transport the server uses, and reads every answer in full.
func directCall(ctx context.Context, client *http.Client, tc toolCall, url string, i int) error {
	for _, req := range tc.upstream(ctx, url, i) {
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "plannr-mcp/bench")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
		}
	}
	return nil
}

// idleCPU is the CPU time of a server that starts, answers the handshake
// and exits: the part of a run's CPU time that is not the calls.
func idleCPU(b *testing.B, bin string, env []string, args ...string) time.Duration {
	b.Helper()
	var runs latencies
	for range idleRuns {
		p, err := startRPC(bin, env, args...)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.handshake(); err != nil {
			p.kill()
			b.Fatal(err)
		}
		cpu, err := p.stop()
		if err != nil {
			b.Fatal(err)
		}
		runs = append(runs, cpu)
	}
	return runs.percentile(50)
}

// BenchmarkStdioCall times sequential tool calls over stdio, each tool's
// upstream requests made directly with net/http, and the ratio of the two
// at the median: what MCP adds to the call. The server's CPU time per call
// is its user plus system time over the run, less that of an idle run.
func BenchmarkStdioCall(b *testing.B) {
	bin := binary(b)
	up, url := startUpstream(b, benchConns)
	env := benchEnv(b, url)
	idle := idleCPU(b, bin, env, serverFlags()...)
	direct := &http.Client{Transport: plannr.NewTransport()}
	b.Cleanup(direct.CloseIdleConnections)
	ctx := context.Background()

	for _, tc := range benchToolCalls(up.records[0]) {
		b.Run(tc.name, func(b *testing.B) {
			up.reset()
			var viaMCP, viaHTTP latencies
			var cpu time.Duration
			var peak int64
			calls := 0
			for range b.N {
				p, err := startRPC(bin, env, serverFlags()...)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.handshake(); err != nil {
					p.kill()
					b.Fatal(err)
				}
				id := 100
				mcpCall := func() (time.Duration, error) {
					id++
					start := time.Now()
					resp, err := p.roundTrip(tc.message(id))
					elapsed := time.Since(start)
					if tc.resets {
						up.reset()
					}
					if err != nil {
						return 0, err
					}
					if bytes.Contains(resp, []byte(`"isError":true`)) || !bytes.Contains(resp, []byte(`"structuredContent"`)) {
						return 0, fmt.Errorf("%s failed: %s", tc.name, resp)
					}
					return elapsed, nil
				}
				directCallTimed := func(i int) (time.Duration, error) {
					start := time.Now()
					err := directCall(ctx, direct, tc, url, i)
					elapsed := time.Since(start)
					if tc.resets {
						up.reset()
					}
					return elapsed, err
				}
				fail := func(err error) {
					p.kill()
					b.Fatal(err)
				}
				for i := range stdioWarmup {
					if _, err := mcpCall(); err != nil {
						fail(err)
					}
					if _, err := directCallTimed(i); err != nil {
						fail(err)
					}
				}
				// Interleave the two in short blocks so that both see the
				// same load on a shared machine.
				const block = 50
				for i := 0; i < stdioCalls; i += block {
					for range block {
						d, err := mcpCall()
						if err != nil {
							fail(err)
						}
						viaMCP = append(viaMCP, d)
					}
					for j := range block {
						d, err := directCallTimed(i + j)
						if err != nil {
							fail(err)
						}
						viaHTTP = append(viaHTTP, d)
					}
				}
				rss, err := p.peakRSS()
				if err != nil {
					fail(err)
				}
				peak = max(peak, rss)
				used, err := p.stop()
				if err != nil {
					b.Fatal(err)
				}
				cpu += used - idle
				calls += stdioWarmup + stdioCalls
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(micros(viaMCP.percentile(50)), "us/call-p50")
			b.ReportMetric(micros(viaMCP.percentile(99)), "us/call-p99")
			b.ReportMetric(float64(len(viaMCP))/viaMCP.sum().Seconds(), "calls/s")
			b.ReportMetric(micros(cpu)/float64(calls), "us-cpu/call")
			b.ReportMetric(micros(viaHTTP.percentile(50)), "us/direct-p50")
			b.ReportMetric(micros(viaHTTP.percentile(99)), "us/direct-p99")
			b.ReportMetric(float64(viaMCP.percentile(50))/float64(viaHTTP.percentile(50)), "x-direct-p50")
			b.ReportMetric(mebibytes(peak), "MiB-peak")
		})
	}
}

// inProcessServer wires the MCP server as the binary does with
// serverFlags, against url, in this process: for profiles of the per-call
// path and for the size figures.
func inProcessServer(b *testing.B, url string) *server.MCPServer {
	b.Helper()
	client, err := plannr.NewClient(auth.PersonalAccessToken(testToken),
		plannr.WithBaseURL(url), plannr.WithRateLimit(plannr.RateLimit{}), plannr.WithSecrets(untrusted.NewSecrets()))
	if err != nil {
		b.Fatal(err)
	}
	toolset := tools.NewToolset(client, tools.Options{EnableDelete: true, Logger: slog.New(slog.DiscardHandler)})
	return toolset.NewServer(tools.ServerConfig{Version: "bench"})
}

// BenchmarkInProcessCall serves tools/call messages with the MCP server's
// HandleMessage and encodes each response as the stdio transport does,
// without a process boundary: the per-call path to profile with
// -cpuprofile and -memprofile. The server's work is labelled side=server,
// so that pprof -tagfocus=side=server sets the in-process fake aside.
func BenchmarkInProcessCall(b *testing.B) {
	up, url := startUpstream(b, benchConns)
	mcpServer := inProcessServer(b, url)
	const calls = 5000
	for _, tc := range benchToolCalls(up.records[0]) {
		b.Run(tc.name, func(b *testing.B) {
			up.reset()
			var before, after runtime.MemStats
			var elapsed time.Duration
			for range b.N {
				runtime.GC()
				runtime.ReadMemStats(&before)
				start := time.Now()
				pprof.Do(context.Background(), pprof.Labels("side", "server"), func(ctx context.Context) {
					for i := range calls {
						msg := tc.message(i)
						out, err := json.Marshal(mcpServer.HandleMessage(ctx, msg[:len(msg)-1]))
						if tc.resets {
							up.reset()
						}
						if err != nil || bytes.Contains(out, []byte(`"isError":true`)) {
							b.Fatalf("%s: %v %s", tc.name, err, out)
						}
					}
				})
				elapsed += time.Since(start)
				runtime.ReadMemStats(&after)
			}
			n := float64(b.N * calls)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(micros(elapsed)/n, "us/call")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/call")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/call")
		})
	}
}

// BenchmarkListSize reports the size of a default list call's text and
// structured result with 10, 100 and 1,000 connections: what a model reads
// and what a client parses.
func BenchmarkListSize(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			up, url := startUpstream(b, n)
			mcpServer := inProcessServer(b, url)
			msg := benchToolCalls(up.records[0])[0].message(1)
			var text, structured, whole int
			for range b.N {
				resp, ok := mcpServer.HandleMessage(context.Background(), msg[:len(msg)-1]).(mcp.JSONRPCResponse)
				if !ok {
					b.Fatalf("list answered %#v", resp)
				}
				res, ok := resp.Result.(*mcp.CallToolResult)
				if !ok || res.IsError || len(res.Content) != 1 {
					b.Fatalf("list answered %#v", resp.Result)
				}
				tc, ok := res.Content[0].(mcp.TextContent)
				if !ok {
					b.Fatalf("list content is %T, not text", res.Content[0])
				}
				sc, err := json.Marshal(res.StructuredContent)
				if err != nil {
					b.Fatal(err)
				}
				all, err := json.Marshal(resp)
				if err != nil {
					b.Fatal(err)
				}
				text, structured, whole = len(tc.Text), len(sc), len(all)
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(text), "bytes-text")
			b.ReportMetric(float64(structured), "bytes-structured")
			b.ReportMetric(float64(whole), "bytes-response")
		})
	}
}

// httpCalls is how many timed calls each HTTP run makes, by sessions.
func httpCalls(sessions int) int { return max(3000, 100*sessions) }

// httpSession is one MCP session over streamable HTTP, driven with raw
// JSON-RPC POSTs.
type httpSession struct {
	client *http.Client
	url    string
	id     string // Mcp-Session-Id
	token  string // the bearer token: clientToken, or an OAuth access token
}

// openWarmSessions opens n sessions with a bearer token and sends each
// msg a few times, so that connections and caches are warm.
func openWarmSessions(b *testing.B, ctx context.Context, client *http.Client, url, token string, n int, msg []byte) []*httpSession {
	b.Helper()
	sessions := make([]*httpSession, n)
	for i := range sessions {
		s, err := openHTTPSessionAs(ctx, client, url, token)
		if err != nil {
			b.Fatal(err)
		}
		for range 5 {
			if err := s.call(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
		sessions[i] = s
	}
	return sessions
}

// openHTTPSessionAs initializes a session with a bearer token.
func openHTTPSessionAs(ctx context.Context, client *http.Client, url, token string) (*httpSession, error) {
	s := &httpSession{client: client, url: url, token: token}
	resp, body, err := s.post(ctx, msgInitialize)
	if err != nil {
		return nil, err
	}
	if s.id = resp.Header.Get("Mcp-Session-Id"); s.id == "" || !bytes.Contains(body, []byte(`"serverInfo"`)) {
		return nil, fmt.Errorf("initialize over HTTP answered %s: %s", resp.Status, body)
	}
	if resp, body, err = s.post(ctx, msgInitialized); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("notifications/initialized answered %s: %s", resp.Status, body)
	}
	return s, nil
}

// post sends one message and reads the whole answer, JSON or an event stream.
func (s *httpSession) post(ctx context.Context, msg []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(bytes.TrimSuffix(msg, []byte("\n"))))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if s.id != "" {
		req.Header.Set("Mcp-Session-Id", s.id)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// call makes one tool call and checks that it succeeded.
func (s *httpSession) call(ctx context.Context, msg []byte) error {
	resp, body, err := s.post(ctx, msg)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"isError":true`)) || !bytes.Contains(body, []byte(`"structuredContent"`)) {
		return fmt.Errorf("tools/call over HTTP answered %s: %.300s", resp.Status, body)
	}
	return nil
}

// BenchmarkHTTPCall serves list calls over streamable HTTP to 1, 8 and 64
// concurrent sessions, each calling as fast as it is answered, with a lean
// client (raw JSON-RPC on net/http); each run has a server process of its
// own. It reports calls/s, p50 and p99, the server's CPU time per call
// (from /proc/PID/stat over the run), and its peak resident memory idle,
// before any session, and after the run.
func BenchmarkHTTPCall(b *testing.B) {
	up, url := startUpstream(b, benchConns)
	env := append(benchEnv(b, url), "PLANNR_MCP_AUTH_TOKENS="+clientToken)
	transport := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	b.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}
	ctx := context.Background()
	msg := benchToolCalls(up.records[0])[0].message(2)

	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			srv := startHTTP(b, env, serverFlags()[1:]...)
			b.Cleanup(transport.CloseIdleConnections)
			pid := srv.cmd.Process.Pid
			idle, err := vmHWM(pid)
			if err != nil {
				b.Fatal(err)
			}
			sessions := openWarmSessions(b, ctx, client, srv.url, clientToken, n, msg)
			measureHTTPCalls(b, pid, idle, sessions, msg)
		})
	}
	// The same list request made directly to the fake by 64 clients at
	// once: the most this machine serves of the upstream call alone, with
	// the fake and the clients sharing it as in the runs above.
	b.Run("direct/sessions=64", func(b *testing.B) {
		direct := &http.Client{Transport: plannr.NewTransport()}
		defer direct.CloseIdleConnections()
		list := benchToolCalls(up.records[0])[0]
		all, elapsed := callConcurrently(b, 64, httpCalls(64)*b.N, func(int) error { return directCall(ctx, direct, list, url, 0) })
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "calls/s")
		b.ReportMetric(micros(all.percentile(50)), "us/call-p50")
		b.ReportMetric(micros(all.percentile(99)), "us/call-p99")
	})
}

// measureHTTPCalls times list calls on sessions of the server process pid
// and reports calls/s, p50 and p99, the server's CPU time per call and its
// peak resident memory (idle is the peak before any session).
func measureHTTPCalls(b *testing.B, pid int, idle int64, sessions []*httpSession, msg []byte) (callsPerSecond, cpuPerCall float64) {
	ctx := context.Background()
	cpu0, err := procCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	all, elapsed := callConcurrently(b, len(sessions), httpCalls(len(sessions))*b.N, func(i int) error { return sessions[i].call(ctx, msg) })
	cpu1, err := procCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	peak, err := vmHWM(pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "calls/s")
	b.ReportMetric(micros(all.percentile(50)), "us/call-p50")
	b.ReportMetric(micros(all.percentile(99)), "us/call-p99")
	b.ReportMetric(micros(cpu1-cpu0)/float64(len(all)), "us-cpu/call")
	b.ReportMetric(mebibytes(peak), "MiB-peak")
	b.ReportMetric(mebibytes(idle), "MiB-peak-idle")
	return float64(len(all)) / elapsed.Seconds(), micros(cpu1-cpu0) / float64(len(all))
}

// callConcurrently makes total calls from n goroutines, each calling as
// soon as its last call is answered, and returns every call's latency and
// the time the whole run took.
func callConcurrently(b *testing.B, n, total int, call func(i int) error) (latencies, time.Duration) {
	b.Helper()
	perCaller := make([]latencies, n)
	errs := make(chan error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			for next.Add(1) <= int64(total) {
				t0 := time.Now()
				if err := call(i); err != nil {
					errs <- err
					return
				}
				perCaller[i] = append(perCaller[i], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return latencies(slices.Concat(perCaller...)), elapsed
}

// BenchmarkStdioRateLimiter puts a number on the client-side rate limiter
// when it is on but not binding: two servers, one with it off (as in the
// rest of the suite) and one allowing a million requests a minute, take
// list calls in alternating blocks, so that both see the same load. It
// reports each one's CPU time per call and median latency, and the
// difference in CPU time. (plannr's BenchmarkRateLimiter times the limiter
// alone.)
func BenchmarkStdioRateLimiter(b *testing.B) {
	bin := binary(b)
	up, url := startUpstream(b, benchConns)
	env := benchEnv(b, url)
	modes := []struct {
		name string
		args []string
	}{
		{"off", serverFlags()},
		{"on", append(serverFlags(), "--rate-limit", "1000000")},
	}
	msg := benchToolCalls(up.records[0])[0].message
	var lat [2]latencies
	var cpu, idle [2]time.Duration
	for i, m := range modes {
		idle[i] = idleCPU(b, bin, env, m.args...)
	}
	calls := 0
	for range b.N {
		var procs [2]*rpcProc
		for i, m := range modes {
			p, err := startRPC(bin, env, m.args...)
			if err == nil {
				err = p.handshake()
			}
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(p.kill)
			cpu[i] -= idle[i]
			procs[i] = p
		}
		const block = 100
		for round := range stdioCalls / block {
			for i, p := range procs {
				for j := range block {
					start := time.Now()
					resp, err := p.roundTrip(msg(round*block + j))
					if err != nil || bytes.Contains(resp, []byte(`"isError":true`)) {
						b.Fatalf("rate limiter %s: %v %.300s", modes[i].name, err, resp)
					}
					lat[i] = append(lat[i], time.Since(start))
				}
			}
		}
		for i, p := range procs {
			used, err := p.stop()
			if err != nil {
				b.Fatal(err)
			}
			cpu[i] += used
		}
		calls += stdioCalls
	}
	b.ReportMetric(0, "ns/op")
	for i, m := range modes {
		b.ReportMetric(micros(cpu[i])/float64(calls), "us-cpu/call-"+m.name)
		b.ReportMetric(micros(lat[i].percentile(50)), "us/call-p50-"+m.name)
	}
	b.ReportMetric(micros(cpu[1]-cpu[0])/float64(calls), "us-cpu/call-on-minus-off")
}

// plainToolResult encodes a tool result as mcp.CallToolResult does for the
// fields a tool of this server sets, with struct tags in place of
// CallToolResult's MarshalJSON, which builds a map and marshals it, after
// which encoding/json scans the bytes again to compact them.
// Its fields are in the order of the map's sorted keys.
type plainToolResult struct {
	Meta              *mcp.Meta     `json:"_meta,omitempty"`
	Content           []mcp.Content `json:"content"`
	IsError           bool          `json:"isError,omitempty"`
	StructuredContent any           `json:"structuredContent,omitempty"`
}

// BenchmarkResultEncoding measures the encoding of a 10-connection list
// result, the largest single cost of a call inside mcp-go: as mcp-go
// encodes it, and as a plain struct encodes the same bytes.
func BenchmarkResultEncoding(b *testing.B) {
	up, url := startUpstream(b, benchConns)
	mcpServer := inProcessServer(b, url)
	msg := benchToolCalls(up.records[0])[0].message(1)
	resp, ok := mcpServer.HandleMessage(context.Background(), msg[:len(msg)-1]).(mcp.JSONRPCResponse)
	if !ok {
		b.Fatalf("list answered %#v", resp)
	}
	res := resp.Result.(*mcp.CallToolResult)
	plain := mcp.JSONRPCResponse{JSONRPC: resp.JSONRPC, ID: resp.ID,
		Result: plainToolResult{Meta: res.Meta, Content: res.Content, IsError: res.IsError, StructuredContent: res.StructuredContent}}
	viaMCP, err := json.Marshal(resp)
	if err != nil {
		b.Fatal(err)
	}
	viaPlain, err := json.Marshal(plain)
	if err != nil {
		b.Fatal(err)
	}
	if !bytes.Equal(viaMCP, viaPlain) {
		b.Fatalf("the plain encoding differs:\n%s\n%s", viaMCP, viaPlain)
	}
	const encodings = 20_000
	encode := func(v any) float64 {
		start := time.Now()
		for range b.N * encodings {
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
		return micros(time.Since(start)) / float64(b.N*encodings)
	}
	mcpGo, plainStruct := encode(resp), encode(plain)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(len(viaMCP)), "bytes")
	b.ReportMetric(mcpGo, "us/encode-mcp-go")
	b.ReportMetric(plainStruct, "us/encode-plain")
}
