//go:build unix

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plannr-mcp/plannr-mcp/plannr/plannrtest"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/plannr-mcp/plannr-mcp/internal/sandbox"
)

// slowList makes the fake's next list answer after delay.
func slowList(fake *sandbox.Server, delay time.Duration) {
	fake.Inject(sandbox.Fault{Method: http.MethodGet, Path: "/api/v1/oauth/connections", Delay: delay})
}

// waitForList waits until a list request has reached the fake.
func waitForList(t *testing.T, fake *sandbox.Server) {
	t.Helper()
	waitFor(t, "a list request reaching Plannr", func() bool { return fake.Count(http.MethodGet, "/api/v1/oauth/connections") > 0 })
}

// streamSignal reports each GET stream the server accepts.
type streamSignal struct {
	base   http.RoundTripper
	opened chan struct{}
}

func (s *streamSignal) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err == nil && r.Method == http.MethodGet && resp.StatusCode == http.StatusOK {
		s.opened <- struct{}{}
	}
	return resp, err
}

// SIGTERM during a slow upstream call: the listener closes at once, the
// call completes, and the process exits 0.
func TestHTTPShutdownOnSIGTERM(t *testing.T) {
	for _, version := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(version, func(t *testing.T) {
			fake, url := startFake(t)
			env := append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken, "PLANNR_MCP_AUTH_TOKENS="+clientToken)
			srv := startHTTP(t, env)
			streams := &streamSignal{base: plannrtest.Bearer{Token: clientToken}, opened: make(chan struct{}, 4)}
			session := connectHTTP(t, srv.url, streams, version)
			if version == "2025-11-25" {
				// The client opens its GET stream after initialize, in the
				// background: let it be open before the signal.
				select {
				case <-streams.opened:
				case <-time.After(30 * time.Second):
					t.Fatal("the client's GET stream did not open")
				}
			}
			slowList(fake, 4*time.Second)

			result := make(chan *sdk.CallToolResult, 1)
			failed := make(chan error, 1)
			go func() {
				res, err := session.CallTool(context.Background(), &sdk.CallToolParams{Name: "list_oauth_connections", Arguments: map[string]any{}})
				if err != nil {
					failed <- err
					return
				}
				result <- res
			}()
			waitForList(t, fake)
			if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}

			// New connections are refused while the call is still running.
			addr := strings.TrimSuffix(strings.TrimPrefix(srv.url, "http://"), "/mcp")
			for {
				conn, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					break
				}
				conn.Close()
				select {
				case <-result:
					t.Fatal("the call finished before the listener closed")
				case <-time.After(20 * time.Millisecond):
				}
			}
			select {
			case res := <-result:
				if res.IsError || !strings.Contains(resultText(res), "My Fundment Account 1") {
					t.Fatalf("the call in flight: %s", resultText(res))
				}
			case err := <-failed:
				t.Fatalf("the call in flight failed: %v\nstderr:\n%s", err, srv.stderr.String())
			case <-time.After(60 * time.Second):
				t.Fatal("the call in flight never completed")
			}
			if code := srv.stop(t); code != 0 {
				t.Fatalf("exit code %d, want 0; stderr:\n%s", code, srv.stderr.String())
			}
			if !strings.Contains(srv.stderr.String(), "waiting for calls in flight") {
				t.Errorf("stderr does not report the shutdown:\n%s", srv.stderr.String())
			}
		})
	}
}

// stdioProcess is the binary serving stdio, spoken to in raw JSON-RPC so
// that the test decides when stdin closes.
type stdioProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan map[string]any
	stderr *plannrtest.SyncBuffer
}

func startStdio(t *testing.T, env []string) *stdioProcess {
	t.Helper()
	p := &stdioProcess{cmd: exec.Command(binary(t)), stderr: &plannrtest.SyncBuffer{}, lines: make(chan map[string]any, 16)}
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var msg map[string]any
			if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
				msg = map[string]any{"not-json": sc.Text()}
			}
			p.lines <- msg
		}
	}()
	p.send(t, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	if msg := p.next(t); msg["id"] != float64(1) || msg["result"] == nil {
		t.Fatalf("initialize: %v", msg)
	}
	p.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return p
}

func (p *stdioProcess) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("writing to stdin: %v", err)
	}
}

// next returns the next message on stdout, or nil once stdout has closed.
func (p *stdioProcess) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case msg := <-p.lines:
		if _, bad := msg["not-json"]; bad {
			t.Fatalf("stdout carries something other than a protocol message: %v", msg)
		}
		return msg
	case <-time.After(60 * time.Second):
		t.Fatalf("no message on stdout within 60s; stderr:\n%s", p.stderr.String())
		return nil
	}
}

// Closing stdin, or SIGTERM, during a slow upstream call: the call
// completes, its answer is written, and the process exits 0. After SIGTERM
// no new request is taken.
func TestStdioShutdown(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, p *stdioProcess)
	}{
		{"stdin closes", func(t *testing.T, p *stdioProcess) { p.stdin.Close() }},
		{"SIGTERM", func(t *testing.T, p *stdioProcess) {
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// Give the signal time to land, then offer a request that
			// must not be taken.
			time.Sleep(200 * time.Millisecond)
			p.send(t, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, url := startFake(t)
			p := startStdio(t, append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken))
			slowList(fake, 2*time.Second)
			p.send(t, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_oauth_connections","arguments":{}}}`)
			waitForList(t, fake)
			tt.end(t, p)

			var answered bool
			for msg := p.next(t); msg != nil; msg = p.next(t) {
				switch msg["id"] {
				case float64(2):
					answered = true
					raw, _ := json.Marshal(msg)
					if msg["error"] != nil || !strings.Contains(string(raw), `"count":6`) || strings.Contains(string(raw), `"isError":true`) {
						t.Fatalf("the call in flight was answered with %s", raw)
					}
				case float64(3):
					t.Fatalf("a request sent after SIGTERM was taken: %v", msg)
				}
			}
			if !answered {
				t.Fatalf("the call in flight was never answered; stderr:\n%s", p.stderr.String())
			}
			err := p.cmd.Wait()
			if code := p.cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("exit code %d (%v), want 0; stderr:\n%s", code, err, p.stderr.String())
			}
			if !strings.Contains(p.stderr.String(), "waiting for requests in flight") {
				t.Errorf("stderr does not report the drain:\n%s", p.stderr.String())
			}
			if strings.Contains(p.stderr.String(), testToken) {
				t.Error("stderr contains the Plannr token")
			}
		})
	}
}

// A call that outlives --shutdown-timeout is cut off, and the exit code says so.
func TestStdioShutdownTimeout(t *testing.T) {
	fake, url := startFake(t)
	p := startStdio(t, append(baseEnv(t), "PLANNR_BASE_URL="+url, "PLANNR_TOKEN="+testToken, "PLANNR_MCP_SHUTDOWN_TIMEOUT=300ms"))
	slowList(fake, time.Minute)
	p.send(t, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_oauth_connections","arguments":{}}}`)
	waitForList(t, fake)
	p.stdin.Close()
	for msg := p.next(t); msg != nil; msg = p.next(t) {
	}
	_ = p.cmd.Wait()
	if code := p.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(p.stderr.String(), "cut off") {
		t.Fatalf("exit code %d, want 1 with a message; stderr:\n%s", code, p.stderr.String())
	}
}
